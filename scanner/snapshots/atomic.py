"""Crash-safe writes and the archive lock.

A reader must only ever see a complete old file or a complete new one, so every write goes to a
temporary file in the same directory (same filesystem, so the rename is atomic), is fsynced, and
then renamed over the target; the directory is fsynced so the rename itself survives power loss.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Iterator

from filelock import FileLock

TMP_PREFIX = ".tmp-"
TMP_SUFFIX = ".partial"  # never ends in .json, so `find -name '*.json'` cannot pick up a half file


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_temp(directory: Path, data: bytes, mode: int = 0o600) -> Path:
    """Write `data` to a fsynced temporary file in `directory`; the caller renames it into place."""
    fd, name = tempfile.mkstemp(dir=directory, prefix=TMP_PREFIX, suffix=TMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)  # snapshots hold the posture of a cluster: owner only, like keys
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def commit(tmp: Path, target: Path) -> None:
    """Rename a temporary file over `target` (atomic) and make the rename durable."""
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def atomic_write_bytes(target: Path, data: bytes, mode: int = 0o600) -> None:
    target = Path(target)
    commit(write_temp(target.parent, data, mode), target)


def remove_stale_temps(directory: Path, older_than_s: float = 3600.0) -> int:
    """Delete temporary files a crashed writer left behind (old enough not to be a live write)."""
    removed = 0
    cutoff = time.time() - older_than_s
    for path in Path(directory).glob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


@contextlib.contextmanager
def locked(lock_path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on `lock_path` (filelock: flock on POSIX, msvcrt on Windows); yields
    False when the archive is read-only.

    The OS releases the lock when the process dies, so a crashed run never wedges the archive. A
    read-only archive (a mounted copy, someone else's checkout) can still be read.
    """
    lock = FileLock(str(lock_path), mode=0o644)
    try:
        lock.acquire()
    except OSError:  # cannot create or open the lock file: a read-only archive
        yield False
        return
    try:
        yield True
    finally:
        lock.release()
