"""What may hold a secret value in the clear: such text is never written to a cache, and the leak
scanner only runs its detectors where a token shape may be."""
from __future__ import annotations

from scanner.core.redact import redact_urls


def holds_plain_secret_data(body: object) -> bool:
    """A Secret with a `data`/`stringData` value that is not SOPS ciphertext (`ENC[...]`)."""
    if not isinstance(body, dict) or body.get("kind") != "Secret":
        return False
    for key in ("data", "stringData"):
        values = body.get(key)
        if isinstance(values, dict):
            if any(not (isinstance(v, str) and v.startswith("ENC[")) for v in values.values()):
                return True
        elif values:
            return True
    return False


# The fixed prefixes of the token shapes detect-secrets' plugins find (scanner.analysis.leakscan):
# a text with none of them holds none of those tokens.
TOKEN_PREFIXES = (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_", b"A3T", b"ABIA", b"ACCA", b"AKIA",
                  b"ASIA", b"xox", b"XOX", b"Xox", b"hooks.slack.com", b"eyJ", b"PRIVATE KEY", b"k_live_", b"SG.",
                  b"glpat-", b"gldt-", b"glptt-", b"glrt-", b"glcbt-", b"gloas-", b"glsoat-", b"glft-", b"glimt-",
                  b"glagent-", b"GR1348941", b"_authToken=", b"pypi-AgE", b"T3BlbkFJ", b"AccountKey=", b"sq0csp-")


def may_hold_token(data: bytes) -> bool:
    """True when `data` holds a prefix of a token shape (substring tests: memchr-fast, unlike a
    regex alternation)."""
    for literal in TOKEN_PREFIXES:
        if literal in data:
            return True
    return False


def may_hold_secret_text(text: str) -> bool:
    """Text no cache may copy: a URL with credentials (`https://user:TOKEN@host`, `?token=`) or the
    prefix of a token shape. (Values recognised only by their key name, `password: x`, stay where
    the repository keeps them and in the caches, like the rest of its text.)"""
    return redact_urls(text) != text or may_hold_token(text.encode("utf-8", "surrogatepass"))
