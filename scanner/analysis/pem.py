"""PEM material in text: private keys (a leak) and certificates (expiry, weak keys, SHA-1).

Everything returned is safe to print: kinds, sizes, curve names, subjects, dates and short
fingerprints. Private key fingerprints are taken over the *public* key, so they identify the key
without revealing anything about it; other secret data gets a keyed fingerprint, or none without a
key (scanner.analysis.fingerprints).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field

from scanner.analysis.fingerprints import value_fingerprint

# cryptography is imported on first use (a PEM block to analyse): it costs ~20 ms at import and most
# scans never meet a PEM block.
x509 = hashes = serialization = dsa = ec = ed448 = ed25519 = rsa = None
_CRYPTO_NAMES = ("x509", "hashes", "serialization", "dsa", "ec", "ed448", "ed25519", "rsa")


def _crypto() -> None:
    global x509, hashes, serialization, dsa, ec, ed448, ed25519, rsa
    if rsa is not None:
        return
    from cryptography import x509 as _x509
    from cryptography.hazmat.primitives import hashes as _hashes, serialization as _serialization
    from cryptography.hazmat.primitives.asymmetric import dsa as _dsa, ec as _ec, ed448 as _ed448, \
        ed25519 as _ed25519, rsa as _rsa
    x509, hashes, serialization, dsa, ec, ed448, ed25519 = _x509, _hashes, _serialization, _dsa, _ec, _ed448, _ed25519
    rsa = _rsa  # last: `rsa is not None` means every name is bound

PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]{3,40})-----\s*(.*?)\s*-----END \1-----", re.S)
PRIVATE_MARKERS = ("PRIVATE KEY", "PRIVATE KEY BLOCK")
B64_PEM_PREFIX = "LS0tLS1CRUdJTi"  # base64 of "-----BEGIN"
B64_BLOCK = re.compile(r"LS0tLS1CRUdJTi[A-Za-z0-9+/=]*(?:[ \t]*\n[ \t]*[A-Za-z0-9+/=]{16,}(?=[ \t]*(?:\n|$)))*")
AGE_SECRET = re.compile(r"AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}")
WEAK_CURVES = {"secp192r1", "secp224r1", "secp160r1", "secp160k1", "secp192k1", "secp224k1", "sect163k1",
               "sect163r2", "sect233k1", "sect233r1", "brainpoolP160r1", "brainpoolP192r1", "brainpoolP224r1"}
WEAK_HASHES = {"sha1", "md5", "md2", "md4"}


def public_fingerprint(value) -> str:
    """`sha256:1a2b3c4d` of *public* data (a public key, a certificate): enough to match two findings."""
    data = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogateescape")
    return "sha256:" + hashlib.sha256(data).hexdigest()[:8]


def secret_fingerprint(value) -> str | None:
    """A keyed fingerprint of secret data (scanner.analysis.fingerprints), None without a key: an
    unsalted hash of a secret can be reversed by trying candidates."""
    return value_fingerprint(value)


@dataclass
class PemFinding:
    """A PEM block or age key found in a text: its kind, fingerprint and facts."""

    kind: str  # private-key, encrypted-private-key, unparsable-private-key, certificate, age-secret-key
    label: str  # PEM label, e.g. "RSA PRIVATE KEY"
    fingerprint: str | None  # public-key or certificate fingerprint; keyed for secret data; None: no key
    offset: int  # character offset of the block in the text it was found in
    problems: list[tuple[str, str]] = field(default_factory=list)  # (severity, message) for certificates
    facts: dict = field(default_factory=dict)  # key type, bits, subject, not_after ...


def _public_fingerprint(pub) -> str:
    _crypto()
    try:
        der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    except Exception:
        try:
            der = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        except Exception:
            return "sha256:?"
    return public_fingerprint(der)


def describe_key(key) -> dict:
    _crypto()
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return {"type": "RSA", "bits": key.key_size}
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return {"type": "EC", "curve": key.curve.name, "bits": key.curve.key_size}
    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return {"type": "Ed25519", "bits": 256}
    if isinstance(key, (ed448.Ed448PrivateKey, ed448.Ed448PublicKey)):
        return {"type": "Ed448", "bits": 456}
    if isinstance(key, (dsa.DSAPrivateKey, dsa.DSAPublicKey)):
        return {"type": "DSA", "bits": key.key_size}
    return {"type": type(key).__name__}


def key_weakness(facts: dict) -> str | None:
    t, bits = facts.get("type"), facts.get("bits") or 0
    if t == "RSA" and bits < 2048:
        return f"RSA key of {bits} bits (< 2048)"
    if t == "DSA":
        return f"DSA key ({bits} bits): deprecated algorithm"
    if t == "EC" and (facts.get("curve") in WEAK_CURVES or bits < 256):
        return f"weak elliptic curve {facts.get('curve')}"
    return None


def _analyse_private(label: str, block: str, offset: int) -> PemFinding:
    data = block.encode("ascii", "ignore")
    _crypto()
    if label == "OPENSSH PRIVATE KEY":
        try:
            key = serialization.load_ssh_private_key(data, password=None)
            return PemFinding("private-key", label, _public_fingerprint(key.public_key()), offset,
                              facts=describe_key(key))
        except (ValueError, TypeError, NotImplementedError) as exc:
            if "password" in str(exc).lower() or "encrypted" in str(exc).lower():
                return PemFinding("encrypted-private-key", label, secret_fingerprint(data), offset)
            return PemFinding("unparsable-private-key", label, secret_fingerprint(data), offset)
    if label in ("PGP PRIVATE KEY BLOCK",):
        return PemFinding("private-key", label, secret_fingerprint(data), offset, facts={"type": "PGP"})
    if label == "ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED" in block:
        return PemFinding("encrypted-private-key", label, secret_fingerprint(data), offset)
    try:
        # The key is read only to fingerprint its public half and describe it (type, size). RSA key
        # validation (a consistency check of the primes, ~25 ms a key) adds nothing to that: a block
        # that parses is committed key material either way.
        key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    except TypeError:  # password protected
        return PemFinding("encrypted-private-key", label, secret_fingerprint(data), offset)
    except (ValueError, NotImplementedError, Exception):
        return PemFinding("unparsable-private-key", label, secret_fingerprint(data), offset)
    return PemFinding("private-key", label, _public_fingerprint(key.public_key()), offset, facts=describe_key(key))


def analyse_certificate(data: bytes, offset: int = 0, now: dt.datetime | None = None,
                        expiry_warn_days: int = 30) -> PemFinding:
    now = now or dt.datetime.now(dt.timezone.utc)
    _crypto()
    try:
        cert = x509.load_pem_x509_certificate(data)
    except Exception:
        return PemFinding("unparsable-certificate", "CERTIFICATE", public_fingerprint(data), offset)
    fp = "sha256:" + cert.fingerprint(hashes.SHA256()).hex()[:8]
    try:
        subject = cert.subject.rfc4514_string()
    except Exception:
        subject = "?"
    not_after = cert.not_valid_after_utc
    facts = {"subject": subject[:200], "not_after": not_after.date().isoformat()}
    problems: list[tuple[str, str]] = []
    self_signed = cert.issuer == cert.subject
    if not_after < now:
        problems.append(("medium", f"expired on {not_after.date().isoformat()}"))
    elif (not_after - now).days < expiry_warn_days:
        problems.append(("low", f"expires in {(not_after - now).days} days ({not_after.date().isoformat()})"))
    try:
        pub = cert.public_key()
        facts.update(describe_key(pub))
        weak = key_weakness(facts)
        if weak:
            problems.append(("high", weak))
    except Exception:
        pass
    try:
        algo = cert.signature_hash_algorithm
        name = algo.name if algo is not None else None
    except Exception:
        name = None
    if name:
        facts["signature_hash"] = name
        if name.lower() in WEAK_HASHES and not self_signed:
            problems.append(("medium", f"signed with {name.upper()}"))
    return PemFinding("certificate", "CERTIFICATE", fp, offset, problems=problems, facts=facts)


def scan_text(text: str, *, certificates: bool = True, now: dt.datetime | None = None) -> list[PemFinding]:
    """PEM private keys, certificates and age identities in a piece of text (and base64 of PEM)."""
    if not isinstance(text, str):
        return []
    out: list[PemFinding] = []
    if "-----BEGIN" in text:
        for m in PEM_BLOCK.finditer(text):
            label = m.group(1).strip()
            if any(label.endswith(p) for p in PRIVATE_MARKERS):
                out.append(_analyse_private(label, m.group(0), m.start()))
            elif label in ("CERTIFICATE", "TRUSTED CERTIFICATE") and certificates:
                out.append(analyse_certificate(m.group(0).encode("ascii", "ignore"), m.start(), now))
    if "AGE-SECRET-KEY-1" in text:
        for m in AGE_SECRET.finditer(text):
            out.append(PemFinding("age-secret-key", "AGE-SECRET-KEY", secret_fingerprint(m.group(0)), m.start()))
    if B64_PEM_PREFIX in text:
        for m in B64_BLOCK.finditer(text):
            decoded = decode_base64(m.group(0)) or decode_base64(m.group(0).split()[0])
            if decoded and "-----BEGIN" in decoded:
                for f in scan_text(decoded, certificates=certificates, now=now):
                    f.offset = m.start()
                    f.facts["encoding"] = "base64"
                    out.append(f)
    return out


def decode_base64(value: str) -> str | None:
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
