"""Safe, tolerant YAML loading: every document with its first line, errors recorded not raised.

PyYAML's C loader is used when present (the parse floor we are measured against). Three shapes
that Flux's Go parser accepts but PyYAML rejects are handled: a redefined anchor (last one wins,
as in YAML 1.2), unknown tags such as Authentik's `!Find` (kept as plain values) and a bare `=`
(kept as the string "="). Alias bombs are refused by measuring the expanded size of each document.
"""
from __future__ import annotations

import re
import sys

import yaml
from dataclasses import dataclass

try:
    _BaseLoader = yaml.CSafeLoader  # type: ignore[attr-defined]
    HAVE_C_LOADER = True
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader
    HAVE_C_LOADER = False

# A document whose aliases would expand past this many nodes is an alias bomb (billion laughs)...
MAX_EXPANDED_NODES = 2_000_000
# ... and so is a "near bomb" under that size whose aliases multiply it: every check walks the
# expanded tree, so 1.9 million nodes from a few hundred took minutes. Anchors in real manifests
# (YAML merge keys, repeated env blocks) expand a document a few times, never tenfold past 100,000.
MAX_ALIAS_GROWTH = 10
ALIAS_GROWTH_FLOOR = 100_000
MAX_DEPTH = 400


class _Tolerant:
    """Constructors shared by the C and the pure-Python loader."""

    def construct_unknown(self, tag_suffix, node):  # noqa: D401 - PyYAML callback
        if isinstance(node, yaml.ScalarNode):
            return self.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return self.construct_sequence(node, deep=True)
        return self.construct_mapping(node, deep=True)

    def construct_value_as_str(self, node):
        return self.construct_scalar(node)


class FastLoader(_BaseLoader, _Tolerant):
    """The C loader, returning (first_line, document) pairs."""

    def get_data_with_line(self):
        node = self.get_node()
        if node is None:
            return None
        return node.start_mark.line + 1, self.construct_document(node)


class SlowLoader(yaml.SafeLoader, _Tolerant):
    """Pure-Python loader that lets an anchor be redefined (the later definition wins)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            return super().compose_node(parent, index)
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None and anchor in self.anchors:
            del self.anchors[anchor]  # YAML 1.2 / Go: the newest definition wins
        return super().compose_node(parent, index)

    def get_data_with_line(self):
        node = self.get_node()
        if node is None:
            return None
        return node.start_mark.line + 1, self.construct_document(node)


_resolved: dict[str, str] = {}  # plain scalar text -> implicit tag (a pure function of the text)
_base_resolve = yaml.resolver.Resolver.resolve


def _resolve(self, kind, value, implicit):
    """Resolver.resolve with the answers for short plain scalars remembered. PyYAML calls it from
    C for every scalar and it was the largest single cost of a load (keys repeat endlessly)."""
    if kind is yaml.ScalarNode:
        if not implicit[0]:
            return "tag:yaml.org,2002:str"
        tag = _resolved.get(value)
        if tag is None:
            tag = _base_resolve(self, kind, value, implicit)
            if len(value) <= 64:
                if len(_resolved) > 200_000:
                    _resolved.clear()
                _resolved[value] = tag
        return tag
    return _base_resolve(self, kind, value, implicit)


def _no_path_resolvers(self, *args):
    """SafeLoader has no path resolvers: the per-node bookkeeping is a no-op."""


for _loader in (FastLoader, SlowLoader):
    assert not _loader.yaml_path_resolvers
    _loader.resolve = _resolve
    _loader.descend_resolver = _no_path_resolvers
    _loader.ascend_resolver = _no_path_resolvers

    _loader.add_multi_constructor("!", _Tolerant.construct_unknown)
    _loader.add_multi_constructor("tag:", _Tolerant.construct_unknown)
    _loader.add_constructor("tag:yaml.org,2002:value", _Tolerant.construct_value_as_str)
    # Timestamps stay strings: manifests compare them as text and JSON cannot hold datetimes.
    _loader.add_constructor("tag:yaml.org,2002:timestamp", SlowLoader.construct_yaml_str)


@dataclass(slots=True)
class LoadedDoc:
    """A document of a YAML stream: its first line, index, body and key-line tree.

    `lines`, the line tree for key lookups without a second parse: for a mapping or sequence, (lines of
    its keys/items in order, child trees or None when every child is a scalar); None for scalars and
    for documents built by PyYAML's own constructor (rare shapes)."""

    line: int
    index: int
    body: object
    lines: object = None


@dataclass(slots=True)
class LoadError:
    """A YAML stream that could not be loaded, and where."""

    line: int | None
    message: str
    code: str = "yaml-invalid"  # a scanner.core.errors.ERROR_CODES code


_HELM_TEMPLATE = re.compile(r"\{\{-?\s|\{\{\s*[.$]")
_ALIAS = re.compile(r"(^|[\s\[{,:-])\*[^\s,\]}]")

# ---- the fast constructor -----------------------------------------------------------------------
# PyYAML's SafeConstructor is generic (generators, per-node bookkeeping) and is half of the load
# time. Documents made of plain maps, sequences and the core scalar tags (nearly all manifests)
# are built here in one recursive pass that also records key lines and bounds the depth; anything
# else (merge keys, custom or set/omap tags, complex or duplicate keys, recursive aliases) falls
# back to the standard constructor, so the result is the same either way.
_T = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _INT, _BOOL, _NULL, _FLOAT, _TS, _VALUE = (
    _T + n for n in ("str", "map", "seq", "int", "bool", "null", "float", "timestamp", "value"))
_BOOLS = yaml.constructor.SafeConstructor.bool_values
_ScalarNode, _MappingNode, _SequenceNode = yaml.ScalarNode, yaml.MappingNode, yaml.SequenceNode


class _Fallback(Exception):
    """The document needs PyYAML's own constructor."""


class _TooDeep(Exception):
    pass


class _DuplicateKey(Exception):
    """A mapping repeats a key: see _drop_duplicate_keys."""


_BUILDING = object()
_intern = sys.intern


def _scalar(loader, node):
    tag = node.tag
    if tag == _STR or tag == _TS or tag == _VALUE:
        return node.value
    if tag == _NULL:
        return None
    if tag == _BOOL:
        return _BOOLS[node.value.lower()]
    if tag == _INT:
        v = node.value
        if v.isdigit() and (v[0] != "0" or v == "0"):
            return int(v)
        return loader.construct_yaml_int(node)
    if tag == _FLOAT:
        return loader.construct_yaml_float(node)
    raise _Fallback


def _build(loader, node, depth, memo):
    """(value, line tree) of a node; raises _Fallback or _TooDeep."""
    if depth > MAX_DEPTH:
        raise _TooDeep
    cls = node.__class__
    if cls is _ScalarNode:
        return _scalar(loader, node), None
    if memo is not None:
        got = memo.get(id(node))
        if got is not None:
            if got is _BUILDING:
                raise _Fallback  # a recursive structure
            return got
        memo[id(node)] = _BUILDING
    depth += 1
    lines = []
    kids = []
    any_kid = False
    if cls is _MappingNode:
        if node.tag != _MAP:
            raise _Fallback
        value = {}
        for k, v in node.value:
            if k.__class__ is not _ScalarNode:
                raise _Fallback
            key = _scalar(loader, k)
            if key.__class__ is str:
                key = _intern(key)  # the same few hundred key names recur in every document
            if key in value:
                raise _DuplicateKey
            if v.__class__ is _ScalarNode:
                value[key] = _scalar(loader, v)
                kids.append(None)
            else:
                value[key], sub = _build(loader, v, depth, memo)
                kids.append(sub)
                any_kid = True
            lines.append(k.start_mark.line + 1)
    elif cls is _SequenceNode:
        if node.tag != _SEQ:
            raise _Fallback
        value = []
        for v in node.value:
            if v.__class__ is _ScalarNode:
                value.append(_scalar(loader, v))
                kids.append(None)
            else:
                item, sub = _build(loader, v, depth, memo)
                value.append(item)
                kids.append(sub)
                any_kid = True
            lines.append(v.start_mark.line + 1)
    else:
        raise _Fallback
    out = (value, (tuple(lines), tuple(kids) if any_kid else None))
    if memo is not None:
        memo[id(node)] = out
    return out


_MERGE = _T + "merge"


def _drop_duplicate_keys(node) -> list[LoadError]:
    """Remove the second and later occurrences of a key from every mapping of a composed document,
    in place, and say where each was. PyYAML (and Go's yaml.v2 in Flux) keep the *last* value, so
    `kind: Secret` followed by `kind: ConfigMap` would hide a plaintext Secret from every check; the
    scanner judges the document by the *first* value and records the repetition as a scan error."""
    found: list[LoadError] = []
    seen_nodes: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if id(n) in seen_nodes or n.__class__ is _ScalarNode:
            continue
        seen_nodes.add(id(n))
        if n.__class__ is _MappingNode:
            first: dict = {}
            kept = []
            for k, v in n.value:
                if k.__class__ is _ScalarNode and k.tag != _MERGE:
                    ident = (k.tag, k.value)
                    line = k.start_mark.line + 1
                    if ident in first:
                        shown = k.value if len(k.value) <= 60 else k.value[:57] + "..."
                        found.append(LoadError(line, f"duplicate key {shown!r} in one mapping, at lines {first[ident]} "
                                                     f"and {line}: the document is judged by the first value (line "
                                                     f"{first[ident]}); Kubernetes tools would keep the last",
                                               "yaml-duplicate-key"))
                        continue
                    first[ident] = line
                kept.append((k, v))
                stack.append(v)
                stack.append(k)
            n.value = kept
        elif n.__class__ is _SequenceNode:
            stack.extend(n.value)
    return found


def _construct(loader, node, may_alias: bool):
    """(body, line tree or None, error message or None, duplicate-key errors) for one composed document."""
    duplicates: list[LoadError] = []
    for _attempt in range(2):
        try:
            body, lines = _build(loader, node, 0, {} if may_alias else None)
            return body, lines, None, duplicates
        except _TooDeep:
            return None, None, f"document nested deeper than {MAX_DEPTH} levels; not loaded", duplicates
        except _DuplicateKey:
            duplicates = _drop_duplicate_keys(node)  # rare: build again from the first values
        except _Fallback:
            if not duplicates:
                duplicates = _drop_duplicate_keys(node)
            break
    body = loader.construct_document(node)
    if _depth_exceeds(body, MAX_DEPTH):
        return None, None, f"document nested deeper than {MAX_DEPTH} levels; not loaded", duplicates
    return body, None, None, duplicates


def _alias_bomb(obj) -> str | None:
    """Why the document is an alias bomb, or None."""
    expanded, distinct = _alias_sizes(obj, MAX_EXPANDED_NODES)
    if expanded > MAX_EXPANDED_NODES:
        return f"alias bomb: aliases expand past {MAX_EXPANDED_NODES:,} nodes; document not loaded"
    if expanded > ALIAS_GROWTH_FLOOR and expanded > MAX_ALIAS_GROWTH * distinct:
        return (f"alias bomb: aliases expand {distinct:,} nodes to {expanded:,} (more than "
                f"{MAX_ALIAS_GROWTH}-fold); document not loaded")
    return None


def _alias_sizes(obj, limit: int) -> tuple[int, int]:
    """(nodes with aliases expanded, stopping past `limit`; nodes as written: containers and entries).

    Memoised by object identity, so it costs one pass over the distinct objects."""
    memo: dict[int, int] = {}
    distinct = 0

    def size(o, depth: int) -> int:
        nonlocal distinct
        if depth > MAX_DEPTH:
            raise RecursionError
        oid = id(o)
        if oid in memo:
            return memo[oid]
        if isinstance(o, (dict, list)):
            total = 1
            distinct += 1 + len(o)
            for v in (o.values() if isinstance(o, dict) else o):
                total += size(v, depth + 1)
                if total > limit:
                    break
        else:
            return 1
        memo[oid] = total
        return total

    try:
        return size(obj, 0), distinct
    except RecursionError:
        return limit + 1, distinct


def _depth_exceeds(obj, limit: int) -> bool:
    stack = [(obj, 0)]
    seen: set[int] = set()
    while stack:
        o, d = stack.pop()
        if d > limit:
            return True
        if isinstance(o, (dict, list)):
            if id(o) in seen:
                continue
            seen.add(id(o))
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return False


def _describe(exc: Exception) -> tuple[int | None, str]:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    text = f"{context}: {problem}" if context else str(problem)
    return line, text


def _load_with(loader_cls, text, may_alias: bool) -> tuple[list[LoadedDoc], list[LoadError]]:
    loader = loader_cls(text)
    docs: list[LoadedDoc] = []
    errors: list[LoadError] = []
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            line = node.start_mark.line + 1
            body, lines, err, duplicates = _construct(loader, node, may_alias)
            errors.extend(duplicates)
            if err:
                errors.append(LoadError(line, err, "yaml-too-deep"))
            else:
                docs.append(LoadedDoc(line, index, body, lines))
            index += 1
    finally:
        loader.dispose()
    return docs, errors


def load_documents(text: str | bytes) -> tuple[list[LoadedDoc], list[LoadError]]:
    """Parse every document of a YAML stream. Never raises for bad input.

    `text` may be UTF-8 bytes (the parser reads them directly; invalid UTF-8 is a load error)."""
    if isinstance(text, bytes):
        may_alias = b"*" in text and _ALIAS_B.search(text) is not None
    else:
        may_alias = "*" in text and _ALIAS.search(text) is not None
    try:
        docs, errors = _load_with(FastLoader, text, may_alias)
    except yaml.YAMLError as exc:
        if "found duplicate anchor" in str(exc):
            try:
                docs, errors = _load_with(SlowLoader, text, may_alias)
            except yaml.YAMLError as exc2:
                line, msg = _describe(exc2)
                return [], [LoadError(line, f"invalid YAML: {msg}")]
            except RecursionError:
                return [], [LoadError(None, "document nested too deeply", "yaml-too-deep")]
            except (ValueError, TypeError, OverflowError) as exc2:
                return [], [LoadError(None, f"invalid YAML value: {exc2}", "yaml-invalid-value")]
        else:
            line, msg = _describe(exc)
            helm = _HELM_TEMPLATE_B.search(text) if isinstance(text, bytes) else _HELM_TEMPLATE.search(text)
            msg = f"Helm/Go template, not plain YAML ({msg})" if helm else f"invalid YAML: {msg}"
            return [], [LoadError(line, msg, "yaml-helm-template" if helm else "yaml-invalid")]
    except RecursionError:
        return [], [LoadError(None, "document nested too deeply", "yaml-too-deep")]
    except (ValueError, TypeError, OverflowError) as exc:  # constructor errors on odd scalars
        return [], [LoadError(None, f"invalid YAML value: {exc}", "yaml-invalid-value")]

    kept: list[LoadedDoc] = []
    for d in docs:
        if d.body is None:
            continue  # empty document (a leading or trailing ---)
        bomb = _alias_bomb(d.body) if may_alias else None
        if bomb:
            errors.append(LoadError(d.line, bomb, "yaml-alias-bomb"))
            continue
        kept.append(d)
    errors.sort(key=lambda e: e.line or 0)
    return kept, errors


_ALIAS_B = re.compile(_ALIAS.pattern.encode())
_HELM_TEMPLATE_B = re.compile(_HELM_TEMPLATE.pattern.encode())


def compose_nodes(text: str) -> list[yaml.Node]:
    """Node trees (with marks) for line lookups; tolerant of redefined anchors."""
    try:
        return list(yaml.compose_all(text, Loader=FastLoader))
    except yaml.YAMLError:
        return list(yaml.compose_all(text, Loader=SlowLoader))
