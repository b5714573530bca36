"""Patch targets chosen as kustomize chooses them (resWrangler.Select).

group, version and kind are anchored regular expressions on the object's current group, version
and kind; `name` matches the original or the current name; label and annotation selectors are
Kubernetes label selectors. Only patterns that Go's and Python's regular expressions read alike
(no escapes, counted repetitions or flags) are taken, and only the selector forms parsed here; a target
`namespace` (kustomize compares effective namespaces there) raises NotNative.
"""
from __future__ import annotations

import re

from scanner.inventory.builder.native.model import NotNative, Res, split_api

_FIELDS = frozenset({"group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector"})
# Regular expressions Go (RE2) and Python read alike: no escapes, repetition counts or flags.
_PLAIN_PATTERN = re.compile(r"[A-Za-z0-9._*+?|()\[\]^$-]*")
_NAME = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_KEY = re.compile(rf"([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?{_NAME}")
_VALUE = re.compile(rf"({_NAME})?")
_SET_OP = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")
_CMP_OP = re.compile(r"^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$")


def select(resources: list[Res], target: dict) -> list[Res]:
    if not isinstance(target, dict) or not set(target) <= _FIELDS \
            or not all(isinstance(v, str) for v in target.values()):
        raise NotNative("a patch target the native builder does not read")
    if target.get("namespace"):
        raise NotNative("a patch target that names a namespace")
    patterns = {}
    for key in ("group", "version", "kind", "name"):
        value = target.get(key, "")
        if not _PLAIN_PATTERN.fullmatch(value):
            raise NotNative(f"a patch target {key} pattern {value!r}")
        if value:
            try:
                patterns[key] = re.compile(value)
            except re.error:
                raise NotNative(f"a patch target {key} pattern {value!r} that does not compile") from None
    labels = parse_selector(target.get("labelSelector", ""))
    annotations = parse_selector(target.get("annotationSelector", ""))
    out = []
    for res in resources:
        name = patterns.get("name")
        if name is not None and not (name.fullmatch(res.org()[2]) or name.fullmatch(res.name)):
            continue
        group, version = split_api(res.api)
        if any(key in patterns and not patterns[key].fullmatch(value)
               for key, value in (("group", group), ("version", version), ("kind", res.kind))):
            continue
        if labels and not matches(labels, res.labels()):
            continue
        if annotations and not matches(annotations, res.annotations()):
            continue
        out.append(res)
    return out


def parse_selector(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """A Kubernetes label selector as (key, operator, values) requirements."""
    out = []
    for part in _split(text):
        part = part.strip()
        if not part:
            raise NotNative(f"the selector {text!r} has an empty requirement")
        if part.startswith("!"):
            req = (part[1:].strip(), "!", ())
        elif (m := _SET_OP.match(part)) is not None:
            values = tuple(v.strip() for v in m.group(3).split(","))
            req = (m.group(1), m.group(2), values)
        elif (m := _CMP_OP.match(part)) is not None:
            req = (m.group(1), "!=" if m.group(2) == "!=" else "=", (m.group(3),))
        elif re.fullmatch(r"\S+", part):
            req = (part, "exists", ())
        else:
            raise NotNative(f"the selector {text!r} has a form the native builder does not read")
        key, _op, values = req
        if len(key) > 317 or not _KEY.fullmatch(key) or len(key.rpartition("/")[2]) > 63:
            raise NotNative(f"the selector {text!r} has a key kustomize refuses")
        if any(len(v) > 63 or not _VALUE.fullmatch(v) for v in values):
            raise NotNative(f"the selector {text!r} has a value kustomize refuses")
        out.append(req)
    return out


def _split(text: str) -> list[str]:
    if not text.strip():
        return []
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    if depth:
        raise NotNative(f"the selector {text!r} is not balanced")
    return parts


def matches(requirements, labels: dict) -> bool:
    for key, op, values in requirements:
        has = key in labels
        value = labels.get(key)
        if op == "exists" and not has:
            return False
        if op == "!" and has:
            return False
        if op in ("=", "in") and not (has and value in values):
            return False
        if op in ("!=", "notin") and has and value in values:
            return False
    return True
