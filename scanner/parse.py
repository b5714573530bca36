"""Read and parse the repo's YAML files into Documents; bad files become ScanErrors.

Each file is read and parsed once. On repos of more than a few hundred files the work is shared
with one forked helper process (`twocore`: both cores); the output is the same, document for
document, as a serial parse.
"""
from __future__ import annotations

import gc
import os
import stat
from typing import Callable, Iterable

from . import twocore
from .gcpause import paused as gc_paused, release_startup
from .model import Document, ScanError
from .yamlload import load_documents

DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024  # rendered stacks reach a few MB; 50 MB files are refused


class ParsedDocument(Document):
    """A Document from the repo, carrying the line tree the loader recorded (see yamlload.LoadedDoc)."""

    __slots__ = ("lines",)


def read_bytes(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[bytes | None, ScanError | None]:
    """The file's bytes, or the reason it cannot be read. Never blocks on FIFOs or devices."""
    full = os.path.join(root, rel)
    try:
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        return None, ScanError(rel, None, f"unreadable: {exc.strerror or exc}")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            return None, ScanError(rel, None, f"unreadable: {what}; not parsed")
        if st.st_size > max_bytes:
            return None, ScanError(rel, None, f"file is {st.st_size / 1048576:.1f} MiB, over the "
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
        return None, ScanError(rel, None, f"unreadable: {exc.strerror or exc}")
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # grew while we read it
        return None, ScanError(rel, None, f"file is over the {max_bytes / 1048576:.0f} MiB limit; not parsed")
    return data, None


def read_text(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[str | None, ScanError | None]:
    """The file as text, or the reason it cannot be read as text."""
    data, err = read_bytes(root, rel, max_bytes)
    if err:
        return None, err
    if b"\0" in data[:8192]:
        return None, ScanError(rel, None, "binary file (NUL bytes); not parsed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, ScanError(rel, line, f"not valid UTF-8 (byte {exc.start}); not parsed")
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


def _collect(rel: str, raw: tuple, docs: list[Document], errors: list[ScanError]) -> None:
    for line, index, body, lines in raw[0]:
        d = ParsedDocument(rel, line, index, body)
        d.lines = lines
        docs.append(d)
    for line, message in raw[1]:
        errors.append(ScanError(rel, line, message))


def parse_file(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[list[Document], list[ScanError]]:
    docs: list[Document] = []
    errors: list[ScanError] = []
    _collect(rel, _parse_raw(root, rel, max_bytes), docs, errors)
    return docs, errors


# Below this many files a second process costs more (fork, transfer) than it saves (measured on
# the corpus: ~150 small files is break-even on 2 cores).
PARALLEL_MIN_FILES = 200


# Set by the CLI (a one-shot process): after parsing, move everything alive into the GC's permanent
# generation. The parsed repo is most of the heap and holds no cycles; without this every full
# collection during the checks walks it again (measured: ~15-20% of a 10x synthetic scan).
FREEZE_AFTER_PARSE = False


def parse_files(root: str, rels: list[str], max_bytes: int = DEFAULT_MAX_FILE_BYTES,
                workers: int | None = None, while_parsing: Iterable[Callable[[], None]] = (),
                early: twocore.EarlyHelper | None = None) -> tuple[list[Document], list[ScanError]]:
    """Every document of every file, in file order then document order; errors likewise.

    `while_parsing`: the caller's start-up work (module imports), run by this process while the
    helper parses, so it overlaps the parse instead of preceding or following it.
    `early`: a helper already parsing these files (scanner.readahead): this process joins it."""
    try:
        with gc_paused():  # the loader builds only trees: no cycles for the collector to find
            return _parse_files(root, rels, max_bytes, workers, list(while_parsing), early)
    finally:
        release_startup()  # loading is over (see gcpause.hold_for_startup)
        if FREEZE_AFTER_PARSE and gc.isenabled():
            gc.freeze()


def file_chunks(rels: list[str]) -> list[tuple[str, ...]]:
    """The parse's tasks: the files in order, in chunks few enough for twocore's task pipe."""
    size = max(1, -(-len(rels) // 4000))
    return [tuple(rels[i:i + size]) for i in range(0, len(rels), size)]


def parse_chunk(root: str, chunk: tuple[str, ...], max_bytes: int) -> list[tuple]:
    return [_parse_raw(root, rel, max_bytes) for rel in chunk]


def _parse_files(root: str, rels: list[str], max_bytes: int, workers: int | None,
                 while_parsing: list, early: twocore.EarlyHelper | None) -> tuple[list[Document], list[ScanError]]:
    chunks = file_chunks(rels)

    def run(chunk: tuple[str, ...]) -> list[tuple]:
        return parse_chunk(root, chunk, max_bytes)

    if early is not None:
        answers = early.finish(chunks, run)
    else:
        parallel = (workers is None or workers > 1) and len(rels) >= PARALLEL_MIN_FILES
        # YAML values are plain dicts, lists and scalars: `marshal` carries them faster than pickle.
        answers, _ = twocore.share(chunks, run, parallel=parallel, codec="marshal", parent_first=while_parsing)
    docs: list[Document] = []
    errors: list[ScanError] = []
    for chunk, raws in zip(chunks, answers):
        for rel, raw in zip(chunk, raws):
            _collect(rel, raw, docs, errors)
    return docs, errors
