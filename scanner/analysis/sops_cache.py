"""A content-addressed record of `sops filestatus` answers, so an unchanged file is not asked again.

`sops filestatus` is a process per file (~15 ms of CPU: the Go runtime and sops' start-up), the
largest single cost of scanning a repo with SOPS files, and its answer depends only on the binary and
the file's bytes. An answer is stored under the SHA-256 of exactly those (binary path, size and
mtime; the input type; the file's bytes), so it can never be stale: change one byte, or the binary,
and the key changes.

Only "encrypted" answers are stored: a plaintext file's hash is never written anywhere (its hash
could be guessed against), and such a file is a finding worth the fresh call anyway. MAC
verification (`sops decrypt` with the age key) is never cached: its answer depends on key material.

Where: `ScanOptions.cache_dir` (the per-user cache by default, platformdirs), in a sub-directory of
its own; no cache with `posture scan --no-cache`. A cache that cannot be read or written is no
cache; the scan's verdicts are the same either way.
"""
from __future__ import annotations

import hashlib
import json
import os

from scanner.core.atomicfile import write_atomic
from scanner.sources.parse import DEFAULT_MAX_FILE_BYTES
from scanner.sources.readfile import UnreadableFile, read_regular

_SUBDIR = "sops-filestatus-v1"


class FilestatusCache:
    def __init__(self, directory: str, binary: str):
        self.directory = directory
        st = os.stat(binary)
        self._binary_id = f"{os.path.realpath(binary)}\0{st.st_size}\0{st.st_mtime_ns}".encode("utf-8", "surrogateescape")

    @classmethod
    def open(cls, binary: str, base: str) -> "FilestatusCache | None":
        """The cache under `base` (the scan's cache directory) for this binary; None when unusable."""
        try:
            return cls(os.path.join(base, _SUBDIR), binary)
        except OSError:
            return None

    def key(self, input_type: str, data: bytes) -> str:
        h = hashlib.sha256(self._binary_id)
        h.update(b"\0" + input_type.encode() + b"\0")
        h.update(data)
        return h.hexdigest()

    def _file(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], key)

    def get(self, key: str) -> bool | None:
        """The stored `encrypted` answer, or None."""
        try:
            with open(self._file(key), encoding="utf-8") as fh:
                value = json.load(fh)
        except (OSError, ValueError):
            return None
        return value.get("encrypted") if isinstance(value, dict) and value.get("encrypted") is True else None

    def put(self, key: str, encrypted: bool) -> None:
        if encrypted is not True:
            return
        try:
            # atomic: a concurrent scan reads the old entry or the new one
            write_atomic(self._file(key), json.dumps({"encrypted": True}).encode(), dir_mode=0o700)
        except OSError:
            pass  # a cache that cannot be written only costs time


def read_for_key(root: str, path: str) -> bytes | None:
    try:
        return read_regular(os.path.join(root, path), DEFAULT_MAX_FILE_BYTES)
    except UnreadableFile:
        return None
