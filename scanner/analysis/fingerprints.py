"""Fingerprints of secret values: keyed (HMAC-SHA256) with a key the user holds, or none at all.

An unsalted hash of a short secret is reversible by trying candidates (8 hex digits of SHA-256: a
dictionary in a tenth of a second). With a key that only the user has (generated once into the
snapshot archive, or given to CI as a secret), the fingerprint stays stable across runs and machines,
so drift and baselines still match, and is worthless to anyone reading the report. Without a key no
value fingerprint is shown. (Public-key and certificate fingerprints are of public data and stay.)

The key travels as a typed value: the pipeline sets it for the duration of the checks
(`fingerprint_key(...)`), checks call `value_fingerprint(value)`.
"""
from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import os
import secrets as _secrets
from pathlib import Path

from scanner.sources.readfile import UnreadableFile, read_regular

KEY_FILE_NAME = "fingerprint.key"  # in a snapshot archive
KEY_BYTES = 32
_current: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("posture_fingerprint_key", default=None)


class FingerprintKeyError(ValueError):
    """A fingerprint key file that cannot be used (message safe to print: never the key)."""


def value_fingerprint(value) -> str | None:
    """`hmac:1a2b3c4d5e6f7a8b` of a secret value under the current key, or None without a key."""
    key = _current.get()
    if key is None:
        return None
    data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")
    return "hmac:" + hmac.new(key, data, hashlib.sha256).hexdigest()[:16]


@contextlib.contextmanager
def fingerprint_key(key: bytes | None):
    """Value fingerprints inside the block are keyed with `key` (None: no value fingerprints)."""
    token = _current.set(key)
    try:
        yield
    finally:
        _current.reset(token)


def load_key(path: str | Path) -> bytes:
    """The key in a key file: 64 hex digits (as `generate_key_file` writes), or any other content of
    16 bytes or more (a CI secret pasted into a file), used as it is."""
    try:
        data = read_regular(str(path), 4096)
    except UnreadableFile as exc:
        raise FingerprintKeyError(f"fingerprint key {path}: {exc}") from None
    text = data.strip()
    try:
        if len(text) == 2 * KEY_BYTES:
            return bytes.fromhex(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        pass
    if len(text) < 16:
        raise FingerprintKeyError(f"fingerprint key {path} is shorter than 16 bytes")
    return text


def generate_key_file(path: str | Path) -> bytes:
    """A new random key written to `path`, readable by its owner only; an existing file is kept."""
    path = Path(path)
    key = _secrets.token_bytes(KEY_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return load_key(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex() + "\n")
    return key


def archive_key(archive_dir: str | Path) -> bytes:
    """The fingerprint key of a snapshot archive, generated on first use."""
    return generate_key_file(Path(archive_dir) / KEY_FILE_NAME)
