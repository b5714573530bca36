"""Whether a repo's kustomize-controller runs post-build substitution in strict mode.

Strict mode (a variable with no value and no default fails the whole Kustomization) is the
`StrictPostBuildSubstitutions` feature gate: opt-in since kustomize-controller v1.3.0, on by default
since v1.9.0 (Flux v2.9.0). The repo decides it in this order:

1. an explicit `--feature-gates=...StrictPostBuildSubstitutions=<bool>` anywhere (FluxInstance
   `spec.kustomize.patches`, flux-instance chart values, Kustomization patches, Deployment args);
2. the Flux version it installs: a FluxInstance's `spec.distribution.version`, or the flux-instance
   chart's `instance.distribution.version` (a values file or a HelmRelease's values; the chart's
   default is "2.x"), capped by a pinned `distribution.artifact` older than the first flux-operator
   release that ships Flux v2.9.0; else a `kustomize-controller` image tag (gotk-components.yaml);
3. nothing found: the current default, strict.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from scanner.core.model import Document

__all__ = ["Evidence", "strict_substitution", "strict_for_version"]

STRICT_FLUX = (2, 9, 0)  # Flux v2.9.0 ships kustomize-controller v1.9.0, strict by default
STRICT_CONTROLLER = (1, 9, 0)
# flux-operator v0.53.0 is the first release whose distribution artifact includes Flux v2.9.0
# (controlplaneio-fluxcd/flux-operator PR #934, "Release v0.53.0 includes Flux 2.9.0").
FIRST_OPERATOR_WITH_STRICT = (0, 53, 0)
CHART_DEFAULT_VERSION = "2.x"  # flux-instance chart values.yaml: instance.distribution.version

_GATE = re.compile(r"StrictPostBuildSubstitutions\s*=\s*([A-Za-z0-9]+)")
_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
          "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}  # strconv.ParseBool
_CONTROLLER_IMAGE = re.compile(r"(?:^|/)kustomize-controller:v?(\d+)\.(\d+)\.(\d+)")
_ARTIFACT_TAG = re.compile(r"flux-operator-manifests:v?(\d+)\.(\d+)\.(\d+)\s*$")
_VERSION = re.compile(r"v?(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?")
_INSTANCE_KEYS = ("distribution", "components", "sync", "kustomize", "cluster")

LineOf = Callable[[Document, tuple], "int | None"]


@dataclass(frozen=True)
class Evidence:
    """What decided strictness: a file and line, or None when the default was assumed."""

    path: str | None
    line: int | None
    reason: str


def _default_line_of(doc: Document, path: tuple) -> int | None:
    from scanner.inventory.model import _line_in_tree  # the loader's line tree; no second parse

    tree = getattr(doc, "lines", None)
    if tree is None or not path:
        return doc.line
    return _line_in_tree(doc.body, tree, doc.line, path) or doc.line


def _strings(node, path=()):
    """Every string in a parsed document, with its key path."""
    stack = [(node, path)]
    while stack:
        n, p = stack.pop()
        if isinstance(n, str):
            yield n, p
        elif isinstance(n, dict):
            stack.extend((v, p + (k,)) for k, v in n.items())
        elif isinstance(n, list):
            stack.extend((v, p + (i,)) for i, v in enumerate(n))


def _mentioning(documents, marker: str) -> list:
    """The documents with a string holding `marker`: a walk that builds no key paths, so the walks
    with paths (`_strings`) visit only the few documents that can hold evidence."""
    out = []
    for doc in documents:
        stack = [doc.body]
        while stack:
            n = stack.pop()
            if isinstance(n, str):
                if marker in n:
                    out.append(doc)
                    break
            elif isinstance(n, dict):
                stack.extend(n.values())
            elif isinstance(n, list):
                stack.extend(n)
    return out


def _line_in_string(doc, path, text: str, offset: int, line_of: LineOf) -> int | None:
    line = line_of(doc, path)
    if line is None or "\n" not in text:
        return line
    return line + 1 + text.count("\n", 0, offset)  # a block scalar starts on the line after its key


def _version(text: str) -> tuple[int, int | None, int | None] | None:
    """(major, minor, patch) with None for a wildcard or a missing part."""
    m = _VERSION.fullmatch(text.strip())
    if not m:
        return None
    parts = [None if p is None or not p.isdigit() else int(p) for p in m.groups()]
    return parts[0], parts[1], parts[2]


def strict_for_version(constraint: str) -> bool | None:
    """Whether the newest Flux a FluxInstance `distribution.version` admits is strict by default;
    None when the constraint cannot be read. Exact versions, wildcards ("2.x", "2.8.x"), and ranges
    with comparison operators are understood."""
    clauses = [c for c in re.split(r"[\s,]+", constraint.strip()) if c]
    if not clauses:
        return None
    upper = None  # (version, inclusive) the newest admitted version is bounded by
    for clause in clauses:
        m = re.fullmatch(r"(>=|<=|>|<|=|~|\^)?(.+)", clause)
        op, rest = m.group(1) or "", m.group(2)
        v = _version(rest)
        if v is None:
            return None
        major, minor, patch = v
        if op in (">", ">="):
            continue  # no upper bound
        if op in ("<", "<="):
            bound = (major, minor or 0, patch or 0)
            inclusive = op == "<=" and minor is not None and patch is not None
        elif op == "^":
            bound, inclusive = (major + 1, 0, 0), False
        elif minor is None:  # "2", "2.x"
            bound, inclusive = (major + 1, 0, 0), False
        elif patch is None or op == "~":  # "2.8.x", "2.8", "~2.8.1"
            bound, inclusive = (major, minor + 1, 0), False
        else:
            bound, inclusive = (major, minor, patch), True
        if upper is None or bound < upper[0]:
            upper = (bound, inclusive)
    if upper is None:
        return True  # no upper bound: the latest
    bound, inclusive = upper
    return bound >= STRICT_FLUX if inclusive else bound > STRICT_FLUX


def _describe_version(version: str, artifact: str | None) -> tuple[bool | None, str]:
    strict = strict_for_version(version)
    if strict is None:
        return None, f"Flux version {version!r} could not be read"
    if strict:
        m = _ARTIFACT_TAG.search(artifact or "")
        if m and tuple(int(g) for g in m.groups()) < FIRST_OPERATOR_WITH_STRICT:
            return False, (f"Flux {version} resolved by flux-operator-manifests {m.group(0).split(':')[1]}, "
                           "which predates Flux v2.9.0: not strict by default")
        return True, f"Flux {version}: strict substitution is the default since Flux v2.9.0"
    return False, f"Flux {version}: before v2.9.0 substitution is not strict by default"


def _gates(documents, line_of):
    for doc in _mentioning(documents, "StrictPostBuildSubstitutions"):
        for text, path in _strings(doc.body):
            if "StrictPostBuildSubstitutions" not in text:
                continue
            for m in _GATE.finditer(text):
                value = _BOOLS.get(m.group(1))
                if value is None:
                    continue
                line = _line_in_string(doc, path, text, m.start(), line_of)
                yield value, Evidence(doc.path, line, f"kustomize-controller --feature-gates=StrictPostBuildSubstitutions={m.group(1)}")


def _distributions(documents, line_of):
    """(version, artifact, evidence) of every Flux distribution the repo installs."""
    for doc in documents:
        body = doc.body
        if not isinstance(body, dict):
            continue
        if doc.kind == "FluxInstance":
            dist = body.get("spec", {}).get("distribution") if isinstance(body.get("spec"), dict) else None
            if isinstance(dist, dict) and dist.get("version") is not None:
                yield (str(dist["version"]), dist.get("artifact"),
                       Evidence(doc.path, line_of(doc, ("spec", "distribution", "version")), ""))
            continue
        base: tuple = ()
        instance = body.get("instance")
        if doc.kind == "HelmRelease" and isinstance(body.get("spec"), dict):
            values = body["spec"].get("values")
            instance, base = (values.get("instance"), ("spec", "values")) if isinstance(values, dict) else (None, ())
        elif doc.is_manifest:
            continue
        if not isinstance(instance, dict) or not any(k in instance for k in _INSTANCE_KEYS):
            continue  # not the flux-instance chart's values
        dist = instance.get("distribution") if isinstance(instance.get("distribution"), dict) else {}
        if dist.get("version") is not None:
            path = base + ("instance", "distribution", "version")
            yield str(dist["version"]), dist.get("artifact"), Evidence(doc.path, line_of(doc, path), "")
        else:
            path = base + ("instance", "distribution") if dist else base + ("instance",)
            yield (CHART_DEFAULT_VERSION, dist.get("artifact"),
                   Evidence(doc.path, line_of(doc, path), "flux-instance chart values without a version (chart default 2.x); "))


def _controller_images(documents, line_of):
    for doc in _mentioning(documents, "kustomize-controller:"):
        for text, path in _strings(doc.body):
            m = _CONTROLLER_IMAGE.search(text) if "kustomize-controller:" in text else None
            if m:
                yield tuple(int(g) for g in m.groups()), Evidence(doc.path, line_of(doc, path), "")


def strict_substitution(documents: Iterable[Document], line_of: LineOf | None = None) -> tuple[bool, Evidence]:
    """(strict, evidence) for a repo's documents. `line_of(doc, key_path)` gives a key's line (the
    inventory's `line_of`); by default the loader's line tree is used."""
    docs = list(documents)
    line_of = line_of or _default_line_of
    gates = list(_gates(docs, line_of))
    if gates:
        values = {v for v, _ in gates}
        if len(values) == 1:
            return gates[0]
        off = next(e for v, e in gates if not v)
        on = next(e for v, e in gates if v)
        return False, Evidence(off.path, off.line, f"{off.reason} (and =true at {on.path}:{on.line}); the opt-out is assumed")
    for version, artifact, ev in _distributions(docs, line_of):
        strict, why = _describe_version(version, artifact if isinstance(artifact, str) else None)
        if strict is not None:
            return strict, Evidence(ev.path, ev.line, ev.reason + why)
    for version, ev in _controller_images(docs, line_of):
        strict = version >= STRICT_CONTROLLER
        why = "strict by default since v1.9.0" if strict else "before v1.9.0 substitution is not strict by default"
        return strict, Evidence(ev.path, ev.line, f"kustomize-controller v{'.'.join(map(str, version))}: {why}")
    return True, Evidence(None, None, "no Flux version or feature gate found in the repo: assuming the current "
                                      "default (strict since Flux v2.9.0)")
