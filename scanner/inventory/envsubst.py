"""Flux post-build variable substitution: a port of fluxcd/pkg `envsubst` (parse/scan.go, parse.go,
template.go, funcs.go) as pinned by kustomize-controller v1.9 (envsubst v1.7).

The port keeps Go's quirks on purpose, because they decide what Flux deploys:
- the scanner works on UTF-8 bytes (`${#X}` counts bytes, `${X:1:2}` slices bytes);
- every `$$` outside `${...}` becomes `$`, `$VAR` without braces is left alone, `\\${X}` is not an
  escape, `${X-d}` is a parse error (only `=` directly after the name, or `:` then `=-?+`);
- every default-style operator returns the value when it is non-empty, else its arguments joined
  (`${X:+alt}` and `${X:?msg}` act as defaults), and nothing is ever assigned;
- the arguments of `${A:-${B}}` are evaluated before A is looked up, so strict mode fails on an unset
  B even where A is set;
- strict mode fails on an unset variable that is read bare or by a transforming operator
  (`${#X}`, `${X^^}`, `${X/a/b}`...), never on one given a default-style operator;
- a NUL byte ends the text (Go's scanner uses rune 0 as its end marker).

`substitute` is Flux's behaviour; `expand` adds what the scanner needs around it: the names that had
no value (so they can be reported) and names whose values cannot be read (a Secret's), whose
expressions are left exactly as written instead of being replaced.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Mapping

__all__ = ["EnvsubstError", "Expansion", "expand", "substitute", "variables_in"]


class EnvsubstError(ValueError):
    """A parse error or, in strict mode, a variable without a value. The message is Flux's."""

    def __init__(self, message: str, *, variable: str | None = None, position: int | None = None):
        super().__init__(message)
        self.variable = variable  # the unset variable (strict mode)
        self.position = position  # offset in the text where parsing failed (UTF-8 bytes)

    def line_in(self, text: str) -> int | None:
        """1-based line of `position` in `text`."""
        if self.position is None:
            return None
        return text.encode("utf-8", "surrogateescape")[: self.position].count(b"\n") + 1


# ---- the tree ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Text:
    value: str


@dataclass(slots=True)
class _Func:
    param: str
    name: str = ""
    args: list = field(default_factory=list)
    span: tuple[int, int] = (0, 0)  # (start, end) of `${...}` in the original bytes


# ---- the scanner (parse/scan.go) ---------------------------------------------------------------

_EOF = "\0"  # Go's scanner returns rune(0) at the end, so a NUL byte reads as the end too
_T_ILLEGAL, _T_EOF, _T_IDENT, _T_LBRACK, _T_RBRACK = range(5)
_SCAN_IDENT, _SCAN_LBRACK, _SCAN_RBRACK, _SCAN_ESCAPE = 1, 2, 4, 8
_DOLLAR, _BACKSLASH = 1, 2
_ESCAPE_ALL = _DOLLAR | _BACKSLASH

_ERR_BAD = "bad substitution"
_ERR_BRACE = "missing closing brace"
_ERR_NAME = "unable to parse variable name"
_ERR_FUNC = "unable to parse substitution within function"
_ERR_DEFAULT = "unable to parse default function"

# Deeper `${A:-${B:-...}}` nesting than this is refused rather than risking Python's stack (Go has
# no such limit; no real manifest comes near it).
MAX_NESTING = 64


def _decode_rune(buf: bytes, pos: int) -> tuple[str, int]:
    """utf8.DecodeRune: the character at `pos` and its width; U+FFFD width 1 for invalid bytes."""
    b = buf[pos]
    if b < 0x80:
        return chr(b), 1
    n = 2 if 0xC2 <= b <= 0xDF else 3 if 0xE0 <= b <= 0xEF else 4 if 0xF0 <= b <= 0xF4 else 0
    if n:
        try:
            return buf[pos : pos + n].decode("utf-8"), n
        except UnicodeDecodeError:
            pass
    return "\ufffd", 1


def _accept_rune(r, i):
    return True


def _accept_ident(r, i):
    return r.isalpha() or r.isdecimal() or r == "_"  # unicode.IsLetter / IsDigit


def _accept_colon(r, i):
    return r == ":"


def _accept_one_hash(r, i):
    return r == "#" and i == 1


def _accept_not_closing(r, i):
    return r != "}"


def _accept_hash_func(r, i):
    return r == "#" and i < 3


def _accept_percent_func(r, i):
    return r == "%" and i < 3


def _accept_default_func(r, i):
    return (i == 1 and r == ":") or (i == 2 and r in ("=", "-", "?", "+"))


def _accept_replace_func(r, i):
    return (i == 1 and r == "/") or (i == 2 and r in ("/", "#", "%"))


def _accept_one_equal(r, i):
    return i == 1 and r == "="


def _accept_one_colon(r, i):
    return i == 1 and r == ":"


def _reject_colon_close(r, i):
    return r != ":" and r != "}"


def _accept_slash(r, i):
    return r == "/"


def _accept_not_slash(r, i):
    return r != "/"


def _accept_casing_func(r, i):
    return r in (",", "^") and i < 3


class _Scanner:
    """scan.go, statement for statement (positions and widths in bytes, as in Go)."""

    __slots__ = ("buf", "pos", "start", "width", "mode", "escape_chars", "accept", "skips")

    def __init__(self, buf: bytes):
        self.buf = buf
        self.pos = self.start = self.width = 0
        self.mode = self.escape_chars = 0
        self.accept = _accept_rune
        self.skips = 0  # bytes removed by skip(): original offset = pos + skips

    def read(self) -> str:
        if self.pos >= len(self.buf):
            self.width = 0
            return _EOF
        r, self.width = _decode_rune(self.buf, self.pos)
        self.pos += self.width
        return r

    def unread(self) -> None:
        self.pos -= self.width

    def skip(self) -> None:
        # Go removes the escape character from the buffer and leaves pos where it is.
        self.buf = self.buf[: self.pos - 1] + self.buf[self.pos :]
        self.skips += 1

    def peek(self) -> str:
        r = self.read()
        self.unread()
        return r

    def string(self) -> str:
        return self.buf[self.start : self.pos].decode("utf-8", "surrogateescape")

    def scan(self) -> int:
        self.start = self.pos
        r = self.read()
        if r == _EOF:
            return _T_EOF
        if self.scan_lbrack(r):
            return _T_LBRACK
        if self.scan_rbrack(r):
            return _T_RBRACK
        if self.scan_ident(r):
            return _T_IDENT
        return _T_ILLEGAL

    def scan_ident(self, r: str) -> bool:
        if not self.mode & _SCAN_IDENT:
            return False
        if self.scan_escaped(r):
            self.skip()
        elif not self.accept(r, self.pos - self.start):
            return False
        while True:
            r = self.read()
            if r == _EOF:
                self.unread()
                break
            if self.scan_lbrack(r):
                self.unread()
                self.unread()
                break
            if self.scan_escaped(r):
                self.skip()
                continue
            if not self.accept(r, self.pos - self.start):
                self.unread()
                break
        return True

    def scan_lbrack(self, r: str) -> bool:
        if not self.mode & _SCAN_LBRACK:
            return False
        if r == "$":
            if self.read() == "{":
                return True
            self.unread()
        return False

    def scan_rbrack(self, r: str) -> bool:
        return bool(self.mode & _SCAN_RBRACK) and r == "}"

    def scan_escaped(self, r: str) -> bool:
        if not self.mode & _SCAN_ESCAPE:
            return False
        if r == "$" and self.escape_chars & _DOLLAR and self.peek() == "$":
            return True
        if r == "\\" and self.escape_chars & _BACKSLASH:
            return self.peek() in ("/", "\\")
        return False


# ---- the parser (parse/parse.go) ---------------------------------------------------------------

# The common references, `${NAME}` and `${NAME:=default}` (also `:-`, `:?`, `:+`, `=`), read in one
# match: an ASCII name (every character of it accepted by _accept_ident), and a default that holds no
# `}`, `$` or NUL (so no nested reference, no early end). Anything else takes the byte-by-byte path.
_PLAIN_REFERENCE = re.compile(rb"([A-Za-z0-9_]+)(?:(:[-=?+]|=)([^}$\x00]*))?(?=})")


class _Parser:
    def __init__(self, text: str):
        self.orig = text.encode("utf-8", "surrogateescape")
        self.s = _Scanner(self.orig)

    def fail(self, message: str):
        raise EnvsubstError(message, position=self.s.pos + self.s.skips)

    def parse(self) -> list:
        """parseAny, as a loop. Text between substitutions is cut here with `find` rather than byte by
        byte; it is exactly what Go's scanner yields in that mode (`$$` -> `$`, stop at `${`, NUL)."""
        s, nodes = self.s, []
        while True:
            buf = s.buf  # (a function's backslash escapes shorten the buffer before `pos`)
            pos, n = s.pos, len(buf)
            if pos >= n or buf[pos] == 0:
                return nodes
            if buf.startswith(b"${", pos):
                s.pos = pos + 2
                nodes.append(self.func_at(pos + s.skips, 1))
                continue
            out, i = bytearray(), pos
            while i < n:
                j = buf.find(b"$", i)
                z = buf.find(b"\0", i, j if j >= 0 else n)
                if z >= 0:
                    out += buf[i:z]
                    i = z
                    break
                if j < 0:
                    out += buf[i:]
                    i = n
                    break
                out += buf[i:j]
                nxt = buf[j + 1 : j + 2]
                if nxt == b"{":
                    i = j
                    break
                out += b"$"
                i = j + 2 if nxt == b"$" else j + 1
            s.pos = i
            nodes.append(_Text(out.decode("utf-8", "surrogateescape")))

    def func_at(self, begin: int, depth: int) -> _Func:
        """parseFunc after a `${` that started at original offset `begin`, recording its span."""
        if depth > MAX_NESTING:
            self.fail(f"substitutions nested deeper than {MAX_NESTING}")
        plain = _PLAIN_REFERENCE.match(self.s.buf, self.s.pos)
        node = self.plain_reference(plain) if plain else self.parse_func(depth)
        node.span = (begin, self.s.pos + self.s.skips)
        return node

    def plain_reference(self, match: re.Match) -> _Func:
        """A reference _PLAIN_REFERENCE matched, without stepping through it byte by byte: the node
        parse_func makes of it, and the scanner state it leaves (after the closing brace)."""
        s = self.s
        name, operator, default = match.groups()
        node = _Func(name.decode("ascii"))
        s.escape_chars = _ESCAPE_ALL
        s.accept = _accept_ident
        if operator:
            node.name = operator.decode("ascii")
            s.accept = _accept_one_equal if operator == b"=" else _accept_default_func
            if default:
                node.args.append(_Text(default.decode("utf-8", "surrogateescape")))
                s.accept = _accept_not_closing
        s.mode = _SCAN_RBRACK
        s.start, s.pos, s.width = match.end(), match.end() + 1, 1
        return node

    def parse_func(self, depth: int) -> _Func:
        s = self.s
        s.escape_chars = _ESCAPE_ALL
        if s.peek() == "#":
            return self.parse_len_func()
        s.accept, s.mode = _accept_ident, _SCAN_IDENT
        if s.scan() != _T_IDENT:
            self.fail(_ERR_NAME)
        name = s.string()
        r = s.peek()
        if r == ":":
            return self.parse_default_or_substr(name, depth)
        if r == "=":
            return self.parse_default_func(name, depth)
        if r in (",", "^"):
            return self.parse_casing_func(name)
        if r == "/":
            return self.parse_replace_func(name, depth)
        if r == "#":
            return self.parse_remove_func(name, _accept_hash_func, depth)
        if r == "%":
            return self.parse_remove_func(name, _accept_percent_func, depth)
        s.accept, s.mode = _accept_ident, _SCAN_RBRACK
        if s.scan() == _T_RBRACK:
            return _Func(name)
        self.fail(_ERR_BRACE)

    def parse_param(self, accept, mode: int, depth: int):
        s = self.s
        s.accept, s.mode = accept, mode | _SCAN_LBRACK
        t = s.scan()
        if t == _T_LBRACK:
            return self.func_at(s.pos - 2 + s.skips, depth + 1)
        if t in (_T_IDENT, _T_RBRACK):
            return _Text(s.string())
        self.fail(_ERR_FUNC)

    def parse_default_or_substr(self, name: str, depth: int) -> _Func:
        s = self.s
        s.read()
        r = s.peek()
        s.unread()  # (Go unreads by the width of the peeked rune, not of the colon: kept as is)
        if r in ("=", "-", "?", "+"):
            return self.parse_default_func(name, depth)
        return self.parse_substr_func(name, depth)

    def parse_substr_func(self, name: str, depth: int) -> _Func:
        s, node = self.s, _Func(name)
        s.accept, s.mode = _accept_one_colon, _SCAN_IDENT
        if s.scan() != _T_IDENT:
            self.fail(_ERR_BAD)
        node.name = s.string()
        node.args.append(self.parse_param(_reject_colon_close, _SCAN_IDENT, depth))
        s.accept, s.mode = _accept_colon, _SCAN_IDENT | _SCAN_RBRACK
        t = s.scan()
        if t == _T_RBRACK:
            return node
        if t != _T_IDENT:
            self.fail(_ERR_BAD)
        node.args.append(self.parse_param(_accept_not_closing, _SCAN_IDENT, depth))
        self.consume_rbrack()
        return node

    def parse_remove_func(self, name: str, accept, depth: int) -> _Func:
        s, node = self.s, _Func(name)
        s.accept, s.mode = accept, _SCAN_IDENT
        if s.scan() != _T_IDENT:
            self.fail(_ERR_BAD)
        node.name = s.string()
        node.args.append(self.parse_param(_accept_not_closing, _SCAN_IDENT, depth))
        self.consume_rbrack()
        return node

    def parse_replace_func(self, name: str, depth: int) -> _Func:
        s, node = self.s, _Func(name)
        s.accept, s.mode = _accept_replace_func, _SCAN_IDENT
        if s.scan() != _T_IDENT:
            self.fail(_ERR_BAD)
        node.name = s.string()
        if s.peek() == "/":  # an empty pattern (`${X/#/prefix}`): keep the two-argument shape
            node.args.append(_Text(""))
        else:
            node.args.append(self.parse_param(_accept_not_slash, _SCAN_IDENT | _SCAN_ESCAPE, depth))
        s.accept, s.mode = _accept_slash, _SCAN_IDENT
        if s.scan() != _T_IDENT:
            self.fail(_ERR_BAD)
        if s.peek() == "}":
            self.consume_rbrack()
            return node
        node.args.append(self.parse_param(_accept_not_closing, _SCAN_IDENT | _SCAN_ESCAPE, depth))
        self.consume_rbrack()
        return node

    def parse_default_func(self, name: str, depth: int) -> _Func:
        s, node = self.s, _Func(name)
        s.accept = _accept_one_equal if s.peek() == "=" else _accept_default_func
        s.mode = _SCAN_IDENT
        if s.scan() != _T_IDENT:
            self.fail(_ERR_DEFAULT)
        node.name = s.string()
        while True:
            if s.peek() == "}":
                self.consume_rbrack()
                return node
            node.args.append(self.parse_param(_accept_not_closing, _SCAN_IDENT, depth))

    def parse_casing_func(self, name: str) -> _Func:
        s, node = self.s, _Func(name)
        s.accept, s.mode = _accept_casing_func, _SCAN_IDENT
        if s.scan() != _T_IDENT:
            self.fail(_ERR_BAD)
        node.name = s.string()
        self.consume_rbrack()
        return node

    def parse_len_func(self) -> _Func:
        s, node = self.s, _Func("")
        s.accept, s.mode = _accept_one_hash, _SCAN_IDENT
        if s.scan() != _T_IDENT:
            self.fail(_ERR_BAD)
        node.name = s.string()
        s.accept, s.mode = _accept_ident, _SCAN_IDENT
        if s.scan() != _T_IDENT:
            self.fail(_ERR_BAD)
        node.param = s.string()
        self.consume_rbrack()
        return node

    def consume_rbrack(self) -> None:
        self.s.mode = _SCAN_RBRACK
        if self.s.scan() != _T_RBRACK:
            self.fail(_ERR_BAD)


def _parse(text: str) -> tuple[list, bytes]:
    p = _Parser(text)
    return p.parse(), p.orig


# ---- the string functions (funcs.go) -----------------------------------------------------------
# Values are str decoded from UTF-8 with surrogateescape, so byte-level slicing (Go strings are bytes)
# round-trips exactly.


def _b(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def _s(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _rune_case(c: str, upper: bool) -> str:
    """unicode.ToUpper/ToLower of one rune: the simple mapping only (Go never turns 'ß' into 'SS')."""
    if "\udc80" <= c <= "\udcff":
        return "\ufffd"  # an invalid byte decodes to RuneError in Go
    m = c.upper() if upper else c.lower()
    return m if len(m) == 1 else c


def _to_len(s, *args):
    return str(len(_b(s)))


def _to_lower(s, *args):
    return "".join(_rune_case(c, False) for c in s)


def _to_upper(s, *args):
    return "".join(_rune_case(c, True) for c in s)


def _to_lower_first(s, *args):
    return _rune_case(s[0], False) + s[1:] if s else s


def _to_upper_first(s, *args):
    return _rune_case(s[0], True) + s[1:] if s else s


def _to_default(s, *args):
    return "".join(args) if not s and args else s


_ATOI = re.compile(r"[+-]?[0-9]+\Z")


def _atoi(text: str) -> int | None:
    """strconv.Atoi: optional sign and ASCII digits only, within int64."""
    if not _ATOI.match(text):
        return None
    n = int(text)
    return n if -(2**63) <= n < 2**63 else None


def _to_substr(s, *args):
    if not args:
        return s
    pos = _atoi(args[0])
    if pos is None:
        return s  # bash returns the string when the position cannot be parsed
    b = _b(s)
    if pos < 0:
        pos = max(len(b) + pos, 0)
    if len(args) == 1:
        return _s(b[pos:]) if pos < len(b) else ""
    length = _atoi(args[1])
    if length is None:
        return s
    if length < 0:  # ${var:1:-1} drops the first and the last byte
        end = len(b) + length
        return "" if end < pos else _s(b[pos:end])
    if pos + length >= len(b):
        return _s(b[pos:]) if pos < len(b) else ""
    return _s(b[pos : pos + length])


def _replace_all(s, *args):
    if not args:
        return s
    return s.replace(args[0], args[1] if len(args) > 1 else "")


def _replace_first(s, *args):
    if not args:
        return s
    return s.replace(args[0], args[1] if len(args) > 1 else "", 1)


def _replace_prefix(s, *args):
    if len(args) != 2:
        return s
    return s.replace(args[0], args[1], 1) if s.startswith(args[0]) else s


def _replace_suffix(s, *args):
    if len(args) != 2:
        return s
    return s[: len(s) - len(args[0])] + args[1] if s.endswith(args[0]) else s


class _BadPattern(Exception):
    pass


def _get_esc(chunk: bytes) -> tuple[str, bytes]:
    if not chunk or chunk[:1] in (b"-", b"]"):
        raise _BadPattern
    if chunk[:1] == b"\\":
        chunk = chunk[1:]
        if not chunk:
            raise _BadPattern
    r, n = _decode_rune(chunk, 0)
    if r == "\ufffd" and n == 1:
        raise _BadPattern
    rest = chunk[n:]
    if not rest:
        raise _BadPattern
    return r, rest


def _match_chunk(chunk: bytes, s: bytes) -> bytes | None:
    """The rest of `s` after `chunk` matched at its start, or None (path.Match's matchChunk)."""
    while chunk:
        if not s:
            return None
        c = chunk[0]
        if c == 0x5B:  # '['
            r, n = _decode_rune(s, 0)
            s = s[n:]
            chunk = chunk[1:]
            negated = chunk[:1] == b"^"
            if negated:
                chunk = chunk[1:]
            match, nrange = False, 0
            while True:
                if chunk[:1] == b"]" and nrange > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[:1] == b"-":
                    hi, chunk = _get_esc(chunk[1:])
                if lo <= r <= hi:
                    match = True
                nrange += 1
            if match == negated:
                return None
        elif c == 0x3F:  # '?': any one character, '/' included in this fork
            _, n = _decode_rune(s, 0)
            s = s[n:]
            chunk = chunk[1:]
        else:
            if c == 0x5C:  # '\\'
                chunk = chunk[1:]
                if not chunk:
                    raise _BadPattern
            if chunk[0] != s[0]:
                return None
            s = s[1:]
            chunk = chunk[1:]
    return s


def _scan_chunk(pattern: bytes) -> tuple[bool, bytes, bytes]:
    star = False
    while pattern[:1] == b"*":
        pattern, star = pattern[1:], True
    inrange, i = False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == 0x5C:
            if i + 1 < len(pattern):
                i += 1
        elif c == 0x5B:
            inrange = True
        elif c == 0x5D:
            inrange = False
        elif c == 0x2A and not inrange:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _match(pattern: bytes, name: bytes) -> bool:
    """envsubst's fork of path.Match: shell patterns where `*` and `?` also match '/'."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return True  # a trailing * matches the rest
        t = _match_chunk(chunk, name)
        if t is not None and (not t or pattern):
            name = t
            continue
        if star:
            for i in range(len(name)):
                t = _match_chunk(chunk, name[i + 1 :])
                if t is not None:
                    if not pattern and t:
                        continue
                    name = t
                    break
            else:
                return False
            continue
        return False
    return not name


def _trim_shortest(s: bytes, pat: bytes) -> bytes:
    shortest = b""
    for i in range(len(s)):
        try:
            if _match(pat, s[: len(s) - i]):
                shortest = s[: len(s) - i]
        except (_BadPattern, IndexError):
            return s
    return s[len(shortest) :] if shortest else s


def _trim_longest(s: bytes, pat: bytes) -> bytes:
    for i in range(len(s)):
        try:
            if _match(pat, s[: len(s) - i]):
                return s[len(s) - i :]
        except (_BadPattern, IndexError):
            return s
    return s


def _reverse(s: str) -> str:
    return "".join("\ufffd" if "\udc80" <= c <= "\udcff" else c for c in reversed(s))


def _trim_shortest_prefix(s, *args):
    return _s(_trim_shortest(_b(s), _b(args[0]))) if args else s


def _trim_longest_prefix(s, *args):
    return _s(_trim_longest(_b(s), _b(args[0]))) if args else s


def _trim_shortest_suffix(s, *args):
    if not args:
        return s
    return _reverse(_s(_trim_shortest(_b(_reverse(s)), _b(_reverse(args[0])))))


def _trim_longest_suffix(s, *args):
    if not args:
        return s
    return _reverse(_s(_trim_longest(_b(_reverse(s)), _b(_reverse(args[0])))))


_FUNCS: dict[str, Callable] = {
    ",": _to_lower_first, ",,": _to_lower, "^": _to_upper_first, "^^": _to_upper,
    "##": _trim_longest_prefix, "%": _trim_shortest_suffix, "%%": _trim_longest_suffix,
    ":": _to_substr, "/#": _replace_prefix, "/%": _replace_suffix, "/": _replace_first, "//": _replace_all,
}

# The operators that tolerate an unset variable (template.go isDefaultOp): strict mode spares them.
_DEFAULT_OPS = frozenset({"-", "+", "=", "?", ":-", ":+", ":=", ":?"})


def _lookup_func(name: str, nargs: int) -> Callable:
    if name == "#":
        return _to_len if nargs == 0 else _trim_shortest_prefix
    return _FUNCS.get(name, _to_default)


# ---- evaluation (template.go) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expansion:
    """The result of `expand`: the text, the variables read without a value (those strict mode
    rejects; they became ""), and the unreadable variables whose expressions were left as written."""

    text: str
    undefined: frozenset[str]
    unreadable: frozenset[str]


class _Eval:
    def __init__(self, orig: bytes, variables: Mapping[str, str], strict: bool, unreadable):
        self.orig, self.variables, self.strict, self.unreadable = orig, variables, strict, unreadable
        self.undefined: set[str] = set()

    def node(self, node) -> tuple[str, frozenset]:
        """(text, unreadable names whose written form is in the text)."""
        if isinstance(node, _Text):
            return node.value, frozenset()
        args, kept = [], frozenset()
        for a in node.args:  # eager, as in Go: a strict-mode miss inside a default still fails
            text, k = self.node(a)
            args.append(text)
            kept |= k
        param, op = node.param, node.name
        if self.unreadable is not None and self.unreadable(param):
            return self.written(node), kept | {param}
        if param in self.variables:
            value = self.variables[param]
        else:
            value = ""
            if op not in _DEFAULT_OPS:
                if self.strict:
                    raise EnvsubstError(f'variable not set (strict mode): "{param}"', variable=param,
                                        position=node.span[0])
                self.undefined.add(param)
        if op in _DEFAULT_OPS or op == "":
            if value or not args:
                return value, frozenset()
            return "".join(args), kept
        if kept:  # a transformation whose pattern or replacement cannot be read
            return self.written(node), kept
        return _lookup_func(op, len(args))(value, *args), frozenset()

    def written(self, node: _Func) -> str:
        start, end = node.span
        return _s(self.orig[start:end])


def expand(text: str, variables: Mapping[str, str], *, strict: bool,
           unreadable: Callable[[str], bool] | None = None) -> Expansion:
    """Substitute as Flux does, and say what could not be resolved.

    `unreadable(name)` marks variables whose value exists but must not or cannot be read (a Secret's):
    each `${...}` that would need such a value is left exactly as written, and never becomes "".
    Raises EnvsubstError on a parse error and, in strict mode, on a variable without a value."""
    if "$" not in text and "\0" not in text:
        return Expansion(text, frozenset(), frozenset())
    nodes, orig = _parse(text)
    ev = _Eval(orig, variables, strict, unreadable)
    parts, kept = [], frozenset()
    for n in nodes:
        t, k = ev.node(n)
        parts.append(t)
        kept |= k
    out = "".join(parts)
    try:
        _b(out).decode("utf-8")
    except UnicodeDecodeError as exc:  # a substring split a multi-byte character
        raise EnvsubstError(f"the result is not valid UTF-8 ({exc.reason})") from None
    return Expansion(out, frozenset(ev.undefined), kept)


def substitute(text: str, variables: Mapping[str, str], *, strict: bool) -> str:
    """envsubst.Eval with Flux's mapper: non-strict reads an unknown name as "", strict fails on it."""
    return expand(text, variables, strict=strict).text


def variables_in(text: str) -> set[str]:
    """The names `text` refers to, nested ones included. Raises EnvsubstError on a parse error."""
    if "${" not in text:
        return set()
    found: set[str] = set()
    stack = list(_parse(text)[0])
    while stack:
        n = stack.pop()
        if isinstance(n, _Func):
            found.add(n.param)
            stack.extend(n.args)
    return found
