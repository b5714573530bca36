"""Ed25519 signatures over a canonical JSON encoding of a snapshot.

The signature covers the parsed JSON, not the file bytes, so re-indenting a snapshot does not break
it but changing any value does. It is stored beside the snapshot as `<snapshot>.sig` (base64 of
the 64 signature bytes); the name must not end in `.json` so tools listing snapshots skip it.

The canonical form is RFC 8785 (JCS, through the `rfc8785` package): a standard any verifier can
reimplement. Snapshots signed before it used our own form (sorted keys, compact separators, Python's
number text); `verify_file` still accepts that form, so older archives stay verifiable. Both are
deterministic encodings of the same parsed value, so accepting either cannot let an edited value
pass. A value JCS cannot encode (a lone surrogate from a non-UTF-8 file name, an integer past
2^53) is signed in the older form rather than not at all.
"""
from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass
from pathlib import Path

import rfc8785

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from scanner.sources.safejson import loads_bounded, read_bounded
from scanner.snapshots import SnapshotError

SIG_SUFFIX = ".sig"


def legacy_canonical_json(obj) -> bytes:
    """The canonical form of snapshots signed before RFC 8785 (still verified, see the module doc)."""
    # surrogatepass: identical bytes for every valid string, and no crash on a lone surrogate
    # (a non-UTF-8 file name the engine kept with surrogateescape).
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def canonical_json(obj) -> bytes:
    """RFC 8785 canonical JSON; the legacy form for a value JCS cannot encode."""
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError:
        return legacy_canonical_json(obj)


def signature_path(snapshot: Path) -> Path:
    return Path(str(snapshot) + SIG_SUFFIX)


def _reject_duplicate_keys(pairs):
    # Two values for one key would let a tampered file show one thing and verify as another.
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("duplicate key in JSON object")
    return dict(pairs)


def parse_strict(data: bytes):
    return loads_bounded(data, object_pairs_hook=_reject_duplicate_keys)


def _create_exclusive(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # the umask must not widen or narrow what we promise
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def keygen(prefix: str) -> tuple[Path, Path]:
    """Write PREFIX.key (PKCS8 PEM, mode 0600) and PREFIX.pub; never overwrite either."""
    key_path, pub_path = Path(prefix + ".key"), Path(prefix + ".pub")
    for p in (key_path, pub_path):
        if p.exists():
            raise SnapshotError(f"{p} already exists; refusing to overwrite a key")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        _create_exclusive(key_path, pem, 0o600)
    except FileExistsError:
        raise SnapshotError(f"{key_path} already exists; refusing to overwrite a key") from None
    try:
        _create_exclusive(pub_path, pub, 0o644)
    except BaseException:
        key_path.unlink()  # no half key pair
        raise
    return key_path, pub_path


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SnapshotError(f"cannot load signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SnapshotError(f"signing key {path} is not an Ed25519 key")
    return key


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    try:
        data = Path(path).read_bytes()
        key = serialization.load_pem_public_key(data)
    except (OSError, ValueError, TypeError) as exc:
        raise SnapshotError(f"cannot load public key {path}: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SnapshotError(f"public key {path} is not an Ed25519 key")
    return key


def sign(obj, key: Ed25519PrivateKey, canonical: bytes | None = None) -> bytes:
    """The signature file's content for `obj` (`canonical`: canonical_json(obj), when the caller
    has it already: encoding a multi-megabyte report as JCS takes most of a second)."""
    return base64.b64encode(key.sign(canonical_json(obj) if canonical is None else canonical)) + b"\n"


@dataclass(frozen=True)
class Verdict:
    """The outcome of verifying a snapshot's signature."""

    status: str  # valid, invalid, unsigned
    message: str

    @property
    def exit_code(self) -> int:
        return {"valid": 0, "invalid": 1, "unsigned": 2}[self.status]


def verify_file(snapshot: Path, public_key: Ed25519PublicKey, parsed=None, canonical: bytes | None = None) -> Verdict:
    """The verdict on `snapshot`'s signature. `parsed` (the snapshot as parse_strict read it) and
    `canonical` (canonical_json of it): what the caller has already, so that a whole-archive check
    reads and encodes each file once."""
    snapshot = Path(snapshot)
    sig_path = signature_path(snapshot)
    if not sig_path.exists():
        return Verdict("unsigned", f"{snapshot}: UNSIGNED (no {sig_path.name} beside it)")
    try:
        signature = base64.b64decode(read_bounded(sig_path, 4096).strip(), validate=True)
    except (binascii.Error, ValueError, OSError):
        return Verdict("invalid", f"{snapshot}: INVALID (signature file is not a small base64 file)")
    try:
        obj = parse_strict(read_bounded(snapshot)) if parsed is None else parsed
    except OSError as exc:
        return Verdict("invalid", f"{snapshot}: INVALID (cannot read the snapshot: {exc})")
    except (ValueError, UnicodeDecodeError) as exc:
        return Verdict("invalid", f"{snapshot}: INVALID (snapshot is not valid JSON: {exc})")
    first = canonical_json if canonical is None else (lambda _: canonical)
    encoders = (first, legacy_canonical_json)
    if not any(_verifies(public_key, signature, encode, obj) for encode in encoders):
        return Verdict(
            "invalid",
            f"{snapshot}: INVALID (signature does not match: the snapshot was modified "
            "or was signed with a different key)",
        )
    return Verdict("valid", f"{snapshot}: VALID (Ed25519 signature over canonical JSON)")


def _verifies(public_key: Ed25519PublicKey, signature: bytes, encode, obj) -> bool:
    try:
        public_key.verify(signature, encode(obj))
    except InvalidSignature:
        return False
    return True
