"""Formatter plugins, found through the `gitops_posture.formatters` entry-point group."""
from __future__ import annotations

import importlib
import os
import tempfile

from scanner.gcpause import paused as gc_paused
from scanner.plugins import entry_points

GROUP = "gitops_posture.formatters"
# Names users type that map onto a formatter (e.g. `--format md`).
ALIASES = {"md": "markdown", "xml": "junit", "prom": "prometheus", "openmetrics": "prometheus"}


def formatters() -> dict:
    found = {}
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep
    return found


def load(name: str):
    """(module-like object with FILENAME, render function) for a format name."""
    name = ALIASES.get(name, name)
    eps = formatters()
    if name not in eps:
        raise KeyError(name)
    target = eps[name].load()
    module = importlib.import_module(target.__module__)
    return getattr(module, "FILENAME", f"posture-report.{name}"), target


def prepare(name: str) -> None:
    """Load a format's module and let it load what it renders with (an optional `prepare()`): start-up
    work a caller can do early, e.g. while the repo is parsed."""
    _, render = load(name)
    module = importlib.import_module(render.__module__)
    prep = getattr(module, "prepare", None)
    if callable(prep):
        prep()


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


def parts_of(render, report: dict) -> tuple[tuple[str, float], ...] | None:
    """A formatter's parts for this report, when it renders in parts: its module's `PARTS`, ((name,
    relative cost), ...) in output order (or a function of the report giving them), with
    `write_part(report, options, fh, part)`. The output is the parts' texts concatenated; a caller
    may render them in any order or process (see `join_parts`)."""
    module = importlib.import_module(render.__module__)
    parts = getattr(module, "PARTS", None)
    if not callable(getattr(module, "write_part", None)):
        return None
    if callable(parts):
        parts = parts(report)
    return tuple(parts) if parts else None


def stage(path: str, render, report: dict, options: dict, tmp: str | None = None, part: str | None = None
          ) -> tuple[str, str]:
    """Render one format into a temp file beside `path` (or into `tmp`, made by `temp_beside`);
    (temp path, path) for `commit_staged`.

    A formatter module with `write(report, options, fh)` streams into the file (the large formats
    never hold their whole text in memory); otherwise `render`'s text is written. With `part`, only
    that part is written (`write_part`), and not synced: `join_parts` syncs the joined file."""
    module = importlib.import_module(render.__module__)
    writer = getattr(module, "write", None)
    if tmp is None:
        fd, tmp = _temp_in(os.path.dirname(os.path.abspath(path)))
    else:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # (re)made: a failed try removes it
    # Formatters allocate piles of short-lived, acyclic strings and lists (see scanner.gcpause).
    try:
        with gc_paused(), os.fdopen(fd, "w", encoding="utf-8") as fh:
            if part is not None:
                module.write_part(report, options, fh, part)
            elif callable(writer):
                writer(report, options, fh)
            else:
                fh.write(render(report, options))
            fh.flush()
            if part is None:
                os.fsync(fh.fileno())
    except BaseException:
        discard_staged([(tmp, path)])
        raise
    return tmp, path


def join_parts(groups: list[list[str]]) -> None:
    """For each format rendered in parts (its parts' temp files, in output order): append the later
    parts' files to the first, remove them, and sync the whole; the first file is then the format's
    complete output, ready for `commit_staged`. Formats are joined side by side (threads: the copying
    and syncing wait on the kernel, not on Python)."""
    if len(groups) < 2:
        for tmps in groups:
            _join(tmps)
        return
    import threading

    failures: list[BaseException] = []

    def join(tmps: list[str]) -> None:
        try:
            _join(tmps)
        except BaseException as exc:  # raised below, in this thread
            failures.append(exc)

    threads = [threading.Thread(target=join, args=(tmps,)) for tmps in groups[1:]]
    for thread in threads:
        thread.start()
    join(groups[0])
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def _join(tmps: list[str]) -> None:
    fd = os.open(tmps[0], os.O_WRONLY)
    try:
        os.lseek(fd, 0, os.SEEK_END)
        for tmp in tmps[1:]:
            src = os.open(tmp, os.O_RDONLY)
            try:
                _copy(src, fd)
            finally:
                os.close(src)
            os.unlink(tmp)
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(src: int, dst: int) -> None:
    """The rest of file `src` onto `dst` (both at their positions): in the kernel where it can."""
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        try:
            while copy_range(src, dst, 1 << 30) > 0:
                pass
            return
        except OSError:  # (not for these files here: copied below, from where it stopped)
            pass
    while chunk := os.read(src, 1 << 20):
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst, view):]


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
