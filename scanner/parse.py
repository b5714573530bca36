"""Read and parse the repo's YAML files into Documents; bad files become ScanErrors."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

from .model import Document, ScanError
from .yamlload import load_documents

DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024  # rendered stacks reach a few MB; 50 MB files are refused


def read_text(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[str | None, ScanError | None]:
    """The file as text, or the reason it cannot be read as text."""
    full = os.path.join(root, rel)
    try:
        size = os.path.getsize(full)
        if size > max_bytes:
            return None, ScanError(rel, None, f"file is {size / 1048576:.1f} MiB, over the {max_bytes / 1048576:.0f} MiB limit; not parsed")
        with open(full, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        return None, ScanError(rel, None, f"unreadable: {exc.strerror or exc}")
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


def parse_file(root: str, rel: str, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> tuple[list[Document], list[ScanError]]:
    text, err = read_text(root, rel, max_bytes)
    if err:
        return [], [err]
    loaded, load_errors = load_documents(text)
    docs = [Document(path=rel, line=d.line, index=d.index, body=d.body) for d in loaded]
    return docs, [ScanError(rel, e.line, e.message) for e in load_errors]


def _parse_chunk(args) -> tuple[list[Document], list[ScanError]]:
    root, rels, max_bytes = args
    docs: list[Document] = []
    errors: list[ScanError] = []
    for rel in rels:
        d, e = parse_file(root, rel, max_bytes)
        docs.extend(d)
        errors.extend(e)
    return docs, errors


# Below this many bytes a process pool costs more (start-up, pickling) than it saves.
PARALLEL_THRESHOLD_BYTES = 24 * 1024 * 1024


def parse_files(root: str, rels: list[str], max_bytes: int = DEFAULT_MAX_FILE_BYTES,
                workers: int | None = None) -> tuple[list[Document], list[ScanError]]:
    total = 0
    for rel in rels:
        try:
            total += os.path.getsize(os.path.join(root, rel))
        except OSError:
            pass
    workers = workers if workers is not None else (os.cpu_count() or 1)
    if workers <= 1 or total < PARALLEL_THRESHOLD_BYTES or len(rels) < 64:
        return _parse_chunk((root, rels, max_bytes))
    chunks = [rels[i::workers * 4] for i in range(workers * 4)]
    docs: list[Document] = []
    errors: list[ScanError] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for d, e in pool.map(_parse_chunk, [(root, c, max_bytes) for c in chunks]):
            docs.extend(d)
            errors.extend(e)
    order = {rel: i for i, rel in enumerate(rels)}
    docs.sort(key=lambda d: (order.get(d.path, 0), d.index))
    return docs, errors
