"""A HelmRelease's values, merged as helm-controller merges them (fluxcd/pkg chartutil
ChartValuesFromReferences): each `valuesFrom` entry in order (ConfigMap or Secret, `valuesKey`
default `values.yaml`, `targetPath` through Helm's strvals, `optional`), then `spec.values` on top.
Helm then coalesces the result over the chart's own defaults.

A Secret's data is never read: the scan cannot decrypt it and must not print it. A release that
takes values from a Secret is rendered without them, and a gap says so."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

from scanner.inventory.charts.model import Gap
from scanner.inventory.charts.strvals import StrvalsError, replace_path_value
from scanner.sources.yamlload import load_documents

DEFAULT_VALUES_KEY = "values.yaml"


def merge_maps(a: dict, b: dict) -> dict:
    """fluxcd/pkg runtime/transform.MergeMaps: b over a, maps merged recursively, anything else replaced."""
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge_maps(out[k], v)
        else:
            out[k] = v
    return out


@dataclass
class MergedValues:
    values: dict
    gaps: list[Gap] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # helm-controller would fail the release on these
    origins: dict = field(default_factory=dict)  # top-level key -> "spec.values" | "valuesFrom[i]"


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def merged_values(spec: dict, namespace: str, lookup: Callable[[str, str, str], dict | None]) -> MergedValues:
    """`namespace` is the HelmRelease's own (valuesFrom never crosses namespaces)."""
    result: dict = {}
    gaps: list[Gap] = []
    problems: list[str] = []
    origins: dict = {}
    refs = spec.get("valuesFrom") if isinstance(spec.get("valuesFrom"), list) else []
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict):
            continue
        kind, name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        key = str(ref.get("valuesKey") or DEFAULT_VALUES_KEY)
        optional = ref.get("optional") is True
        target = str(ref.get("targetPath") or "")
        where = f"valuesFrom[{i}] {kind} {namespace}/{name}"
        if kind not in ("ConfigMap", "Secret"):
            problems.append(f"{where}: unsupported values reference kind {kind!r}")
            continue
        obj = lookup(kind, namespace, name)
        if obj is None:
            if not optional:
                problems.append(f"{where} is not deployed by this repository; helm-controller would fail "
                                "the release until it exists")
                gaps.append(Gap("helm-values-missing", f"{where} (key {key}) not found; rendered without it"))
            continue
        if kind == "Secret":
            # Never read: the values may be encrypted, and are secret either way.
            dest = f" at {target}" if target else ""
            gaps.append(Gap("helm-values-secret", f"{where} (key {key}){dest} not read (Secret values are never "
                                                  "read); rendered without them"))
            continue
        data = _d(obj.get("data"))
        if key not in data:
            if not optional:
                problems.append(f"{where} has no key {key!r}; helm-controller would fail the release")
                gaps.append(Gap("helm-values-missing", f"{where} has no key {key}; rendered without it"))
            continue
        text = data[key]
        text = text if isinstance(text, str) else ("" if text is None else str(text))
        if target:
            try:
                replace_path_value(result, target, text)
            except StrvalsError as exc:
                problems.append(f"{where}: targetPath {target!r}: {exc}")
                continue
            origins[target.split(".", 1)[0]] = f"valuesFrom[{i}]"
            continue
        docs, errs = load_documents(text)
        if errs:
            problems.append(f"{where}: key {key} is not valid YAML: {errs[0].message}")
            continue
        parsed = docs[0].body if docs else {}
        if not isinstance(parsed, dict):
            problems.append(f"{where}: key {key} is not a YAML mapping")
            continue
        for k in parsed:
            origins[k] = f"valuesFrom[{i}]"
        result = merge_maps(result, parsed)
    inline = _d(spec.get("values"))
    for k in inline:
        origins[k] = "spec.values"
    return MergedValues(merge_maps(result, copy.deepcopy(inline)), gaps, problems, origins)
