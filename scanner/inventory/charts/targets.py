"""The charts a repository's HelmReleases pin, for `posture charts pull`.

Read from the files as written (no Flux walk): a release's source is found by kind and name, in
its namespace when both say one, else by name alone. Pulling a chart the cluster does not deploy
costs a download; missing one costs a render, so the match is generous."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from scanner.core.model import Document
from scanner.inventory.charts.cache import ChartRef
from scanner.inventory.charts.kustomize_charts import chart_source as kustomize_source
from scanner.inventory.charts.source import locate

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SOURCE_KINDS = ("HelmRepository", "OCIRepository", "HelmChart", "GitRepository", "ExternalArtifact")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


@dataclass
class Targets:
    refs: list[tuple[ChartRef, list[str]]] = field(default_factory=list)  # ref, the releases that pin it
    skipped: list[str] = field(default_factory=list)  # releases whose chart is not pullable, and why


def _lookup(docs: list[Document]):
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        if d.kind in SOURCE_KINDS and isinstance(d.body, dict):
            by_kind.setdefault(d.kind, []).append(d.body)

    def lookup(kind: str, namespace: str, name: str) -> dict | None:
        named = [b for b in by_kind.get(kind, []) if _d(b.get("metadata")).get("name") == name]
        exact = [b for b in named if _d(b.get("metadata")).get("namespace") == namespace]
        return (exact or named or [None])[0]

    return lookup


def pull_targets(docs: list[Document], files: set[str]) -> Targets:
    """`files`: the repository's files (a chart vendored next to a kustomization is not pulled)."""
    lookup = _lookup(docs)
    out = Targets()
    seen: dict[ChartRef, list[str]] = {}
    for d in docs:
        if d.kind != "HelmRelease" or not isinstance(d.body, dict):
            continue
        md = _d(d.body.get("metadata"))
        ns = str(md.get("namespace") or "")
        label = f"{d.path}:{d.line} HelmRelease {md.get('name')}"
        src = locate(_d(d.body.get("spec")), ns, lookup, lambda kind, n, name: "" if kind == "GitRepository" else None)
        if src.ref is None:
            if src.local_dir is None:
                out.skipped.append(f"{label}: {src.problem or 'no chart repository'}")
            continue
        seen.setdefault(src.ref, []).append(label)
    for d in docs:
        if posixpath.basename(d.path) not in KUSTOMIZATION_FILES or not isinstance(d.body, dict):
            continue
        for i, entry in enumerate(d.body.get("helmCharts") or []):
            if not isinstance(entry, dict):
                continue
            home = str(_d(d.body.get("helmGlobals")).get("chartHome") or "charts")
            src = kustomize_source(entry, posixpath.dirname(d.path), home, files)
            if src.ref is not None:
                seen.setdefault(src.ref, []).append(f"{d.path}:{d.line} helmCharts[{i}] {entry.get('name')}")
    out.refs = sorted(seen.items(), key=lambda kv: (kv[0].url, kv[0].chart, kv[0].version))
    return out
