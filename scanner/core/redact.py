"""Text that leaves the scanner: credentials in URLs removed, undecodable file names made printable.

The scanned repo is untrusted and so is every string taken from it. A remote such as
`https://x-access-token:TOKEN@github.com/org/repo.git`, a Flux source URL with a password or a
`?token=` query would otherwise be copied into every report, snapshot and terminal line; a file
name of invalid UTF-8 (kept as lone surrogates by `surrogateescape`) would crash a UTF-8 writer.
"""
from __future__ import annotations

import re

REDACTED = "REDACTED"
# scheme://userinfo@ : the whole userinfo goes (a bare `https://TOKEN@host` is as common as user:pass),
# except the conventional non-secret user names of SSH remotes.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{0,30}://)([^/@\s?#\"'<>]+)@")
_PUBLIC_USERS = frozenset({"git", "ssh", "hg", "anonymous"})
# Query parameters whose value is a credential: tokens, keys, signatures (S3/Azure SAS), passwords.
_QUERY_SECRET = re.compile(
    r"(?i)([?&;](?:[a-z0-9_.\-]*?(?:token|key|secret|sig|signature|password|passwd|pwd|auth|credential|session)"
    r"[a-z0-9_.\-]*)=)([^&#\s\"'<>]+)")
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def _userinfo(m: re.Match) -> str:
    user = m.group(2)
    if user.lower() in _PUBLIC_USERS:
        return m.group(0)
    return f"{m.group(1)}{REDACTED}@"


def redact_urls(text: str) -> str:
    """`text` with the userinfo and credential-like query values of every URL in it replaced."""
    if "@" in text and "://" in text:
        text = _USERINFO.sub(_userinfo, text)
    return redact_urls_query(text)


def url_without_credentials(url: str) -> str:
    """A URL for a link: its userinfo dropped (not replaced), credential-like query values redacted."""
    return _USERINFO.sub(lambda m: _userinfo(m).replace(f"{REDACTED}@", ""), redact_urls_query(url))


def redact_urls_query(text: str) -> str:
    if "=" in text and ("?" in text or "&" in text or ";" in text):
        text = _QUERY_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def _escape_surrogate(m: re.Match) -> str:
    code = ord(m.group(0))
    # surrogateescape keeps an undecodable byte b as U+DC00+b: show the byte, as git and ls do
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def printable_name(text: str) -> str:
    """A file name that every UTF-8 writer accepts: undecodable bytes shown as `\\xNN`."""
    return _SURROGATES.sub(_escape_surrogate, text)


def clean(text: str) -> str:
    """One string of a report: URLs redacted, lone surrogates escaped."""
    if "://" in text or "=" in text:
        text = redact_urls(text)
    if not text.isascii():  # only non-ASCII text can hold a surrogate
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = printable_name(text)
    return text


_ATOMS = (int, float, bool, type(None))


def clean_tree(node):
    """The report tree with `clean` applied to every string (keys too), in place where possible.

    A report repeats the same strings (statuses, kinds, namespaces, remediations, its own keys) and
    shares objects (one location dict per file and line): each distinct string is cleaned once and
    each shared dict or list walked once (`clean` of a clean string changes nothing). Plain strings,
    dicts and lists, the bulk of a report, are handled inline: this walks every node of the report."""
    cleaned: dict[str, str] = {}
    seen: dict[int, object] = {}  # id -> the object, held so that no id is reused during the walk

    def text(s: str) -> str:
        if type(s) is not str:  # a str subclass keeps its type when `clean` leaves it unchanged
            return clean(s)
        out = cleaned.get(s)
        if out is None:
            out = cleaned[s] = clean(s)
        return out

    def walk(node):
        kind = type(node)
        if kind is str:
            return text(node)
        if kind is dict or kind is list or isinstance(node, (dict, list)):
            if id(node) in seen:
                return node
            seen[id(node)] = node
            if isinstance(node, dict):
                _walk_dict(node)
            else:
                for i, v in enumerate(node):
                    nv = walk(v)
                    if nv is not v:
                        node[i] = nv
            return node
        if isinstance(node, str):
            return clean(node)
        if isinstance(node, tuple):
            return tuple(walk(v) for v in node)
        return node

    def _walk_dict(node: dict) -> None:
        for k in list(node):
            v = node[k]
            vk = type(v)
            if vk is str:
                nv = cleaned.get(v)
                if nv is None:
                    nv = cleaned[v] = clean(v)
            elif vk in _ATOMS:
                nv = v
            else:
                nv = walk(v)
            if type(k) is str:
                nk = cleaned.get(k)
                if nk is None:
                    nk = cleaned[k] = clean(k)
            elif isinstance(k, str):
                nk = clean(k)
            else:
                nk = k
            if nk is not k and nk != k:  # a key changed: moved to the end
                del node[k]
                node[nk] = nv
            elif nv is not v:
                node[k] = nv

    return walk(node)


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """A line for the terminal: control characters (escape sequences, CR, bidi overrides) shown as
    `\\xNN`/`\\uNNNN` rather than acted on (a newline in a file name included); tabs are kept."""
    text = clean(text)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}" if ord(m.group(0)) < 0x100
                        else f"\\u{ord(m.group(0)):04x}", text)
