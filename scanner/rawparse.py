"""Read and load the repo's YAML files into plain, marshal-able tuples (scanner.parse makes Documents of
them). This is what the console script's early helper runs (scanner.readahead) before the command has
loaded anything: it imports only the loader, and the scan's model only when a file cannot be read.
"""
from __future__ import annotations

import os
import stat

from .yamlload import load_documents

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .model import ScanError


def _error(rel: str, line: int | None, message: str) -> ScanError:
    from .model import ScanError

    return ScanError(rel, line, message)


DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024  # rendered stacks reach a few MB; 50 MB files are refused


def read_bytes(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[bytes | None, ScanError | None]:
    """The file's bytes, or the reason it cannot be read. Never blocks on FIFOs or devices."""
    full = os.path.join(root, rel)
    try:
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return None, _error(rel, None, f"unreadable: {exc.strerror or exc}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            return None, _error(rel, None, f"unreadable: {what}; not parsed")
        if st.st_size > max_bytes:
            return None, _error(rel, None, f"file is {st.st_size / 1048576:.1f} MiB, over the "
                                              f"{max_bytes / 1048576:.0f} MiB limit; not parsed")
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
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as exc:
        return None, _error(rel, None, f"unreadable: {exc.strerror or exc}")
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew while we read it
        return None, _error(rel, None, f"file is over the {max_bytes / 1048576:.0f} MiB limit; not parsed")
    return data, None


def read_text(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[str | None, ScanError | None]:
    """The file as text, or the reason it cannot be read as text."""
    data, err = read_bytes(root, rel, max_bytes)
    if err:
        return None, err
    if b"\0" in data[:8192]:
        return None, _error(rel, None, "binary file (NUL bytes); not parsed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, _error(rel, line, f"not valid UTF-8 (byte {exc.start}); not parsed")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def _parse_raw(root: str, rel: str, max_bytes: int) -> tuple:
    """(docs as (line, index, body, lines) tuples, errors as (line, message) tuples): marshal-able."""
    text, err = read_text(root, rel, max_bytes)
    if err:
        return (), ((err.line, err.message),)
    loaded, load_errors = load_documents(text)
    return (tuple((d.line, d.index, d.body, d.lines) for d in loaded),
            tuple((e.line, e.message) for e in load_errors))


def file_chunks(rels: list[str]) -> list[tuple[str, ...]]:
    """The parse's tasks: the files in order, in chunks few enough for twocore's task pipe."""
    size = max(1, -(-len(rels) // 4000))
    return [tuple(rels[i:i + size]) for i in range(0, len(rels), size)]


def parse_chunk(root: str, chunk: tuple[str, ...], max_bytes: int) -> list[tuple]:
    return [_parse_raw(root, rel, max_bytes) for rel in chunk]


