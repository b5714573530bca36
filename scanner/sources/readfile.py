"""Read a file the way every untrusted file is read: a regular file only, opened non-blocking,
with a byte limit (never a FIFO, a device, or a link to /dev/zero that streams forever)."""
from __future__ import annotations

import os
import stat

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


class UnreadableFile(OSError):
    """Why a file was not read: not a regular file, over the limit, or the OS refused it. `code` is
    the scan error code (scanner.core.errors): file-too-large or file-unreadable."""

    def __init__(self, message: str, code: str = "file-unreadable"):
        super().__init__(message)
        self.code = code


def read_regular(path: str, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path`, at most `max_bytes` (raises UnreadableFile)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise UnreadableFile(f"unreadable: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise UnreadableFile(f"unreadable: {what}")
        if st.st_size > max_bytes:
            raise UnreadableFile(f"file is {st.st_size / 1048576:.1f} MiB, over the "
                                 f"{max_bytes / 1048576:.0f} MiB limit", "file-too-large")
        chunks = []
        total = 0
        want = st.st_size + 1  # one more byte to see EOF (or growth) in the same call
        while total <= max_bytes:
            chunk = os.read(fd, min(want, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            want = 1 << 20
    except UnreadableFile:
        raise
    except OSError as exc:
        raise UnreadableFile(f"unreadable: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(data) > max_bytes:  # grew while it was read
        raise UnreadableFile(f"file is over the {max_bytes / 1048576:.0f} MiB limit", "file-too-large")
    return data


def read_regular_chunks(path: str, chunk_bytes: int, max_total: int | None = None):
    """The regular file at `path` in chunks of `chunk_bytes` (a file over the parse limit is still
    read for leaks this way, never whole). Raises UnreadableFile before the first chunk."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise UnreadableFile(f"unreadable: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile("unreadable: not a regular file")
        total = 0
        while max_total is None or total < max_total:
            chunk = os.read(fd, chunk_bytes)
            if not chunk:
                return
            total += len(chunk)
            yield chunk
    finally:
        os.close(fd)
