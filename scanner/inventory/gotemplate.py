"""A subset of Go's text/template with slim-sprig functions, enough to render flux-operator
ResourceSet templates (`<< inputs.id >>`, `<< inputs.x | quote >>`, if/else/range/with, variables,
parenthesised pipelines) offline, with Go's semantics where they decide the output:
missingkey=error, `<no value>` for nil, Go's truth, %q quoting, map ranges in key order.

Anything outside the subset (define/template/block, methods, an unknown function) is a
TemplateError naming it, never a silently wrong render. A value marked `Unknown` (an input the repo
cannot give, such as a provider's cluster-assigned id) raises UnknownValue as soon as a template uses
it, so the caller can report the objects that depend on it instead of guessing.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["TemplateError", "Unknown", "UnknownValue", "render"]


class TemplateError(ValueError):
    pass


class UnknownValue(Exception):
    """A template used a value that cannot be known offline."""

    def __init__(self, unknown: "Unknown"):
        super().__init__(unknown.reason)
        self.unknown = unknown


@dataclass(frozen=True)
class Unknown:
    reason: str


# ---- lexing ------------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    \s+ |
    (?P<str>"(?:[^"\\\n]|\\.)*") | (?P<raw>`[^`]*`) | (?P<char>'(?:[^'\\]|\\.)+') |
    (?P<num>[-+]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][-+]?\d+)?)(?![\w.])) |
    (?P<decl>:=) | (?P<assign>=) | (?P<pipe>\|) | (?P<lp>\() | (?P<rp>\)) | (?P<comma>,) |
    (?P<var>\$\w*(?:\.\w+)*) | (?P<field>(?:\.\w+)+|\.) | (?P<ident>\w+(?:\.\w+)*)
""", re.VERBOSE)

_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}


def _tokens(src: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise TemplateError(f"unexpected {src[pos:pos + 10]!r} in action")
        pos = m.end()
        if m.lastgroup:
            out.append((m.lastgroup, m.group(m.lastgroup)))
    return out


# ---- the tree ----------------------------------------------------------------------------------


@dataclass
class _Pipe:
    decl: list[str]
    assign: bool  # `=` rather than `:=`
    cmds: list[list]  # each command: a list of operands


@dataclass
class _If:
    kind: str  # if / with / range
    pipe: _Pipe
    body: list = field(default_factory=list)
    orelse: list = field(default_factory=list)


class _Parser:
    def __init__(self, text: str, left: str, right: str):
        self.text, self.left, self.right, self.pos = text, left, right, 0

    def actions(self):
        """(leading text, action source) pairs with Go's `<<- ` / ` ->>` trimming applied."""
        text, left, right, pos = self.text, self.left, self.right, 0
        trim_next = False
        while True:
            i = text.find(left, pos)
            if i < 0:
                chunk = text[pos:]
                yield (chunk.lstrip() if trim_next else chunk), None
                return
            chunk = text[pos:i]
            if trim_next:
                chunk = chunk.lstrip()
            j = i + len(left)
            if text[j:j + 1] == "-" and text[j + 1:j + 2] in (" ", "\t", "\r", "\n"):
                chunk, j = chunk.rstrip(), j + 1
            if text.startswith("/*", j) or text.startswith(" /*", j):
                end = text.find("*/", j)
                k = text.find(right, end) if end >= 0 else -1
                if k < 0:
                    raise TemplateError("unclosed comment")
                trim_next = text[end + 2:k].strip() == "-"
                yield chunk, ""
                pos = k + len(right)
                continue
            k = self._close(j)
            src = text[j:k]
            trim_next = src.endswith((" -", "\t-", "\n-", "\r-"))
            if trim_next:
                src = src[:-1]
            yield chunk, src
            pos = k + len(right)

    def _close(self, j: int) -> int:
        """Where the action starting at `j` closes, skipping delimiters inside quoted strings."""
        text, right = self.text, self.right
        i, quote = j, None
        while i < len(text):
            c = text[i]
            if quote:
                if c == "\\" and quote != "`":
                    i += 2
                    continue
                if c == quote:
                    quote = None
            elif c in "\"'`":
                quote = c
            elif text.startswith(right, i):
                return i
            i += 1
        raise TemplateError(f"unclosed action (no {right!r})")

    def parse(self) -> list:
        root: list = []
        stack: list[tuple[_If | None, list]] = [(None, root)]
        for chunk, src in self.actions():
            if chunk:
                stack[-1][1].append(chunk)
            if src is None or src == "":
                continue
            toks = _tokens(src)
            if not toks:
                raise TemplateError("missing value for command")
            kind, word = toks[0]
            if kind == "ident" and word in _KEYWORDS:
                rest = toks[1:]
                if word in ("if", "with", "range"):
                    node = _If(word, self.pipe(rest, allow_decl=True))
                    stack[-1][1].append(node)
                    stack.append((node, node.body))
                elif word == "else":
                    top = stack[-1][0]
                    if top is None:
                        raise TemplateError("unexpected {{else}}")
                    if rest and rest[0] == ("ident", "if") or rest and rest[0] == ("ident", "with"):
                        inner = _If(rest[0][1], self.pipe(rest[1:], allow_decl=True))
                        top.orelse.append(inner)
                        stack[-1] = (inner, inner.body)  # closed by the same {{end}}
                    else:
                        stack[-1] = (top, top.orelse)
                elif word == "end":
                    if len(stack) == 1:
                        raise TemplateError("unexpected {{end}}")
                    stack.pop()
                else:
                    raise TemplateError(f"{{{{{word}}}}} is not supported offline")
                continue
            stack[-1][1].append(self.pipe(toks, allow_decl=True))
        if len(stack) != 1:
            raise TemplateError("unexpected EOF: an if/range/with has no end")
        return root

    def pipe(self, toks: list, allow_decl: bool) -> _Pipe:
        decl, assign = [], False
        kinds = [t[0] for t in toks[:4]]
        if allow_decl and kinds[:2] in (["var", "decl"], ["var", "assign"]):
            decl, assign, toks = [toks[0][1]], kinds[1] == "assign", toks[2:]
        elif allow_decl and kinds == ["var", "comma", "var", "decl"]:  # range $i, $v :=
            decl, toks = [toks[0][1], toks[2][1]], toks[4:]
        cmds, cur, depth, i = [], [], 0, 0
        while i < len(toks):
            kind, val = toks[i]
            if kind == "pipe":
                if not cur:
                    raise TemplateError("missing command before |")
                cmds.append(cur)
                cur = []
            elif kind == "lp":
                j, depth = i + 1, 1
                while j < len(toks) and depth:
                    depth += {"lp": 1, "rp": -1}.get(toks[j][0], 0)
                    j += 1
                if depth:
                    raise TemplateError("unclosed left paren")
                inner = self.pipe(toks[i + 1:j - 1], allow_decl=False)
                chain = ""
                if j < len(toks) and toks[j][0] == "field":
                    chain, j = toks[j][1], j + 1
                cur.append(("paren", inner, chain))
                i = j
                continue
            elif kind in ("rp", "comma", "decl", "assign"):
                raise TemplateError(f"unexpected {val!r} in command")
            else:
                cur.append((kind, val))
            i += 1
        if cur:
            cmds.append(cur)
        if not cmds:
            raise TemplateError("missing value for command")
        return _Pipe(decl, assign, cmds)


# ---- values, as Go prints and compares them ----------------------------------------------------


def _check(v):
    if isinstance(v, Unknown):
        raise UnknownValue(v)
    return v


def _go_float(f: float) -> str:
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == int(f) and abs(f) < 1e21:
        return str(int(f))
    r = repr(f)
    if "e" in r:
        mant, exp = r.split("e")
        sign = "-" if exp.startswith("-") else "+"
        return f"{mant.rstrip('0').rstrip('.') if '.' in mant else mant}e{sign}{abs(int(exp)):02d}"
    return r


def _str(v) -> str:
    """fmt's %v."""
    _check(v)
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _go_float(v)
    if isinstance(v, dict):
        return "map[" + " ".join(f"{_str(k)}:{_str(v[k])}" for k in sorted(v, key=str)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_str(x) for x in v) + "]"
    return str(v)


def _truth(v) -> bool:
    _check(v)
    if v is None or v is False:
        return False
    if isinstance(v, (int, float, str, list, dict, tuple)):
        return bool(v)
    return True


def _go_quote(s: str) -> str:
    """strconv.Quote."""
    out = ['"']
    for c in s:
        o = ord(c)
        if c in ('"', "\\"):
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif c in "\a\b\f\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}[c])
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif c.isprintable() or c == " ":
            out.append(c)
        elif o < 0x10000:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def _strval(v) -> str:
    return v if isinstance(v, str) else _str(v)


def _empty(v) -> bool:
    return not _truth(v)


def _num(v):
    _check(v)
    if isinstance(v, bool) or v is None:
        return 0
    if isinstance(v, (int, float)):
        return v
    try:
        return int(str(v))
    except ValueError:
        try:
            return float(str(v))
        except ValueError:
            return 0


def _to_yaml(v) -> str:
    from scanner.inventory.postbuild import to_flux_yaml  # sigs.k8s.io/yaml Marshal: sorted, unfolded

    return "" if v is None else to_flux_yaml(v)


def _indent(n, s) -> str:
    pad = " " * int(_num(n))
    return pad + _strval(s).replace("\n", "\n" + pad)


def _slugify(s) -> str:
    """gosimple/slug Make with MaxLength 63 and smart truncation (as flux-operator sets it)."""
    text = unicodedata.normalize("NFKD", _strval(s)).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9_-]+", "-", text)
    text = re.sub(r"-+", "-", text).strip("-_")
    if len(text) > 63:
        cut = text[:64]
        i = cut.rfind("-")
        text = cut[:i] if 0 < i <= 63 else text[:63]
    return text


def _printf(fmt, *args) -> str:
    out, i, n = [], 0, 0
    while i < len(fmt):
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        m = re.match(r"%([-+ 0#]*)(\d*)(?:\.(\d+))?([a-zA-Z%])", fmt[i:])
        if not m:
            out.append(c)
            i += 1
            continue
        verb = m.group(4)
        i += m.end()
        if verb == "%":
            out.append("%")
            continue
        if n >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        a = _check(args[n])
        n += 1
        if verb in "sv":
            s = _strval(a)
        elif verb == "q":
            s = _go_quote(_strval(a))
        elif verb == "d":
            s = str(int(_num(a)))
        elif verb == "t":
            s = _str(bool(a))
        elif verb in "fFeEgG":
            prec = m.group(3)
            s = format(float(_num(a)), f".{prec or 6}{verb}")
        elif verb in "xX":
            s = format(int(_num(a)), verb) if not isinstance(a, str) else a.encode().hex()
        else:
            raise TemplateError(f"printf verb %{verb} is not supported offline")
        width = int(m.group(2) or 0)
        s = s.ljust(width) if "-" in m.group(1) else s.rjust(width)
        out.append(s)
    return "".join(out)


def _index(v, *keys):
    for k in keys:
        _check(v)
        if isinstance(v, dict):
            v = v.get(k)
        elif isinstance(v, list):
            k = int(_num(k))
            if not 0 <= k < len(v):
                raise TemplateError(f"error calling index: index out of range: {k}")
            v = v[k]
        elif v is None:
            raise TemplateError("error calling index: index of untyped nil")
        else:
            raise TemplateError(f"error calling index: can't index item of type {type(v).__name__}")
    return v


def _eq(a, *bs):
    a = _check(a)
    for b in bs:
        b = _check(b)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            if a == b:
                return True
        elif a == b and type(a) is type(b):
            return True
    return False


def _cmp(op):
    def f(a, b):
        a, b = _check(a), _check(b)
        if isinstance(a, str) != isinstance(b, str):
            raise TemplateError("incompatible types for comparison")
        return op(a, b)
    return f


def _fail(msg):
    raise TemplateError(f"error calling fail: {_strval(msg)}")


def _default(d, *given):
    v = given[0] if given else None
    return d if _empty(v) else v


def _ternary(a, b, cond):
    return a if _truth(cond) else b


def _dict(*kv):
    return {_strval(kv[i]): (kv[i + 1] if i + 1 < len(kv) else "") for i in range(0, len(kv), 2)}


def _split_list(sep, s):
    return _strval(s).split(_strval(sep))


def _trunc(n, s):
    s, n = _strval(s), int(_num(n))
    return s[:n] if n >= 0 else s[n:] if -n < len(s) else s


def _substr(start, end, s):
    s, a, b = _strval(s), int(_num(start)), int(_num(end))
    if a < 0:
        return s[:b] if 0 <= b <= len(s) else s
    if b < 0 or b > len(s):
        return s[a:] if a <= len(s) else ""
    return s[a:b] if a <= b else ""


def _words(s):
    return re.findall(r"[A-Z]+(?=[A-Z][a-z]|\b|_|\d)|[A-Z]?[a-z]+|\d+|[A-Z]+", _strval(s))


FUNCS: dict[str, Callable] = {
    # Go's builtins
    "and": None, "or": None,  # (short-circuit: evaluated in _Exec)
    "not": lambda v: not _truth(v),
    "len": lambda v: len(_check(v)) if v is not None else 0,
    "index": _index,
    "print": lambda *a: "".join(_strval(x) for x in a),
    "println": lambda *a: " ".join(_strval(x) for x in a) + "\n",
    "printf": _printf,
    "eq": _eq, "ne": lambda a, b: not _eq(a, b),
    "lt": _cmp(lambda a, b: a < b), "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b), "ge": _cmp(lambda a, b: a >= b),
    # slim-sprig (hermetic text functions) used by ResourceSets
    "quote": lambda *a: " ".join(_go_quote(_strval(x)) for x in a if x is not None),
    "squote": lambda *a: " ".join(f"'{_strval(x)}'" for x in a if x is not None),
    "upper": lambda s: _strval(s).upper(), "lower": lambda s: _strval(s).lower(),
    "title": lambda s: re.sub(r"\b\w", lambda m: m.group(0).upper(), _strval(s)),
    "trim": lambda s: _strval(s).strip(), "trimAll": lambda c, s: _strval(s).strip(_strval(c)),
    "trimPrefix": lambda p, s: _strval(s).removeprefix(_strval(p)),
    "trimSuffix": lambda p, s: _strval(s).removesuffix(_strval(p)),
    "replace": lambda old, new, s: _strval(s).replace(_strval(old), _strval(new)),
    "contains": lambda sub, s: _strval(sub) in _strval(s),
    "hasPrefix": lambda p, s: _strval(s).startswith(_strval(p)),
    "hasSuffix": lambda p, s: _strval(s).endswith(_strval(p)),
    "repeat": lambda n, s: _strval(s) * int(_num(n)),
    "nospace": lambda s: re.sub(r"\s", "", _strval(s)),
    "trunc": _trunc, "substr": _substr,
    "indent": _indent, "nindent": lambda n, s: "\n" + _indent(n, s),
    "toString": _strval, "toJson": lambda v: json.dumps(_check(v), separators=(",", ":"), sort_keys=True),
    "toPrettyJson": lambda v: json.dumps(_check(v), indent=2, sort_keys=True),
    "toYaml": _to_yaml, "mustToYaml": _to_yaml,
    "default": _default, "empty": _empty, "coalesce": lambda *a: next((x for x in a if not _empty(x)), None),
    "ternary": _ternary, "fail": _fail,
    "list": lambda *a: list(a), "dict": _dict,
    "get": lambda d, k: (_check(d) or {}).get(_strval(k), ""),
    "hasKey": lambda d, k: _strval(k) in (_check(d) or {}),
    "keys": lambda *ds: [k for d in ds for k in (_check(d) or {})],
    "has": lambda item, lst: item in (_check(lst) or []),
    "first": lambda lst: (_check(lst) or [None])[0], "last": lambda lst: (_check(lst) or [None])[-1],
    "join": lambda sep, lst: _strval(sep).join(_strval(x) for x in (_check(lst) or [])),
    "splitList": _split_list, "sortAlpha": lambda lst: sorted(_strval(x) for x in (_check(lst) or [])),
    "uniq": lambda lst: [x for i, x in enumerate(lst) if x not in lst[:i]],
    "until": lambda n: list(range(int(_num(n)))),
    "int": lambda v: int(_num(v)), "int64": lambda v: int(_num(v)), "float64": lambda v: float(_num(v)),
    "atoi": lambda v: int(_num(v)),
    "add": lambda *a: sum(int(_num(x)) for x in a), "sub": lambda a, b: int(_num(a)) - int(_num(b)),
    "mul": lambda *a: __import__("math").prod(int(_num(x)) for x in a),
    "div": lambda a, b: int(int(_num(a)) / int(_num(b))), "mod": lambda a, b: int(_num(a)) % int(_num(b)),
    "max": lambda *a: max(int(_num(x)) for x in a), "min": lambda *a: min(int(_num(x)) for x in a),
    "b64enc": lambda s: base64.b64encode(_strval(s).encode()).decode(),
    "b64dec": lambda s: base64.b64decode(_strval(s)).decode(errors="replace"),
    "sha256sum": lambda s: hashlib.sha256(_strval(s).encode()).hexdigest(),
    "regexMatch": lambda r, s: re.search(_strval(r), _strval(s)) is not None,
    "regexReplaceAll": lambda r, s, repl: re.sub(_strval(r), re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", _strval(repl)),
                                                _strval(s)),
    "kebabcase": lambda s: "-".join(w.lower() for w in _words(s)),
    "snakecase": lambda s: "_".join(w.lower() for w in _words(s)),
    "camelcase": lambda s: "".join(w.capitalize() for w in re.split(r"[_\s-]+", _strval(s)) if w),
    # flux-operator's own
    "slugify": _slugify,
}


# ---- execution ---------------------------------------------------------------------------------

_NO_VALUE = "<no value>"


class _Exec:
    def __init__(self, funcs: dict[str, Callable]):
        self.funcs = funcs
        self.vars: list[tuple[str, Any]] = []

    def var(self, name: str):
        for n, v in reversed(self.vars):
            if n == name:
                return v
        raise TemplateError(f"undefined variable: {name}")

    def set_var(self, name: str, value) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return
        raise TemplateError(f"undefined variable: {name}")

    def fields(self, v, names: list[str], what: str):
        for name in names:
            _check(v)
            if isinstance(v, dict):
                if name not in v:
                    raise TemplateError(f'map has no entry for key "{name}"')  # missingkey=error
                v = v[name]
            elif v is None:
                raise TemplateError(f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise TemplateError(f"can't evaluate field {name} in type {type(v).__name__} ({what})")
        return v

    def operand(self, op, dot):
        kind = op[0]
        if kind == "paren":
            v = self.pipe(op[1], dot)
            return self.fields(v, op[2].split(".")[1:], "paren") if op[2] else v
        val = op[1]
        if kind == "field":
            return dot if val == "." else self.fields(dot, val.split(".")[1:], val)
        if kind == "var":
            parts = val.split(".")
            return self.fields(self.var(parts[0]), parts[1:], val)
        if kind == "str":
            return json.loads(val)
        if kind == "raw":
            return val[1:-1]
        if kind == "char":
            return ord(json.loads('"' + val[1:-1] + '"'))
        if kind == "num":
            t = val.replace("_", "")
            try:
                return int(t, 0)
            except ValueError:
                return float(t)
        if kind == "ident":
            parts = val.split(".")
            if parts[0] in ("true", "false"):
                return parts[0] == "true"
            if parts[0] == "nil":
                raise TemplateError("nil is not a command")
            return self.fields(self.call(parts[0], [], dot), parts[1:], val)
        raise TemplateError(f"unexpected {val!r}")

    def call(self, name: str, args: list, dot, final=None, has_final=False):
        if name not in self.funcs or (self.funcs[name] is None and name not in ("and", "or")):
            raise TemplateError(f'function "{name}" not defined')
        if name in ("and", "or"):
            vals = [self.operand(a, dot) for a in args] + ([final] if has_final else [])
            for v in vals:
                if _truth(v) is (name == "or"):
                    return v
            return vals[-1] if vals else None
        vals = [self.operand(a, dot) for a in args] + ([final] if has_final else [])
        for v in vals:
            _check(v)
        try:
            return self.funcs[name](*vals)
        except (TemplateError, UnknownValue):
            raise
        except Exception as exc:  # a function's own failure, as Go reports it
            raise TemplateError(f"error calling {name}: {exc}") from None

    def command(self, cmd: list, dot, final, has_final):
        first = cmd[0]
        if first[0] == "ident" and "." not in first[1] and first[1] not in ("true", "false", "nil"):
            return self.call(first[1], cmd[1:], dot, final, has_final)
        if len(cmd) > 1 or has_final:
            raise TemplateError(f"can't give argument to non-function {first[1] if len(first) > 1 else ''}")
        return self.operand(first, dot)

    def pipe(self, pipe: _Pipe, dot):
        value, has = None, False
        for cmd in pipe.cmds:
            value, has = self.command(cmd, dot, value, has), True
        if pipe.decl and len(pipe.decl) == 1:
            if pipe.assign:
                self.set_var(pipe.decl[0], value)
            else:
                self.vars.append((pipe.decl[0], value))
        return value

    def run(self, nodes: list, dot, out: list) -> None:
        for node in nodes:
            if isinstance(node, str):
                out.append(node)
            elif isinstance(node, _Pipe):
                v = self.pipe(node, dot)
                if not node.decl:
                    out.append(_NO_VALUE if v is None else _strval(_check(v)))
            else:
                self.block(node, dot, out)

    def block(self, node: _If, dot, out: list) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.range(node, dot, out)
                return
            decl, node.pipe.decl = node.pipe.decl, []
            try:
                v = self.pipe(node.pipe, dot)
            finally:
                node.pipe.decl = decl
            if decl:
                self.vars.append((decl[0], v))
            if _truth(v):
                self.run(node.body, v if node.kind == "with" else dot, out)
            else:
                self.run(node.orelse, dot, out)
        finally:
            del self.vars[mark:]

    def range(self, node: _If, dot, out: list) -> None:
        decl, node.pipe.decl = node.pipe.decl, []
        try:
            v = _check(self.pipe(node.pipe, dot))
        finally:
            node.pipe.decl = decl
        if isinstance(v, dict):
            items = [(k, v[k]) for k in sorted(v, key=str)]
        elif isinstance(v, list):
            items = list(enumerate(v))
        elif isinstance(v, int) and not isinstance(v, bool):
            items = [(i, i) for i in range(v)]
        elif v is None:
            items = []
        else:
            raise TemplateError(f"range can't iterate over {_str(v)}")
        if not items:
            self.run(node.orelse, dot, out)
            return
        mark = len(self.vars)
        for k, item in items:
            del self.vars[mark:]
            if len(decl) == 1:
                self.vars.append((decl[0], item))
            elif len(decl) == 2:
                self.vars.extend([(decl[0], k), (decl[1], item)])
            self.run(node.body, item, out)


def render(text: str, funcs: dict[str, Callable] | None = None, *, delims: tuple[str, str] = ("{{", "}}"),
           data=None) -> str:
    """Execute the template `text` on `data` with the built-in functions plus `funcs`.
    Raises TemplateError (parse or execution error, as Go would) or UnknownValue."""
    tree = _Parser(text, *delims).parse()
    ex = _Exec({**FUNCS, **(funcs or {})})
    ex.vars.append(("$", data))
    out: list[str] = []
    ex.run(tree, data, out)
    return "".join(out)
