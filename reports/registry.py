"""Formatter plugins, found through the `gitops_posture.formatters` entry-point group.

Each entry point names an object that implements `reports.interface.Formatter` (usually a module)."""
from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading

from reports.interface import Formatter, RenderOptions, StreamingFormatter
from scanner.engine.plugins import entry_points
from scanner.engine.report_model import Report

GROUP = "gitops_posture.formatters"
# Names users type that map onto a formatter (e.g. `--format md`).
ALIASES = {"md": "markdown", "xml": "junit", "prom": "prometheus", "openmetrics": "prometheus"}


def formatters() -> dict:
    found = {}
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep
    return found


def load(name: str) -> Formatter:
    """The formatter for a format name (aliases accepted); KeyError when none is registered,
    TypeError when the entry point does not implement the Formatter protocol."""
    name = ALIASES.get(name, name)
    eps = formatters()
    if name not in eps:
        raise KeyError(name)
    target = eps[name].load()
    if not isinstance(target, Formatter):
        raise TypeError(f"formatter {name!r} ({eps[name].value}) does not implement reports.interface.Formatter "
                        "(FILENAME and render(report, options))")
    return target


def atomic_write(path: str, text: str) -> None:
    """Write via a temp file in the same directory and rename, so readers never see half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".posture-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _temp_in(directory: str) -> tuple[int, str]:
    os.makedirs(directory, exist_ok=True)
    return tempfile.mkstemp(prefix=".posture-", suffix=".tmp", dir=directory)


def temp_beside(path: str) -> str:
    """A new empty temp file in `path`'s directory (created now, so its name is known and reserved)."""
    fd, tmp = _temp_in(os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    return tmp


def stage(path: str, formatter: Formatter, report: Report, options: RenderOptions) -> tuple[str, str]:
    """Render one format into a temp file beside `path`; (temp path, path) for `commit_staged`.

    A StreamingFormatter writes into the file (the large formats never hold their whole text in
    memory); otherwise `render`'s text is written."""
    fd, tmp = _temp_in(os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if isinstance(formatter, StreamingFormatter):
                formatter.write(report, options, fh)
            else:
                fh.write(formatter.render(report, options))
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        discard_staged([(tmp, path)])
        raise
    return tmp, path


def commit_staged(staged: list[tuple[str, str]]) -> list[str]:
    """Move staged files into place (each rename atomic); the final paths, in order."""
    written = []
    for tmp, path in staged:
        place(tmp, path)
        written.append(path)
    return written


def place(tmp: str, path: str) -> None:
    os.replace(tmp, path)


def discard_staged(staged: list[tuple[str, str]]) -> None:
    for tmp, _ in staged:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def write_reports(report: Report, formats: list[str], output_dir: str,
                  options: RenderOptions | None = None) -> list[str]:
    """Render every format into a temp file beside its target, then move them all into place: an
    error in one format leaves no partial set behind. Ctrl-C during the renames is held back until
    the set is complete, then re-raised (the CLI exits 130)."""
    options = options or RenderOptions()
    staged: list[tuple[str, str]] = []
    try:
        for fmt in formats:
            formatter = load(fmt)
            staged.append(stage(os.path.join(output_dir, formatter.FILENAME), formatter, report, options))
        with _sigint_deferred():
            return commit_staged(staged)
    except BaseException:
        discard_staged(staged)
        raise


@contextlib.contextmanager
def _sigint_deferred():
    """Hold SIGINT back for the duration of the block (main thread only), then raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    except (ValueError, OSError):  # not allowed here (embedded interpreters)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if got:
        raise KeyboardInterrupt
