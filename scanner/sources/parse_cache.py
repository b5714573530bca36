"""Parsed YAML kept by the content of the file, so a rescan parses only the files that changed.

Parsing is a fifth of a warm scan of a large repo; reading the answers back is a tenth of that.
One pack file per scanned folder holds the files of its last scan, keyed by the SHA-256 of each
file's text: an edited file misses and is parsed again, a file removed from the repo drops out of
the pack when it is written next. The pack is Python's `marshal` format (the one `.pyc` files use:
it keeps tuples, non-string keys and shared anchors exactly, unlike JSON) in the per-user cache,
keyed by the Python and marshal versions too; a pack that cannot be read is ignored.

A secret value is never written outside the repo: a file is not stored when it holds a Secret with
a value that is not SOPS ciphertext (as in the build cache), a URL with credentials
(`https://user:TOKEN@host`, `?token=`) or the prefix of a token shape the leak checks know.
"""
from __future__ import annotations

import hashlib
import marshal
import os

from scanner.core.packfile import pack_path, read_pack, save_pack
from scanner.core.secretdata import holds_plain_secret_data, may_hold_secret_text
from scanner.sources.yamlload import LoadedDoc, LoadError

FORMAT = 1  # bumped when an entry's shape or the loader's answers change


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class ParseCache:
    """The parsed files of one folder's previous scan, and those of this one."""

    def __init__(self, cache_dir: str, root: str, max_bytes: int):
        self.path = pack_path(cache_dir, "parsed", FORMAT, os.path.realpath(root), max_bytes)
        self._old = read_pack(self.path)
        self._new: dict[bytes, tuple] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: bytes) -> tuple[list[LoadedDoc], list[LoadError]] | None:
        entry = self._old.get(key)
        if key in self._new:
            # Two files with the same text: each gets objects of its own (later stages may
            # change a document's body in place).
            entry = marshal.loads(marshal.dumps(entry))
        try:
            docs_raw, errors_raw = entry  # type: ignore[misc]
            docs = [LoadedDoc(line, index, body, lines) for line, index, body, lines in docs_raw]
            errors = [LoadError(line, message, code) for line, message, code in errors_raw]
        except (TypeError, ValueError):
            self.misses += 1
            return None
        self._new[key] = entry  # type: ignore[assignment]
        self.hits += 1
        return docs, errors

    def put(self, key: bytes, text: str, docs: list[LoadedDoc], errors: list[LoadError]) -> None:
        if any(holds_plain_secret_data(d.body) for d in docs) or may_hold_secret_text(text):
            return
        self._new[key] = (tuple((d.line, d.index, d.body, d.lines) for d in docs),
                          tuple((e.line, e.message, e.code) for e in errors))

    def save(self) -> None:
        """Write this scan's pack if it differs from the one read (best effort)."""
        save_pack(self.path, self._old, self._new)
