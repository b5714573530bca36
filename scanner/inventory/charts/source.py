"""Where a HelmRelease's chart is: a directory of this repository, or a chart repository (HTTP or
OCI) at a version, found in the chart cache. Sources are resolved as Flux resolves them: through
the HelmRepository, OCIRepository, HelmChart or GitRepository the release names."""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Callable

from scanner.inventory.charts.cache import ChartRef

Lookup = Callable[[str, str, str], "dict | None"]
# (kind, namespace, name) of a Flux source -> the directory of this repository its artifact root is
# ("" for the repository root), or None when the source is not this repository.
LocalSources = Callable[[str, str, str], "str | None"]

_EXACT = re.compile(r"^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def default_local_sources(kind: str, namespace: str, name: str) -> str | None:
    """Without the walker's knowledge: the bootstrap GitRepository `flux-system/flux-system` is this
    repository (flux bootstrap and flux-operator both name the sync source so)."""
    return "" if (kind, namespace, name) == ("GitRepository", "flux-system", "flux-system") else None


@dataclass
class ChartSource:
    info: dict  # ReleaseObjects.chart
    local_dir: str | None = None  # repo-relative chart directory
    ref: ChartRef | None = None  # chart repository reference (looked up in the cache)
    values_files: list[str] = field(default_factory=list)
    ignore_missing_values_files: bool = False
    values_base: str | None = None  # repo-relative directory `values_files` are relative to (local sources)
    problem: str | None = None  # why the chart cannot be had (a gap)


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _s(v) -> str:
    return "" if v is None else str(v)


def _unresolved(*vals: str) -> str | None:
    for v in vals:
        if "${" in v:
            return v
    return None


def _source_info(kind: str, name: str, namespace: str, url: str = "") -> dict:
    return {"kind": kind, "name": name, "namespace": namespace, "url": url or None}


def oci_version(version: str) -> str:
    """An OCI chart tag for an exact version (Helm writes `+` as `_` in tags), else a semver range."""
    v = version or "*"
    if _EXACT.match(v):
        return v.replace("+", "_")
    return "semver:" + v


def _from_chart_spec(cs: dict, owner_ns: str, lookup: Lookup, local: LocalSources) -> ChartSource:
    """`spec.chart.spec` of a HelmRelease, or the spec of a HelmChart (same fields)."""
    chart = _s(cs.get("chart"))
    version = _s(cs.get("version")) or "*"
    src = _d(cs.get("sourceRef"))
    kind, name = _s(src.get("kind")) or "HelmRepository", _s(src.get("name"))
    ns = _s(src.get("namespace")) or owner_ns
    vfiles = [str(f) for f in cs.get("valuesFiles") or [] if isinstance(f, str)]
    if cs.get("valuesFile") and isinstance(cs.get("valuesFile"), str):  # deprecated single form
        vfiles.insert(0, cs["valuesFile"])
    out = ChartSource(info={"name": posixpath.basename(chart.rstrip("/")) or None, "version": version,
                            "source": _source_info(kind, name, ns), "digest": None, "local_path": None},
                      values_files=vfiles, ignore_missing_values_files=cs.get("ignoreMissingValuesFiles") is True)
    bad = _unresolved(chart, version, name, ns)
    if bad:
        out.problem = f"chart reference holds an unresolved variable ({bad})"
        return out
    if not chart or not name:
        out.problem = "the release names no chart"
        return out
    if kind == "HelmRepository":
        repo = lookup(kind, ns, name)
        if repo is None:
            out.problem = f"HelmRepository {ns}/{name} is not deployed by this repository"
            return out
        spec = _d(repo.get("spec"))
        url = _s(spec.get("url")).strip()
        out.info["source"]["url"] = url or None
        if not url or _unresolved(url):
            out.problem = f"HelmRepository {ns}/{name} has no usable url ({url or 'none'})"
            return out
        if url.startswith("oci://") or spec.get("type") == "oci":
            base = url if url.startswith("oci://") else "oci://" + url.split("://", 1)[-1]
            out.ref = ChartRef("oci", base.rstrip("/") + "/" + chart, chart, oci_version(version),
                               insecure=spec.get("insecure") is True)
        else:
            out.ref = ChartRef("http", url.rstrip("/"), chart, version)
        return out
    if kind in ("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact"):
        root = local(kind, ns, name)
        if root is None:
            out.problem = f"chart {chart} comes from {kind} {ns}/{name}, which is not this repository"
            return out
        rel = posixpath.normpath(posixpath.join(root or ".", chart.lstrip("/")))
        rel = "" if rel == "." else rel
        if rel == ".." or rel.startswith("../"):
            out.problem = f"chart path {chart} leads outside the repository"
            return out
        out.local_dir = rel
        out.values_base = root
        out.info["local_path"] = rel
        out.info["name"] = posixpath.basename(rel) or None
        return out
    out.problem = f"unsupported chart source kind {kind}"
    return out


def _from_oci_repository(obj: dict, ns: str, name: str) -> ChartSource:
    spec = _d(obj.get("spec"))
    url = _s(spec.get("url")).strip().rstrip("/")
    ref = _d(spec.get("ref"))
    if ref.get("digest"):
        version = _s(ref["digest"])
    elif ref.get("semver"):
        version = "semver:" + _s(ref["semver"])
    else:
        version = _s(ref.get("tag")) or "latest"
    out = ChartSource(info={"name": url.rsplit("/", 1)[-1] or None, "version": version.removeprefix("semver:"),
                            "source": _source_info("OCIRepository", name, ns, url), "digest": None,
                            "local_path": None})
    bad = _unresolved(url, version)
    if bad:
        out.problem = f"OCIRepository {ns}/{name} holds an unresolved variable ({bad})"
    elif not url.startswith("oci://"):
        out.problem = f"OCIRepository {ns}/{name} has no oci:// url ({url or 'none'})"
    else:
        out.ref = ChartRef("oci", url, "", version, insecure=spec.get("insecure") is True)
    return out


def locate(spec: dict, namespace: str, lookup: Lookup, local: LocalSources | None = None) -> ChartSource:
    """The chart of a HelmRelease `spec` whose own namespace is `namespace`."""
    local = local or default_local_sources
    cs = _d(_d(spec.get("chart")).get("spec"))
    if cs:
        return _from_chart_spec(cs, namespace, lookup, local)
    ref = _d(spec.get("chartRef"))
    if not ref.get("name"):
        return ChartSource(info={"name": None, "version": None, "source": None, "digest": None, "local_path": None},
                           problem="the release names no chart (neither spec.chart nor spec.chartRef)")
    kind = _s(ref.get("kind")) or "OCIRepository"
    name = _s(ref["name"])
    ns = _s(ref.get("namespace")) or namespace
    obj = lookup(kind, ns, name)
    if obj is None:
        return ChartSource(info={"name": name, "version": None, "source": _source_info(kind, name, ns),
                                 "digest": None, "local_path": None},
                           problem=f"{kind} {ns}/{name} is not deployed by this repository")
    if kind == "OCIRepository":
        return _from_oci_repository(obj, ns, name)
    if kind == "HelmChart":
        out = _from_chart_spec(_d(obj.get("spec")), ns, lookup, local)
        out.info["via"] = _source_info("HelmChart", name, ns)
        return out
    if kind == "ExternalArtifact":
        root = local(kind, ns, name)
        info = {"name": name, "version": None, "source": _source_info(kind, name, ns), "digest": None,
                "local_path": root}
        if root is None:
            return ChartSource(info=info, problem=f"ExternalArtifact {ns}/{name} is not built from this repository")
        return ChartSource(info=info, local_dir=root)
    return ChartSource(info={"name": name, "version": None, "source": _source_info(kind, name, ns),
                             "digest": None, "local_path": None},
                       problem=f"unsupported chartRef kind {kind}")
