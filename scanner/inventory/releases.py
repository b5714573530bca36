"""What each deployed HelmRelease deploys (scanner.inventory.charts), added to its cluster as Resources.

A release whose chart is rendered gives the rendered objects (how "helm"); one read from its values
without the chart gives the objects the values describe (how "values"; app-template releases keep
their own workload and route derivation, scanner.inventory.workloads/routes); a release neither
rendered nor readable is "opaque": a coverage gap. Rendered objects point at the HelmRelease's file,
at the line of the value that produced them where that can be traced.
"""
from __future__ import annotations

from dataclasses import dataclass

from scanner.core.model import Document, Gap, Resource
from scanner.inventory.kinds import Kinds

HELM_GROUP = "helm.toolkit.fluxcd.io"


@dataclass(frozen=True)
class ReleaseInfo:
    """How one HelmRelease's objects are known (the coverage section and derive() read it)."""

    how: str  # helm | values | opaque
    derivation: str | None  # "app-template": workloads and routes come from the app-template derivation
    chart: str  # name@version, for messages
    objects: int


def release_key(res: Resource) -> tuple:
    return (res.cluster, res.namespace, res.name)


def render_releases(inv, cluster, settings, kinds: Kinds, line_of) -> list[Gap]:
    """Render (or read) every deployed HelmRelease of one cluster walk into `inv`; returns the gaps."""
    from scanner.inventory.charts import api_versions_of, release_objects
    from scanner.inventory.charts.render import choose_engine

    deployed = [r for r in cluster.resources]
    api_versions = api_versions_of([r.body for r in deployed if isinstance(r.body, dict)])
    taken = {(r.kind, r.namespace, r.name) for r in deployed}
    gaps: list[Gap] = []
    name = cluster.root.name
    repo_files = set(inv.files)  # once: a copy per release made 100x repos quadratic
    engine = choose_engine(settings)  # once: it searches PATH
    for hr in deployed:
        if hr.kind != "HelmRelease" or hr.group != HELM_GROUP or not isinstance(hr.body, dict):
            continue
        ro = release_objects(hr.body, namespace=hr.namespace or "default", lookup=cluster.lookup,
                             repo_root=inv.root, repo_files=repo_files, settings=settings,
                             local_sources=cluster.local_source, path=hr.path, line=hr.line,
                             api_versions=api_versions, engine=engine)
        chart = f"{ro.chart.get('name') or '?'}{'@' + str(ro.chart['version']) if ro.chart.get('version') else ''}"
        inv.releases[release_key(hr)] = ReleaseInfo(ro.how, ro.derivation, chart, len(ro.objects))
        inv.errors.extend(ro.errors)
        subject = f"HelmRelease {hr.namespace}/{hr.name} ({chart})"
        for g in ro.gaps:
            gaps.append(Gap(g.code, hr.path, subject, g.message, hr.line, name))
        if ro.derivation == "app-template":
            continue  # its workloads and routes come from the app-template derivation (derive())
        producer = f"HelmRelease/{hr.namespace}/{hr.name}"
        for i, obj in enumerate(ro.objects):
            if not isinstance(obj, dict):
                continue
            kind = str(obj.get("kind") or "")
            md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            obj_name = str(md.get("name") or "")
            ns = None if kinds.is_cluster_scoped(kind) else (md.get("namespace") or ro.release_namespace or hr.namespace)
            key = (kind, ns, obj_name)
            if key in taken:
                continue  # the same object applied twice (e.g. a chart and a kustomization): the first is judged
            taken.add(key)
            where = ro.value_lines.get(i)
            line = line_of(hr, where) if where else hr.line
            doc = Document(hr.path, line or hr.line, -1, obj, origin=hr.origin)
            res = Resource(doc=doc, namespace=ns, name=obj_name, deployed=True,
                           flux_kustomization=hr.flux_kustomization, variables=dict(hr.variables), body=obj,
                           cluster=name, how=ro.how, producer=producer)
            inv.add(res)
    return gaps
