"""Safe, tolerant YAML loading: every document with its first line, errors recorded not raised.

PyYAML's C loader is used when present (the parse floor we are measured against). Three shapes
that Flux's Go parser accepts but PyYAML rejects are handled: a redefined anchor (last one wins,
as in YAML 1.2), unknown tags such as Authentik's `!Find` (kept as plain values) and a bare `=`
(kept as the string "="). Alias bombs are refused by measuring the expanded size of each document.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

try:
    _BaseLoader = yaml.CSafeLoader  # type: ignore[attr-defined]
    HAVE_C_LOADER = True
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader
    HAVE_C_LOADER = False

# A document whose aliases would expand past this many nodes is an alias bomb (billion laughs).
MAX_EXPANDED_NODES = 2_000_000
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


for _loader in (FastLoader, SlowLoader):
    _loader.add_multi_constructor("!", _Tolerant.construct_unknown)
    _loader.add_multi_constructor("tag:", _Tolerant.construct_unknown)
    _loader.add_constructor("tag:yaml.org,2002:value", _Tolerant.construct_value_as_str)
    # Timestamps stay strings: manifests compare them as text and JSON cannot hold datetimes.
    _loader.add_constructor("tag:yaml.org,2002:timestamp", SlowLoader.construct_yaml_str)


@dataclass(slots=True)
class LoadedDoc:
    line: int
    index: int
    body: object


@dataclass(slots=True)
class LoadError:
    line: int | None
    message: str


_HELM_TEMPLATE = re.compile(r"\{\{-?\s|\{\{\s*[.$]")
_ALIAS = re.compile(r"(^|[\s\[{,:-])\*[^\s,\]}]")


def _expanded_size_exceeds(obj, limit: int) -> bool:
    """True when the document, with aliases expanded, has more than `limit` nodes.

    Memoised by object identity, so it costs one pass over the distinct objects."""
    memo: dict[int, int] = {}

    def size(o, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise RecursionError
        oid = id(o)
        if oid in memo:
            return memo[oid]
        if isinstance(o, dict):
            total = 1
            for k, v in o.items():
                total += size(v, depth + 1)
                if total > limit:
                    break
        elif isinstance(o, list):
            total = 1
            for v in o:
                total += size(v, depth + 1)
                if total > limit:
                    break
        else:
            return 1
        memo[oid] = total
        return total

    try:
        return size(obj, 0) > limit
    except RecursionError:
        return True


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


def _load_with(loader_cls, text: str) -> list[LoadedDoc]:
    loader = loader_cls(text)
    docs: list[LoadedDoc] = []
    try:
        index = 0
        while loader.check_node():
            got = loader.get_data_with_line()
            if got is None:
                break
            line, body = got
            docs.append(LoadedDoc(line=line, index=index, body=body))
            index += 1
    finally:
        loader.dispose()
    return docs


def load_documents(text: str) -> tuple[list[LoadedDoc], list[LoadError]]:
    """Parse every document of a YAML stream. Never raises for bad input."""
    errors: list[LoadError] = []
    try:
        docs = _load_with(FastLoader, text)
    except yaml.YAMLError as exc:
        if "found duplicate anchor" in str(exc):
            try:
                docs = _load_with(SlowLoader, text)
            except yaml.YAMLError as exc2:
                line, msg = _describe(exc2)
                return [], [LoadError(line, f"invalid YAML: {msg}")]
            except RecursionError:
                return [], [LoadError(None, "document nested too deeply")]
        else:
            line, msg = _describe(exc)
            if _HELM_TEMPLATE.search(text):
                msg = f"Helm/Go template, not plain YAML ({msg})"
            else:
                msg = f"invalid YAML: {msg}"
            return [], [LoadError(line, msg)]
    except RecursionError:
        return [], [LoadError(None, "document nested too deeply")]
    except (ValueError, TypeError, OverflowError) as exc:  # constructor errors on odd scalars
        return [], [LoadError(None, f"invalid YAML value: {exc}")]

    kept: list[LoadedDoc] = []
    may_alias = "*" in text and _ALIAS.search(text) is not None
    for d in docs:
        if d.body is None:
            continue  # empty document (a leading or trailing ---)
        if may_alias and _expanded_size_exceeds(d.body, MAX_EXPANDED_NODES):
            errors.append(LoadError(d.line, "alias bomb: aliases expand past "
                                    f"{MAX_EXPANDED_NODES:,} nodes; document not loaded"))
            continue
        if _depth_exceeds(d.body, MAX_DEPTH):
            errors.append(LoadError(d.line, f"document nested deeper than {MAX_DEPTH} levels; not loaded"))
            continue
        kept.append(d)
    return kept, errors


def compose_nodes(text: str) -> list[yaml.Node]:
    """Node trees (with marks) for line lookups; tolerant of redefined anchors."""
    try:
        return list(yaml.compose_all(text, Loader=FastLoader))
    except yaml.YAMLError:
        return list(yaml.compose_all(text, Loader=SlowLoader))
