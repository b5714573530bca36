"""What one HelmRelease deploys: its chart rendered with Helm's engine when the chart is at hand
(a directory of this repository, or the chart cache), else what its values describe, else
nothing the scan can see — and, every time, what could not be seen."""
from __future__ import annotations

import atexit
import copy
import hashlib
import os
import posixpath
import shutil
import tempfile
import threading
from typing import Callable

from scanner.core.model import CLUSTER_SCOPED_KINDS, ScanError
from scanner.inventory.charts.archive import UnsafeChart, copy_repo_chart, extract_archive, tree_digest
from scanner.inventory.charts.cache import ChartCache
from scanner.inventory.charts.fromvalues import derive
from scanner.inventory.charts.model import (HOW_HELM, HOW_OPAQUE, HOW_VALUES, ChartSettings, Gap, Provenance,
                                            ReleaseObjects)
from scanner.inventory.charts.postrender import (PostRenderFailed, apply_kustomize, apply_metadata,
                                                 kustomize_command)
from scanner.inventory.charts.render import RenderFailed, choose_engine, parse_output, render
from scanner.inventory.charts.source import ChartSource, LocalSources, locate
from scanner.inventory.charts.trace import trace
from scanner.inventory.charts.values import merge_maps, merged_values
from scanner.inventory.helm import looks_like_app_template
from scanner.sources.yamlload import load_documents

Lookup = Callable[[str, str, str], "dict | None"]
MAX_RELEASE_NAME = 53


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def release_name(hr: dict) -> str:
    """helm-controller: `spec.releaseName`, else `<targetNamespace>-<name>` or `<name>`, shortened
    past 53 characters to 40 + "-" + 12 hex of its sha256."""
    spec = _d(hr.get("spec"))
    name = str(_d(hr.get("metadata")).get("name") or "")
    if spec.get("releaseName"):
        full = str(spec["releaseName"])
    elif spec.get("targetNamespace"):
        full = f"{spec['targetNamespace']}-{name}"
    else:
        full = name
    if len(full) <= MAX_RELEASE_NAME:
        return full
    return full[:MAX_RELEASE_NAME - 13] + "-" + hashlib.sha256(full.encode()).hexdigest()[:12]


# ---- private chart copies, one per content digest, kept for the life of the process ----------
_copies_lock = threading.Lock()
_copies: dict[str, str] = {}
_copies_root: list[str] = []


def _scratch() -> str:
    if not _copies_root:
        _copies_root.append(tempfile.mkdtemp(prefix="posture-charts-"))
    return _copies_root[0]


def _cleanup() -> None:
    for d in _copies_root:
        shutil.rmtree(d, ignore_errors=True)
    _copies_root.clear()
    _copies.clear()


atexit.register(_cleanup)


def _prepared_from_archive(digest: str, data: bytes) -> str:
    with _copies_lock:
        if digest in _copies:
            return _copies[digest]
        dest = tempfile.mkdtemp(dir=_scratch(), prefix="c-")
        try:
            extract_archive(data, dest)
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise
        _copies[digest] = dest
        return dest


def _prepared_from_repo(repo_root: str, chart_rel: str, repo_files: set[str] | None) -> tuple[str, str]:
    dest = tempfile.mkdtemp(dir=_scratch(), prefix="l-")
    try:
        copy_repo_chart(repo_root, chart_rel, repo_files, dest)
        digest = tree_digest(dest)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    with _copies_lock:
        if digest in _copies:
            shutil.rmtree(dest, ignore_errors=True)
            return _copies[digest], digest
        _copies[digest] = dest
    return dest, digest


def read_values_file(base_dir: str, rel: str) -> dict | None:
    """A values file inside `base_dir` (no escaping, no links), parsed; None when absent."""
    norm = posixpath.normpath(rel.lstrip("/"))
    if norm.startswith("..") or norm == ".":
        return None
    path = os.path.join(base_dir, *norm.split("/"))
    if os.path.islink(path) or not os.path.isfile(path):
        return None
    with open(path, "rb") as fh:
        docs, errors = load_documents(fh.read(8 << 20))
    if errors or not docs or not isinstance(docs[0].body, dict):
        return {} if not errors else None
    return docs[0].body


class RenderContext:
    """The release being rendered, and how its errors are told."""

    def __init__(self, hr: dict, namespace: str, path: str | None, line: int | None, label: str | None = None,
                 release: str | None = None, release_ns: str | None = None, api_versions: tuple = ()):
        self.hr = hr
        self.api_versions = tuple(api_versions)
        self.spec = _d(hr.get("spec"))
        self.name = str(_d(hr.get("metadata")).get("name") or "")
        self.namespace = namespace
        self.path = path or ""
        self.line = line
        self.label = label or f"HelmRelease {namespace}/{self.name}"
        self.release = release if release is not None else release_name(hr)
        self.release_ns = release_ns if release_ns is not None else str(self.spec.get("targetNamespace") or namespace)

    def error(self, code: str, message: str) -> ScanError:
        return ScanError(self.path, self.line, f"{self.label}: {message}", code=code)


def _chart_dir(src: ChartSource, ctx: RenderContext, result: ReleaseObjects, repo_root: str,
               repo_files: set[str] | None, settings: ChartSettings) -> tuple[str, str] | None:
    """(private chart copy, its key) or None with a gap or error recorded."""
    if src.local_dir is not None:
        try:
            d, digest = _prepared_from_repo(repo_root, src.local_dir, repo_files)
        except UnsafeChart as exc:
            result.errors.append(ctx.error("helm-chart-refused", f"chart refused: {exc}"))
            result.gaps.append(Gap("helm-chart-refused", f"chart {src.local_dir or '.'} not rendered: {exc}"))
            return None
        result.chart["digest"] = digest
        return d, digest
    assert src.ref is not None
    if not settings.charts_dir:
        result.gaps.append(Gap("helm-chart-not-cached", f"{src.ref.describe()}: no chart cache is configured"))
        return None
    cached, why = ChartCache(settings.charts_dir).lookup(src.ref)
    if cached is None:
        result.gaps.append(Gap("helm-chart-not-cached", f"{src.ref.describe()}: {why} "
                                                        "(fill the cache with `posture charts pull`)"))
        return None
    result.chart["digest"] = cached.digest
    result.chart["version"] = cached.version or result.chart.get("version")
    try:
        return _prepared_from_archive(cached.digest, cached.data), cached.digest
    except UnsafeChart as exc:
        result.errors.append(ctx.error("helm-chart-refused", f"cached chart {cached.digest}: {exc}"))
        result.gaps.append(Gap("helm-chart-refused", f"{src.ref.describe()} not rendered: {exc}"))
        return None


def _values_files(src: ChartSource, chart_dir: str, repo_root: str) -> tuple[dict, list[str]]:
    """The chart source's `valuesFiles`, merged in order (source-controller), and the missing ones."""
    merged: dict = {}
    missing = []
    for f in src.values_files:
        if src.values_base is not None:
            base = os.path.join(os.path.realpath(repo_root), *[p for p in src.values_base.split("/") if p])
            body = read_values_file(base, f)
        else:
            body = read_values_file(chart_dir, f)
        if body is None:
            missing.append(f)
        else:
            merged = merge_maps(merged, body)
    return merged, missing


def _cluster_scoped(obj: dict, crd_scopes: dict) -> bool:
    kind = str(obj.get("kind") or "")
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    if (group, kind) in crd_scopes:
        return crd_scopes[(group, kind)] == "Cluster"
    return kind in CLUSTER_SCOPED_KINDS


def fill_namespaces(objects: list[dict], namespace: str) -> None:
    """Namespaced objects without a namespace go to the release namespace (as Helm applies them)."""
    crd_scopes = {}
    for o in objects:
        if o.get("kind") == "CustomResourceDefinition":
            s = _d(o.get("spec"))
            crd_scopes[(str(s.get("group") or ""), str(_d(s.get("names")).get("kind") or ""))] = s.get("scope")
    for o in objects:
        md = o.get("metadata")
        if not isinstance(md, dict):
            md = o["metadata"] = {}
        if _cluster_scoped(o, crd_scopes):
            continue
        if not md.get("namespace"):
            md["namespace"] = namespace


def render_source(src: ChartSource, ctx: RenderContext, result: ReleaseObjects, values: dict, engine: str,
                  repo_root: str, repo_files: set[str] | None, settings: ChartSettings, *, include_crds: bool,
                  include_tests: bool):
    """The chart of `src` rendered with `values` (a `render.Rendered`), or None with the reason recorded."""
    prepared = _chart_dir(src, ctx, result, repo_root, repo_files, settings)
    if prepared is None:
        return None
    chart_dir, key = prepared
    meta = read_values_file(chart_dir, "Chart.yaml") or {}
    if meta.get("name"):
        result.chart["name"] = str(meta["name"])
    if meta.get("version"):
        result.chart["version"] = str(meta["version"])
    if src.values_files:
        vf, missing = _values_files(src, chart_dir, repo_root)
        if missing and not src.ignore_missing_values_files:
            result.errors.append(ctx.error("helm-values-missing", f"valuesFiles {', '.join(missing)} not found; "
                                                                  "source-controller would fail the chart"))
        values = merge_maps(vf, values)
    try:
        manifests, crds = render(chart_dir, key, values, ctx.release, ctx.release_ns, engine, settings,
                                 ctx.api_versions)
    except RenderFailed as exc:
        result.errors.append(ctx.error(exc.code, str(exc)))
        result.gaps.append(Gap(exc.code, f"chart {result.chart.get('name')} not rendered: {exc}"))
        return None
    out = parse_output(manifests, crds, include_crds, include_tests)
    for p in out.problems:
        result.errors.append(ctx.error("helm-render-bad-yaml", p))
    return out


def _render(src: ChartSource, ctx: RenderContext, result: ReleaseObjects, values: dict, engine: str,
            repo_root: str, repo_files: set[str] | None, settings: ChartSettings) -> bool:
    install = _d(ctx.spec.get("install"))
    include_crds = str(install.get("crds") or "Create") != "Skip" and install.get("skipCRDs") is not True
    include_tests = _d(ctx.spec.get("test")).get("enable") is True
    out = render_source(src, ctx, result, values, engine, repo_root, repo_files, settings,
                        include_crds=include_crds, include_tests=include_tests)
    if out is None:
        return False
    objects, templates = out.objects, out.templates
    objects, templates = _post_render(ctx, result, objects, templates, settings)
    common = _d(ctx.spec.get("commonMetadata"))
    origin = {"helm.toolkit.fluxcd.io/name": ctx.name, "helm.toolkit.fluxcd.io/namespace": ctx.namespace}
    for o in objects:
        apply_metadata(o, {**_d(common.get("labels")), **origin}, _d(common.get("annotations")))
    fill_namespaces(objects, ctx.release_ns)
    traced = trace(objects, _d(ctx.spec.get("values")))
    for i, (o, t) in enumerate(zip(objects, templates)):
        result.add(o, Provenance(template=t, values_path=traced.get(i)))
    result.how = HOW_HELM
    return True


def _post_render(ctx: RenderContext, result: ReleaseObjects, objects: list[dict], templates: list[str],
                 settings: ChartSettings) -> tuple[list[dict], list[str]]:
    steps = [s for s in ctx.spec.get("postRenderers") or [] if isinstance(s, dict)]
    if not steps:
        return objects, templates
    # Helm post-renders the templates' output; CRDs of crds/ are applied as they are.
    crd_idx = [i for i, t in enumerate(templates) if "/crds/" in f"/{t}" and "/templates/" not in t]
    keep = [(objects[i], templates[i]) for i in crd_idx]
    body = [o for i, o in enumerate(objects) if i not in crd_idx]
    origin = {(_key(o)): t for i, (o, t) in enumerate(zip(objects, templates)) if i not in crd_idx}
    command = kustomize_command(settings.kustomize_binary)
    for n, step in enumerate(steps):
        if not isinstance(step.get("kustomize"), dict):
            result.gaps.append(Gap("helm-postrender-skipped", f"postRenderers[{n}] is not a kustomize post-renderer; "
                                                              "not applied"))
            continue
        if command is None:
            result.gaps.append(Gap("helm-postrender-skipped", f"postRenderers[{n}] not applied: no kustomize "
                                                              "(install the charts extra)"))
            continue
        try:
            body = apply_kustomize(body, step["kustomize"], command, settings.timeout)
        except PostRenderFailed as exc:
            result.errors.append(ctx.error(exc.code, f"postRenderers[{n}]: {exc}"))
            result.gaps.append(Gap(exc.code, f"postRenderers[{n}] not applied: {exc}"))
    out_objects = [o for o, _ in keep] + body
    out_templates = [t for _, t in keep] + [origin.get(_key(o), "post-renderer") for o in body]
    return out_objects, out_templates


def _key(o: dict) -> tuple:
    md = _d(o.get("metadata"))
    return (str(o.get("apiVersion")), str(o.get("kind")), str(md.get("namespace") or ""), str(md.get("name") or ""))


def _derive(ctx: RenderContext, result: ReleaseObjects, values: dict, origins: dict, app_template: bool) -> None:
    for obj, prov in derive(values, ctx.release, ctx.release_ns, result.chart.get("name"), app_template):
        top = prov.values_path[2] if prov.values_path and len(prov.values_path) > 2 else None
        if origins.get(top) != "spec.values":
            where = origins.get(top, "values")
            prov.template = f"{prov.template} ({where})"
            prov.values_path = None
        result.add(obj, prov)
    common = _d(ctx.spec.get("commonMetadata"))
    for o in result.objects:
        apply_metadata(o, _d(common.get("labels")), _d(common.get("annotations")))
    fill_namespaces(result.objects, ctx.release_ns)
    if ctx.spec.get("postRenderers") and result.objects:
        result.gaps.append(Gap("helm-postrender-skipped", f"{ctx.label}: postRenderers not applied to the objects "
                                                          "derived from values"))


def release_objects(hr: dict, *, namespace: str, lookup: Lookup, repo_root: str, repo_files: set[str] | None,
                    settings: ChartSettings, local_sources: LocalSources | None = None,
                    path: str | None = None, line: int | None = None,
                    api_versions: tuple[str, ...] | list[str] = (),
                    engine: tuple[str | None, str] | None = None) -> ReleaseObjects:
    """The objects the HelmRelease `hr` (its body, Flux-substituted) deploys.

    `namespace` is the HelmRelease's own namespace; `lookup(kind, namespace, name)` finds deployed
    objects of the same cluster (sources, values ConfigMaps); `local_sources` says which Flux sources
    are this repository (default: GitRepository flux-system/flux-system); `path`/`line` locate the
    HelmRelease for error messages; `api_versions` are the cluster's `.Capabilities.APIVersions`
    beyond Helm's defaults (see `render.api_versions_of`: charts gate routes and monitors on them);
    `engine`: `choose_engine(settings)`'s answer when the caller already has it."""
    ctx = RenderContext(hr, namespace, path, line, api_versions=tuple(api_versions))
    src = locate(ctx.spec, namespace, lookup, local_sources)
    result = ReleaseObjects(objects=[], how=HOW_OPAQUE, chart=copy.deepcopy(src.info),
                            release_name=ctx.release, release_namespace=ctx.release_ns)
    merged = merged_values(ctx.spec, namespace, lookup)
    result.gaps.extend(merged.gaps)
    result.values = merged.values
    for p in merged.problems:
        result.errors.append(ctx.error("helm-values-invalid", p))
    app_template = looks_like_app_template(merged.values) or (result.chart.get("name") == "app-template")
    rendered = False
    engine, why = engine or choose_engine(settings)
    if src.problem:
        result.gaps.append(Gap("helm-chart-unavailable", src.problem))
    elif engine is None:
        result.gaps.append(Gap("helm-engine-missing", why))
    else:
        rendered = _render(src, ctx, result, merged.values, engine, repo_root, repo_files, settings)
    if rendered:
        return result
    _derive(ctx, result, merged.values, merged.origins, app_template)
    if app_template:
        result.how = HOW_VALUES
        result.derivation = "app-template"
    elif result.objects:
        result.how = HOW_VALUES
        result.gaps.append(Gap("helm-values-only", f"HelmRelease {namespace}/{ctx.name}: chart "
                                                   f"{_chart_label(result.chart)} not rendered; only the objects "
                                                   "its values describe are seen"))
    else:
        result.how = HOW_OPAQUE
        result.gaps.append(Gap("helm-opaque", f"HelmRelease {namespace}/{ctx.name}: chart {_chart_label(result.chart)} "
                                              "not rendered, and its values describe no objects: what it deploys "
                                              "is not seen"))
    return result


def _chart_label(chart: dict) -> str:
    name = chart.get("name") or "?"
    version = chart.get("version")
    src = _d(chart.get("source"))
    where = src.get("url") or (f"{src.get('kind')} {src.get('namespace')}/{src.get('name')}" if src else "")
    return f"{name}{' ' + str(version) if version else ''}{' from ' + where if where else ''}"
