"""kustomize's `helmCharts:` entries (the HelmChartInflationGenerator), rendered by the chart engine
instead of kustomize's `--enable-helm` (which would run a helm binary with network access).

An entry's chart is vendored under `helmGlobals.chartHome` (default `charts/`) next to the
kustomization, or pulled from `repo` into the chart cache. Values: `valuesFile` (or the chart's
own), `valuesInline` merged per `valuesMerge` (override, merge, replace), `additionalValuesFiles`
on top. Objects keep the namespace Helm gives them: the kustomization around them decides the rest."""
from __future__ import annotations

import os
import posixpath

from scanner.inventory.charts.cache import ChartRef
from scanner.inventory.charts.model import HOW_HELM, HOW_OPAQUE, ChartSettings, Gap, Provenance, ReleaseObjects
from scanner.inventory.charts.release import RenderContext, read_values_file, render_source
from scanner.inventory.charts.render import choose_engine
from scanner.inventory.charts.source import ChartSource, oci_version
from scanner.inventory.charts.values import merge_maps

DEFAULT_RELEASE_NAME = "release-name"


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _inside(rel: str) -> bool:
    return not (rel == ".." or rel.startswith("../") or rel.startswith("/"))


def _values(entry: dict, kdir: str, repo_root: str, result: ReleaseObjects, ctx: RenderContext) -> dict:
    root = os.path.realpath(repo_root)

    def read(rel: str) -> dict | None:
        norm = posixpath.normpath(posixpath.join(kdir or ".", rel))
        if not _inside(norm):
            result.errors.append(ctx.error("helm-values-refused", f"values file {rel} leads outside the repository"))
            return None
        body = read_values_file(root, norm)
        if body is None:
            result.errors.append(ctx.error("helm-values-missing", f"values file {rel} not found"))
        return body

    base = read(entry["valuesFile"]) if isinstance(entry.get("valuesFile"), str) and entry["valuesFile"] else {}
    inline = _d(entry.get("valuesInline"))
    how = str(entry.get("valuesMerge") or "override")
    if how == "replace":
        values = dict(inline)
    elif how == "merge":
        values = merge_maps(inline, base or {})
    else:
        values = merge_maps(base or {}, inline)
    for extra in entry.get("additionalValuesFiles") or []:
        if isinstance(extra, str):
            values = merge_maps(values, read(extra) or {})
    return values


def chart_source(entry: dict, kdir: str, chart_home: str, repo_files: set[str]) -> ChartSource:
    name = str(entry.get("name") or "")
    version = str(entry.get("version") or "")
    repo = str(entry.get("repo") or "").strip()
    info = {"name": name or None, "version": version or None,
            "source": {"kind": "helmCharts", "name": name, "namespace": None, "url": repo or None},
            "digest": None, "local_path": None}
    home = posixpath.normpath(posixpath.join(kdir or ".", chart_home))
    for cand in ([f"{home}/{name}-{version}/{name}"] if version else []) + [f"{home}/{name}"]:
        if _inside(cand) and f"{cand}/Chart.yaml" in repo_files:
            info["local_path"] = cand
            return ChartSource(info=info, local_dir=cand)
    if not name or "/" in name:
        return ChartSource(info=info, problem=f"helmCharts entry has no usable chart name ({name or 'none'})")
    if repo.startswith("oci://"):
        return ChartSource(info=info, ref=ChartRef("oci", repo.rstrip("/") + "/" + name, name, oci_version(version)))
    if repo.startswith(("https://", "http://")):
        return ChartSource(info=info, ref=ChartRef("http", repo.rstrip("/"), name, version or "*"))
    return ChartSource(info=info, problem=f"chart {name} is neither vendored under {home} nor in a repository")


def helm_chart_objects(entry: dict, *, kustomization_dir: str, repo_root: str, repo_files: set[str] | None,
                       settings: ChartSettings, chart_home: str = "charts", path: str | None = None,
                       line: int | None = None, api_versions: tuple[str, ...] | list[str] = ()) -> ReleaseObjects:
    """What one `helmCharts:` entry of the kustomization in `kustomization_dir` (repo-relative) inflates to."""
    entry = _d(entry)
    release = str(entry.get("releaseName") or DEFAULT_RELEASE_NAME)
    namespace = str(entry.get("namespace") or "default")
    ctx = RenderContext({"metadata": {"name": release}}, namespace, path, line,
                   label=f"helmCharts {entry.get('name')} in {kustomization_dir or '.'}", release=release,
                   release_ns=namespace,
                   api_versions=tuple(entry.get("apiVersions") or ()) + tuple(api_versions))
    src = chart_source(entry, kustomization_dir, chart_home, repo_files or set())
    result = ReleaseObjects(objects=[], how=HOW_OPAQUE, chart=dict(src.info), release_name=release,
                            release_namespace=namespace)
    values = _values(entry, kustomization_dir, repo_root, result, ctx)
    engine, why = choose_engine(settings)
    out = None
    if src.problem:
        result.gaps.append(Gap("helm-chart-unavailable", src.problem))
    elif engine is None:
        result.gaps.append(Gap("helm-engine-missing", why))
    else:
        out = render_source(src, ctx, result, values, engine, repo_root, repo_files, settings,
                            include_crds=entry.get("includeCRDs") is True,
                            include_tests=entry.get("skipTests") is not True)
    if out is None:
        result.gaps.append(Gap("helm-opaque", f"{ctx.label}: chart not rendered; what it inflates to is not seen"))
        return result
    for o, t in zip(out.objects, out.templates):
        hooked = "helm.sh/hook" in _d(_d(o.get("metadata")).get("annotations"))
        if entry.get("skipHooks") is True and hooked:
            continue
        result.add(o, Provenance(template=t))
    result.how = HOW_HELM
    return result
