"""Credentials by their shape in any text file, with Yelp's detect-secrets plugins.

The rule set is detect-secrets' (one plugin per secret type: GitHub, AWS, Slack, private keys,
JWTs, Stripe, GitLab, ...), plus a plugin of the same form for GitHub's fine-grained tokens, which
detect-secrets 1.5 does not know. High-entropy values are judged with its Shannon entropy limits,
on `KEY=value` lines of files that are not YAML (dotenv, `.key`, properties) where a value stands
alone. Every file is read as bytes: NUL bytes, invalid UTF-8 and CRLF line ends do not hide a
token, and a file over the size limit is read in bounded chunks, never skipped.

Nothing returned holds a value: a `Leak` has the line, the secret type, the key name when the line
has one, and a fingerprint only when the caller gives a keyed fingerprint function.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from scanner.core.secretdata import may_hold_token
from scanner.sources.readfile import UnreadableFile, read_regular_chunks

CHUNK_BYTES = 1 << 20
MAX_LINE_BYTES = 64 * 1024  # a longer "line" (minified JSON) is scanned in pieces of this size
# SOPS values are ciphertext in base64: masked before scanning, so random ciphertext never
# happens to spell a token shape.
_SOPS_VALUE = re.compile(rb"ENC\[AES256_GCM,[^\]]*\]")
# A file with none of the token prefixes cannot match the plugins below: the plugins (and
# detect-secrets' import, ~0.3 s) are only paid for where a token may be.
_gated = may_hold_token
# Dotenv-like `KEY=value` (or `KEY: value`) lines, for the entropy judgement.
_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*[=:]\s*[\"']?([^\s\"'#]{16,})[\"']?\s*(?:#.*)?$")
_NOT_SECRET_VALUE = re.compile(r"^(?:https?://|/|\./|\$\{|\{\{|ENC\[|sha256:|sha512-|[0-9.]+$)")
ENTROPY_SUFFIXES = (".env", ".key", ".properties", ".ini", ".cfg", ".conf", ".txt", ".pem", ".secret", ".token")
LOCK_FILES = re.compile(r"(?:^|/)(?:[^/]*\.lock(?:\.json)?|package-lock\.json|yarn\.lock|go\.sum|Cargo\.lock|"
                        r"poetry\.lock|Pipfile\.lock|composer\.lock|Gemfile\.lock|pnpm-lock\.yaml)$", re.I)


@dataclass(frozen=True, slots=True)
class Leak:
    """A credential found in a file: never its value."""

    line: int
    secret_type: str  # detect-secrets' name, e.g. "GitHub Token", "AWS Access Key", "High Entropy String"
    key: str | None = None  # the KEY of a `KEY=value` line, when there is one
    fingerprint: str | None = None  # keyed (HMAC) fingerprint, only when the caller has a key


_PLUGINS: list | None = None
_ENTROPY: list | None = None


def _plugins() -> list:
    """detect-secrets' shape plugins, instantiated once (imported on first need)."""
    global _PLUGINS, _ENTROPY
    if _PLUGINS is None:
        from detect_secrets.plugins.aws import AWSKeyDetector
        from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
        from detect_secrets.plugins.base import RegexBasedDetector
        from detect_secrets.plugins.github_token import GitHubTokenDetector
        from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
        from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString, HexHighEntropyString
        from detect_secrets.plugins.jwt import JwtTokenDetector
        from detect_secrets.plugins.npm import NpmDetector
        from detect_secrets.plugins.openai import OpenAIDetector
        from detect_secrets.plugins.private_key import PrivateKeyDetector
        from detect_secrets.plugins.pypi_token import PypiTokenDetector
        from detect_secrets.plugins.sendgrid import SendGridDetector
        from detect_secrets.plugins.slack import SlackDetector
        from detect_secrets.plugins.square_oauth import SquareOAuthDetector
        from detect_secrets.plugins.stripe import StripeDetector

        class GitHubFineGrainedTokenDetector(RegexBasedDetector):
            """GitHub fine-grained personal access tokens (`github_pat_`), unknown to detect-secrets 1.5."""

            secret_type = "GitHub Token"
            denylist = [re.compile(r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}")]

        _PLUGINS = [cls() for cls in (
            GitHubTokenDetector, GitHubFineGrainedTokenDetector, AWSKeyDetector, SlackDetector, PrivateKeyDetector,
            JwtTokenDetector, StripeDetector, GitLabTokenDetector, SendGridDetector, NpmDetector, PypiTokenDetector,
            OpenAIDetector, AzureStorageKeyDetector, SquareOAuthDetector)]
        _ENTROPY = [Base64HighEntropyString(), HexHighEntropyString()]
    return _PLUGINS


def _high_entropy(value: str) -> bool:
    _plugins()
    for plugin in _ENTROPY:
        if all(c in plugin.charset for c in value) and plugin.calculate_shannon_entropy(value) > plugin.entropy_limit:
            return True
    return False


def _lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, line) over byte chunks, CR/LF or LF ends, lines longer than MAX_LINE_BYTES cut."""
    number = 1
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            line = data[start:end]
            for i in range(0, max(len(line), 1), MAX_LINE_BYTES):
                yield number, line[i:i + MAX_LINE_BYTES]
            number += 1
            start = end + 1
        carry = data[start:]
        if len(carry) > MAX_LINE_BYTES:  # no newline yet: scan what is there (with a little overlap)
            yield number, carry
            carry = carry[-256:]
    if carry:
        yield number, carry


def _entropy_file(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1].lower()
    return (name.endswith(ENTROPY_SUFFIXES) or name.startswith(".env")) and not LOCK_FILES.search(rel)


def scan_chunks(rel: str, chunks: Iterable[bytes], *, fingerprint: Callable[[str], str] | None = None) -> list[Leak]:
    """The leaks of one file given as byte chunks (the whole file, or bounded pieces of a large one)."""
    entropy = _entropy_file(rel)
    found: list[Leak] = []
    seen: set[tuple[int, str]] = set()
    plugins = None
    for number, raw in _lines(chunks):
        if b"ENC[" in raw:
            raw = _SOPS_VALUE.sub(b"ENC[]", raw)
        gated = _gated(raw)
        if not gated and not entropy:
            continue
        line = raw.decode("utf-8", "replace").replace("\x00", " ").rstrip("\r")
        key = None
        m = _ASSIGNMENT.match(line)
        if m:
            key = m.group(1)
        if gated:
            plugins = plugins or _plugins()
            for plugin in plugins:
                for value in plugin.analyze_string(line):
                    if (number, plugin.secret_type) in seen:
                        continue
                    seen.add((number, plugin.secret_type))
                    found.append(Leak(number, plugin.secret_type, key, fingerprint(value) if fingerprint else None))
        if entropy and m and not any(n == number for n, _ in seen):
            value = m.group(2)
            if not key.lower().startswith("sops_") and not _NOT_SECRET_VALUE.match(value) and _high_entropy(value):
                seen.add((number, "High Entropy String"))
                found.append(Leak(number, "High Entropy String", key, fingerprint(value) if fingerprint else None))
    return found


def looks_binary(head: bytes) -> bool:
    """An image, archive or other binary: mostly bytes that are not text (a NUL here and there in a
    text file, or Latin-1, is still text and is scanned)."""
    if not head:
        return False
    return len(head.translate(None, _TEXT_BYTES)) > 0.3 * len(head)


_TEXT_BYTES = bytes([9, 10, 13, *range(32, 127), *range(128, 256)])


def scan_file(root: str, rel: str, data: bytes | None = None, *,
              fingerprint: Callable[[str], str] | None = None) -> list[Leak]:
    """The leaks of one file: `data` when the caller read it already, else read in bounded chunks.
    Raises UnreadableFile (a FIFO, a device, permission denied)."""
    if data is not None:
        # Most files hold no token prefix at all: one search of the whole file answers for them.
        if (not _entropy_file(rel) and not _gated(data)) or looks_binary(data[:8192]):
            return []
        return scan_chunks(rel, [data], fingerprint=fingerprint)
    import os

    chunks = read_regular_chunks(os.path.join(root, rel), CHUNK_BYTES)
    first = next(chunks, b"")
    if looks_binary(first[:8192]):
        chunks.close()
        return []

    def all_chunks():
        yield first
        yield from chunks

    return scan_chunks(rel, all_chunks(), fingerprint=fingerprint)


__all__ = ["Leak", "UnreadableFile", "scan_chunks", "scan_file", "looks_binary"]
