"""Reading YAML as kustomize reads it, or refusing to.

kustomize (kyaml, on go-yaml v3, YAML 1.2) expands anchors, aliases and `<<` merge keys, then
round-trips every object through JSON. PyYAML (YAML 1.1) reads some plain scalars otherwise: `yes`,
`1e3`, `0o17`, dates, and kustomize's JSON round trip rewrites floats (`1.0` becomes 1). A file is
read here only when every scalar reads the same in both: strings (quoted, block, plain text no
reader takes for anything else), integers written alike for both, `true`/`false`, `null`/`~`, and
YAML 1.1's other booleans (`yes`, `off` ...), which go-yaml reads as the strings kustomize then
prints; no floats, dates, custom tags or duplicate keys. An empty value in a flow mapping
(`{a: }`) is an empty string to go-yaml; an anchor defined twice is the newest definition in both.

Line folding (plain and quoted scalars over several lines, `>` blocks) is libyaml's in both
readers (go-yaml is a port of it), except in `>` blocks: go-yaml keeps one more line break
before a more-indented line that follows a normal one (done here too), and one more at the end of
a block keeping its trailing blank lines (refused). A folded scalar holding a tab, a carriage
return, a Unicode line break or an escaped line break (`\\N`, `\\L` ...) is refused too.
A JSON patch written in YAML is read by kustomize with goyaml.v2 (YAML 1.1) instead (`yaml11`):
there `yes`, `on`, `y` ... are booleans and a `<<` merges otherwise, so those are refused too.
Everything else raises NotNative. The file is composed once (PyYAML's C composer, libyaml) and
constructed here, so the checks and the values come from the same nodes.
"""
from __future__ import annotations

import re
import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache

import yaml

from scanner.inventory.builder.native.model import EMPTY_NULL, FLOW_EMPTY, NotNative, deep_copy
from scanner.sources.yamlload import FastLoader, SlowLoader

_COMPOSER = FastLoader  # libyaml's composer, with the scanner's memo of implicit tags
_T = "tag:yaml.org,2002:"
_MAP, _SEQ, _STR, _INT, _BOOL, _NULL, _MERGE, _VALUE = (
    _T + x for x in ("map", "seq", "str", "int", "bool", "null", "merge", "value"))
_FOLD_RISK = re.compile(r"[\t\r\x85\u2028\u2029]|\\[N_LP]")
_BAD_ESCAPE = re.compile(r"\\[/N_LP]")
_LINE_BREAKS = re.compile("[\x85\u2028\u2029]")
# Plain scalars goyaml.v2 (YAML 1.1, kustomize's reader of JSON patches written in YAML) takes for
# booleans where PyYAML reads strings.
_YAML11_ONLY_BOOLS = frozenset({"y", "Y", "n", "N"})

# Plain scalars Go's YAML 1.2 reader takes for numbers, booleans, nulls or times while PyYAML reads a
# string (or the reverse): kustomize's JSON round trip would change them.
_GO_NON_STRING = re.compile(
    r"[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|null|Null|NULL|~"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*")
# Integers both readers take alike (go-yaml parses them as Go's ParseInt with base 0 does, after
# dropping `_`): decimal, 0x hexadecimal, 0b binary, and C-style octal with a leading 0.
_INT_FORMS = ((re.compile(r"0|[1-9][0-9_]*"), 10), (re.compile(r"0x[0-9a-fA-F_]+"), 16),
              (re.compile(r"0b[01_]+"), 2), (re.compile(r"0[0-7_]+"), 8))
_API_VERSION = re.compile(r"([A-Za-z0-9][A-Za-z0-9.-]*/)?[A-Za-z0-9]+")
_RESERVED_PREFIXES = ("config.kubernetes.io/", "internal.config.kubernetes.io/", "kustomize.config.k8s.io/",
                      "config.k8s.io/")
# A comment holding JSON (`# {"$openapi": ...}`) is field metadata to kyaml: it can change a merge.
_SCHEMA_COMMENT = re.compile(rb"#[^\n]*(x-kubernetes|\$ref|\$openapi)")
MAX_DEPTH = 100  # nesting levels (the builder's walks recurse: deeper files go to kustomize)
MIN_NODE_BUDGET = 100_000  # nodes constructed per file (aliases expanded) before it is refused
NODES_PER_BYTE = 20


class Parsed:
    """The objects of one file, and whether a comment may carry kyaml field metadata."""

    __slots__ = ("objects", "schema_comments")

    def __init__(self, objects: tuple, schema_comments: bool):
        self.objects = objects
        self.schema_comments = schema_comments


def read_objects(data: bytes, path: str) -> tuple[list[dict], bool]:
    """The Kubernetes objects of a file, fresh copies (raises NotNative)."""
    parsed = _parsed(data, path)
    return [deep_copy(o) for o in parsed.objects], parsed.schema_comments


# Files read, by digest and path, refusals included: builds share components and bases. Bounded, and
# keyed by a digest so the cache does not hold every file's bytes too.
_CACHE: OrderedDict = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_FILES = 1024


def _parsed(data: bytes, path: str) -> Parsed:
    key = (hashlib.sha1(data).digest(), len(data), path)
    with _CACHE_LOCK:
        got = _CACHE.get(key)
        if got is not None:
            _CACHE.move_to_end(key)
    if got is None:
        try:
            got = _parse(data, path)
        except NotNative as exc:
            got = str(exc)
        with _CACHE_LOCK:
            _CACHE[key] = got
            while len(_CACHE) > CACHE_FILES:
                _CACHE.popitem(last=False)
    if isinstance(got, str):
        raise NotNative(got)
    return got


def has_line_breaks(text: str) -> bool:
    """Unicode line breaks (NEL, LS, PS): kustomize prints them raw, PyYAML reads them back as breaks."""
    return _LINE_BREAKS.search(text) is not None


def read_values(text: str, what: str, yaml11: bool = False) -> list:
    """The documents of a YAML text (a patch), each any value kustomize would read the same.
    `yaml11`: kustomize reads this text with goyaml.v2 (YAML 1.1), where `yes` is a boolean."""
    return [deep_copy(v) for v in _values(text, what, yaml11)]


@lru_cache(maxsize=1024)
def _values(text: str, what: str, yaml11: bool) -> tuple:
    return tuple(_documents(text.encode("utf-8"), what, yaml11))


def _parse(data: bytes, path: str) -> Parsed:
    objects = []
    for body in _documents(data, path):
        if body is None or body is EMPTY_NULL:
            continue
        _check_object(body, path)
        objects.append(body)
    return Parsed(tuple(objects), _SCHEMA_COMMENT.search(data) is not None)


def _documents(data: bytes, what: str, yaml11: bool = False) -> list:
    try:
        roots = _compose(data)
    except yaml.YAMLError:
        raise NotNative(f"'{what}' is not YAML kustomize reads the same way") from None
    except (ValueError, UnicodeDecodeError):
        raise NotNative(f"'{what}' is not UTF-8 YAML") from None
    budget = [MIN_NODE_BUDGET + NODES_PER_BYTE * len(data)]
    try:
        return [None if root is None else _Constructor(what, budget, data, yaml11).value(root, None)
                for root in roots]
    except RecursionError:
        raise NotNative(f"'{what}' nests too deep") from None


def _compose(data: bytes) -> list:
    try:
        return list(yaml.compose_all(data, Loader=_COMPOSER))
    except yaml.composer.ComposerError as exc:
        if "found duplicate anchor" not in str(exc):
            raise
    # An anchor defined again: go-yaml takes the newest definition, and so does the scanner's
    # pure-Python loader (libyaml's composer refuses the file).
    return list(yaml.compose_all(data.decode("utf-8"), Loader=SlowLoader))


class _Constructor:
    def __init__(self, what: str, budget: list[int], data: bytes, yaml11: bool = False):
        self.what = what
        self.yaml11 = yaml11
        self.budget = budget
        self.data = data
        self._text: str | None = None

    def span(self, node) -> str:
        """The source text of a node (marks count characters)."""
        if self._text is None:
            self._text = self.data.decode("utf-8")
        return self._text[node.start_mark.index:node.end_mark.index]

    def refuse(self, why: str):
        raise NotNative(f"'{self.what}' {why}")

    def value(self, node, parent, depth: int = 0):
        self.budget[0] -= 1
        if self.budget[0] < 0:
            self.refuse("expands its aliases too far")
        if depth > MAX_DEPTH:
            self.refuse(f"nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                self.refuse("has a tagged mapping")
            return self.mapping(node, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self.refuse("has a tagged sequence")
            return [self.value(item, node, depth + 1) for item in node.value]
        return self.scalar(node, parent)

    def mapping(self, node, depth: int) -> dict:
        out: dict = {}
        merged: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE and isinstance(key_node, yaml.ScalarNode) and not key_node.style:
                if self.yaml11:
                    # goyaml.v2 lets a `<<` written after a key override that key.
                    self.refuse("merges (<<) a mapping, which kustomize's YAML 1.1 reader merges otherwise")
                for source in self._merge_sources(value_node, depth):
                    for k, v in source.items():
                        merged.setdefault(k, v)  # the first source that has a key wins
                continue
            key = key_node.value
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _BOOL and not key_node.style \
                    and key not in ("true", "True", "TRUE", "false", "False", "FALSE") and not self.yaml11:
                pass  # yes/no/on/off: a string key to go-yaml
            elif not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
                self.refuse("has a mapping key that is not a string")
            if key_node.start_mark.line != key_node.end_mark.line or _LINE_BREAKS.search(key) \
                    or (key_node.style == '"' and _BAD_ESCAPE.search(self.span(key_node))):
                self.refuse(f"has a key ({key!r}) the two readers may read otherwise")
            if key == "<<" or (not key_node.style and (_GO_NON_STRING.fullmatch(key)
                                                         or (self.yaml11 and key in _YAML11_ONLY_BOOLS))):
                self.refuse(f"has a key ({key!r}) kustomize's reader takes for another type")
            if key in out:
                self.refuse(f"repeats the key {key!r}")
            out[key] = self.value(value_node, node, depth + 1)
        for k, v in merged.items():
            out.setdefault(k, v)  # keys written in the mapping win over merged ones
        return out

    def _merge_sources(self, node, depth: int) -> list[dict]:
        if isinstance(node, yaml.MappingNode):
            return [self.value(node, None, depth + 1)]
        if isinstance(node, yaml.SequenceNode) and all(isinstance(n, yaml.MappingNode) for n in node.value):
            return [self.value(n, None, depth + 1) for n in node.value]
        self.refuse("merges (<<) something that is not a mapping")
        return []

    def scalar(self, node, parent):
        style, tag, value = node.style, node.tag, node.value
        if node.start_mark.line != node.end_mark.line and style != "|" and _FOLD_RISK.search(self.span(node)):
            self.refuse("folds a scalar holding a tab, a carriage return or a special line break")
        if style == '"' and _BAD_ESCAPE.search(self.span(node)):
            self.refuse("has a double-quoted escape go-yaml refuses or reads otherwise")
        if _LINE_BREAKS.search(value):
            self.refuse("has a Unicode line break in a string (read back otherwise from kustomize's output)")
        if style == ">" and value.endswith("\n\n"):
            self.refuse("has a folded block keeping blank lines at its end (go-yaml keeps one more)")
        if style in ('"', "'", "|", ">"):
            if tag != _STR:
                self.refuse("has a tagged scalar")
            if style == ">" and "\n " in value:
                if self.yaml11:
                    self.refuse("has a folded block with more-indented lines, read by another YAML reader there")
                return _go_folded(value)
            return value
        if tag == _VALUE and value == "=":
            return value  # a bare `=`: a string to go-yaml
        if tag == _STR:
            if _GO_NON_STRING.fullmatch(value) or (self.yaml11 and value in _YAML11_ONLY_BOOLS):
                self.refuse(f"has the plain scalar {value!r}, which kustomize reads as another type")
            return value
        if tag == _INT:
            number = _int(value)
            if number is None or abs(number) >= 2 ** 53:
                self.refuse(f"has the number {value!r}, which kustomize writes otherwise")
            return number
        if tag == _BOOL:
            if value in ("true", "True", "TRUE", "false", "False", "FALSE"):
                return value[0] in "tT"
            if self.yaml11:
                self.refuse(f"has {value!r}, a boolean to kustomize's YAML 1.1 reader there")
            return value  # yes/no/on/off: booleans to PyYAML only; go-yaml reads (and kustomize prints) a string
        if tag == _NULL:
            if value in ("null", "Null", "NULL", "~"):
                return None
            if value:
                self.refuse(f"has {value!r} as null")
            if parent is None:
                return None  # an empty document
            if isinstance(parent, yaml.MappingNode):
                if parent.flow_style and self.yaml11:
                    self.refuse("has an empty value in a flow mapping, read otherwise by YAML 1.1")
                return FLOW_EMPTY if parent.flow_style else EMPTY_NULL
            if parent.flow_style:
                self.refuse("has an empty value in a flow sequence")
            return None
        self.refuse(f"has a value kustomize's reader takes otherwise ({tag.rpartition(':')[2]})")
        return None


def _go_folded(value: str) -> str:
    """A `>` block as go-yaml folds it, from libyaml's folding: go-yaml keeps one more line break
    before a more-indented line that follows a normal one (blank lines between or not)."""
    out: list[str] = []
    previous = None
    for line in value.split("\n"):
        if line[:1] == " ":
            if previous == "normal":
                out.append("")
            previous = "more"
        elif line:
            previous = "normal"
        out.append(line)
    return "\n".join(out)


def _int(text: str) -> int | None:
    sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    for form, base in _INT_FORMS:
        if form.fullmatch(digits) and not digits.endswith("_") and "__" not in digits:
            body = digits.replace("_", "")
            body = body[2:] if base in (2, 16) else body
            if not body:
                return None
            value = int(body, base)
            return -value if sign == "-" else value
    return None


def _check_object(body, path: str) -> None:
    if not isinstance(body, dict):
        raise NotNative(f"'{path}' holds a document that is not a mapping")
    kind, api, meta = body.get("kind"), body.get("apiVersion"), body.get("metadata")
    if not isinstance(kind, str) or not kind or not isinstance(api, str) or not _API_VERSION.fullmatch(api):
        raise NotNative(f"'{path}' holds a document without a plain kind and apiVersion")
    if kind.endswith("List"):
        raise NotNative(f"'{path}' holds a {kind}")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise NotNative(f"'{path}' holds a document without metadata.name")
    if "namespace" in meta and not isinstance(meta["namespace"], str):
        raise NotNative(f"'{path}' holds a namespace that is not a string")
    for key in ("annotations", "labels"):
        m = meta.get(key)
        if m is None or m is EMPTY_NULL:
            continue
        if not isinstance(m, dict) or not all(isinstance(v, str) for v in m.values()):
            raise NotNative(f"'{path}' has {key} that are not strings")
        if any(k.startswith(_RESERVED_PREFIXES) for k in m):
            raise NotNative(f"'{path}' has kustomize-reserved {key}")
