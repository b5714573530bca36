"""Formatter plugins, found through the `gitops_posture.formatters` entry-point group.

Each entry point names an object that implements `reports.interface.Formatter` (usually a module)."""
from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading

from reports.interface import Formatter, RenderOptions, StreamingFormatter
from scanner.core.atomicfile import write_atomic
from scanner.engine.plugins import entry_points
from scanner.engine.report_model import Report

GROUP = "gitops_posture.formatters"
# Names users type that map onto a formatter (e.g. `--format md`).
ALIASES = {"md": "markdown", "xml": "junit", "prom": "prometheus", "openmetrics": "prometheus"}
# Temp files beside the outputs: never a report's name, so a reader cannot pick up half a file.
TEMP_PREFIX, TEMP_SUFFIX = ".posture-", ".tmp"


def formatters() -> dict:
    found = {}
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep
    return found


def load(name: str, registered: dict | None = None) -> Formatter:
    """The formatter for a format name (aliases accepted); KeyError when none is registered,
    TypeError when the entry point does not implement the Formatter protocol. `registered`: what
    `formatters()` returned, for a caller loading several (it reads every distribution's metadata)."""
    name = ALIASES.get(name, name)
    eps = formatters() if registered is None else registered
    if name not in eps:
        raise KeyError(name)
    target = eps[name].load()
    if not isinstance(target, Formatter):
        raise TypeError(f"formatter {name!r} ({eps[name].value}) does not implement reports.interface.Formatter "
                        "(FILENAME and render(report, options))")
    return target


def _write(formatter: Formatter, report: Report, options: RenderOptions, fh) -> None:
    """A StreamingFormatter writes into `fh` (the large formats never hold their whole text in
    memory); otherwise `render`'s text is written."""
    if isinstance(formatter, StreamingFormatter):
        formatter.write(report, options, fh)
    else:
        fh.write(formatter.render(report, options))


def atomic_write(path: str, text: str) -> None:
    """Write via a temp file in the same directory and rename, so readers never see half a file
    (named like the report writers' temp files, fsynced: the file is the user's)."""
    write_atomic(path, text.encode("utf-8"), durable=True, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)


def _temp_in(directory: str) -> tuple[int, str]:
    os.makedirs(directory, exist_ok=True)
    return tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=directory)


def temp_beside(path: str) -> str:
    """A new empty temp file in `path`'s directory (created now, so its name is known and reserved)."""
    fd, tmp = _temp_in(os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    return tmp


def _report_mode() -> int:
    """Reports are ordinary files: the mode the user's umask gives (mkstemp makes them 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def stage(path: str, formatter: Formatter, report: Report, options: RenderOptions,
          created: list | None = None) -> tuple[str, str]:
    """Render one format into a temp file beside `path`; (temp path, path) for `commit_staged`. The
    temp file is added to `created` the moment it exists (with signals held), so an interrupt never
    loses track of it."""
    with _signals_held():
        fd, tmp = _temp_in(os.path.dirname(os.path.abspath(path)))
        if created is not None:
            created.append((tmp, path))
    try:
        os.fchmod(fd, _report_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            _write(formatter, report, options, fh)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with _signals_held():
            discard_staged([(tmp, path)])
        raise
    return tmp, path


def write_stream(report: Report, fmt: str, fh, options: RenderOptions | None = None) -> None:
    """Render one format into an open text stream (`posture scan -o -`: stdout)."""
    _write(load(fmt), report, options or RenderOptions(), fh)


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


class InterruptedAfterWriting(KeyboardInterrupt):
    """Ctrl-C or SIGTERM arrived while the report set was being moved into place: the set was
    completed first, so these files were written (the CLI must not say otherwise)."""

    def __init__(self, written: list[str]):
        super().__init__()
        self.written = written


LOCK_NAME = ".posture.lock"
LOCK_TIMEOUT_S = 120.0


class OutputDirBusy(OSError):
    """Another scan holds the output directory's lock."""


def write_reports(report: Report, formats: list[str], output_dir: str,
                  options: RenderOptions | None = None) -> list[str]:
    """Render every format into a temp file beside its target, then move them all into place: an
    error in one format leaves no partial set behind. Ctrl-C and SIGTERM during the renames (or the
    clean-up) are held back until the set is complete or removed, then re-raised (the CLI exits 130).

    The output directory is locked (`filelock`) for the whole write: two scans writing into one
    directory take turns, and one never finds the other's files mixed into its set."""
    from filelock import FileLock, Timeout

    options = options or RenderOptions()
    os.makedirs(output_dir, exist_ok=True)
    lock = FileLock(os.path.join(output_dir, LOCK_NAME), mode=0o644)
    try:
        lock.acquire(timeout=LOCK_TIMEOUT_S)
    except Timeout:
        raise OutputDirBusy(f"another scan is writing reports into {output_dir} (lock {LOCK_NAME} held for "
                            f"{LOCK_TIMEOUT_S:.0f} s); give another --output-dir") from None
    staged: list[tuple[str, str]] = []
    try:
        registered = formatters()
        for fmt in formats:
            formatter = load(fmt, registered)
            stage(os.path.join(output_dir, formatter.FILENAME), formatter, report, options, created=staged)
        with _sigint_deferred() as got:
            written = commit_staged(staged)
            staged = []
        if got:
            raise InterruptedAfterWriting(written)
        return written
    except BaseException:
        with _signals_held():
            discard_staged(staged)
        raise
    finally:
        lock.release()


@contextlib.contextmanager
def _signals_held():
    """SIGINT and SIGTERM are blocked for the block (delivered when it ends): a clean-up or a rename
    is never cut in half by a second Ctrl-C."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (AttributeError, ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def _sigint_deferred():
    """Hold SIGINT and SIGTERM back for the duration of the block (main thread only); the list
    yielded says afterwards whether one arrived (the caller raises)."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return
    try:
        previous = {sig: signal.signal(sig, lambda signum, frame: got.append(signum))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    except (ValueError, OSError):  # not allowed here (embedded interpreters)
        yield got
        return
    try:
        yield got
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
