"""Read and parse the repo's YAML files into Documents; bad files become ScanErrors.

Each file is read once, as a regular file with a byte limit (never a FIFO or a device), and parsed
with the tolerant loader (scanner.sources.yamlload).
"""
from __future__ import annotations

import os

from scanner.core.model import Document, ScanError
from scanner.sources.readfile import UnreadableFile, read_regular
from scanner.sources.parse_cache import ParseCache, text_key
from scanner.sources.yamlload import load_documents


def _error(rel: str, line: int | None, message: str, code: str = "file-unreadable") -> ScanError:
    return ScanError(rel, line, message, code=code)


from scanner.core.options import DEFAULT_MAX_FILE_BYTES  # noqa: E402  (re-exported: callers read it here)


def read_bytes(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[bytes | None, ScanError | None]:
    """The file's bytes, or the reason it cannot be read. Never blocks on FIFOs or devices."""
    try:
        return read_regular(os.path.join(root, rel), max_bytes), None
    except UnreadableFile as exc:
        return None, _error(rel, None, f"{exc}; not parsed", exc.code)


def read_text(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[str | None, ScanError | None]:
    """The file as text, or the reason it cannot be read as text."""
    data, err = read_bytes(root, rel, max_bytes)
    if err:
        return None, err
    if b"\0" in data[:8192]:
        return None, _error(rel, None, "binary file (NUL bytes); not parsed", "file-binary")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, _error(rel, line, f"not valid UTF-8 (byte {exc.start}); not parsed", "file-not-utf8")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None



class ParsedDocument(Document):
    """A Document from the repo, carrying the line tree the loader recorded (see yamlload.LoadedDoc)."""

    __slots__ = ("lines",)


def parse_file(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES,
               cache: ParseCache | None = None) -> tuple[list[Document], list[ScanError]]:
    """Every document of one file, and what could not be read or parsed."""
    text, err = read_text(root, rel, max_bytes)
    if err:
        return [], [err]
    if cache is None:
        loaded, load_errors = load_documents(text)
    else:
        key = text_key(text)
        known = cache.get(key)
        if known is None:
            loaded, load_errors = load_documents(text)
            cache.put(key, text, loaded, load_errors)
        else:
            loaded, load_errors = known
    docs: list[Document] = []
    for d in loaded:
        doc = ParsedDocument(rel, d.line, d.index, d.body)
        doc.lines = d.lines
        docs.append(doc)
    return docs, [ScanError(rel, e.line, e.message, code=e.code) for e in load_errors]


def parse_files(root: str, rels: list[str], max_bytes: int = DEFAULT_MAX_FILE_BYTES,
                cache_dir: str | None = None) -> tuple[list[Document], list[ScanError]]:
    """Every document of every file, in file order then document order; errors likewise.

    With a `cache_dir`, files whose text was parsed by an earlier scan of this folder are not parsed
    again (scanner.sources.parse_cache)."""
    cache = ParseCache(cache_dir, root, max_bytes) if cache_dir else None
    docs: list[Document] = []
    errors: list[ScanError] = []
    for rel in rels:
        d, e = parse_file(root, rel, max_bytes, cache)
        docs.extend(d)
        errors.extend(e)
    if cache is not None:
        cache.save()
    return docs, errors
