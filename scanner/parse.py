"""Read and parse the repo's YAML files into Documents; bad files become ScanErrors.

Each file is read and parsed once. On repos of more than a few hundred files the work is shared
with one forked helper process (`twocore`: both cores); the output is the same, document for
document, as a serial parse.
"""
from __future__ import annotations

import gc
from typing import Callable, Iterable

from . import twocore
from .gcpause import paused as gc_paused, release_startup
from .model import Document, ScanError
# Reading and loading files (what the early helper runs) lives in rawparse; re-exported here.
from .rawparse import DEFAULT_MAX_FILE_BYTES, _parse_raw, file_chunks, parse_chunk, read_bytes, read_text  # noqa: F401


class ParsedDocument(Document):
    """A Document from the repo, carrying the line tree the loader recorded (see yamlload.LoadedDoc)."""

    __slots__ = ("lines",)


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
