"""Throwaway age identities for tests and the bundled example repo.

An age X25519 identity is a 32-byte private scalar encoded as bech32 with the
HRP ``age-secret-key-`` (the whole string upper-cased); the recipient is the
matching public key encoded as bech32 with the HRP ``age``.  This module needs
only ``cryptography``; no ``age`` binary is required.

Run ``python tests/support/agekey.py`` to print ``SECRET RECIPIENT``.
"""

from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ value
        for i, gen in enumerate(_GENERATORS):
            if (top >> i) & 1:
                chk ^= gen
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _create_checksum(hrp: str, data: list[int]) -> list[int]:
    polymod = _polymod(_hrp_expand(hrp) + data + [0] * 6) ^ 1
    return [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]


def _convertbits(data: bytes, frombits: int = 8, tobits: int = 5) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if bits:
        out.append((acc << (tobits - bits)) & maxv)
    return out


def bech32_encode(hrp: str, payload: bytes) -> str:
    """Standard (BIP-173) bech32 without the 90-character length limit."""
    hrp = hrp.lower()
    data = _convertbits(payload)
    combined = data + _create_checksum(hrp, data)
    return hrp + "1" + "".join(_CHARSET[d] for d in combined)


def bech32_decode(text: str) -> tuple[str, bytes]:
    """Decode and verify a bech32 string; returns (hrp, payload)."""
    lowered = text.lower()
    pos = lowered.rfind("1")
    if pos < 1 or pos + 7 > len(lowered):
        raise ValueError("not a bech32 string")
    hrp = lowered[:pos]
    data = [_CHARSET.index(c) for c in lowered[pos + 1 :]]
    if _polymod(_hrp_expand(hrp) + data) != 1:
        raise ValueError("bad bech32 checksum")
    acc = 0
    bits = 0
    out = bytearray()
    for value in data[:-6]:
        acc = (acc << 5) | value
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    return hrp, bytes(out)


def make_age_identity() -> tuple[str, str]:
    """Return ``(secret_key, recipient)`` for a fresh X25519 age identity."""
    private = X25519PrivateKey.generate()
    raw_private = private.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    raw_public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    secret = bech32_encode("age-secret-key-", raw_private).upper()
    recipient = bech32_encode("age", raw_public)
    return secret, recipient


def recipient_for(secret_key: str) -> str:
    """Derive the ``age1...`` recipient of an ``AGE-SECRET-KEY-1...`` string."""
    hrp, raw = bech32_decode(secret_key)
    if hrp != "age-secret-key-" or len(raw) != 32:
        raise ValueError("not an age X25519 secret key")
    public = X25519PrivateKey.from_private_bytes(raw).public_key()
    raw_public = public.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return bech32_encode("age", raw_public)


def write_age_key_file(path: str | os.PathLike[str], comment: str | None = None) -> str:
    """Write a new age key file at ``path`` (mode 0600) and return its recipient."""
    secret, recipient = make_age_identity()
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    lines = []
    if comment:
        lines.append(f"# {comment}")
    lines += [f"# created: {created}", f"# public key: {recipient}", secret]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="ascii")
    target.chmod(0o600)
    return recipient


if __name__ == "__main__":
    _secret, _recipient = make_age_identity()
    print(_secret, _recipient)
