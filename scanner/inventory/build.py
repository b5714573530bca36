"""Build the inventory: the repository's Flux roots walked cluster by cluster (scanner.inventory.walk),
every document not deployed by any of them kept as such, workloads and routes derived, and the
coverage section (what could not be seen) assembled."""
from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass

from scanner.core.model import Document, Resource, ScanError
from scanner.inventory import routes as route_mod
from scanner.inventory import workloads as workload_mod
from scanner.inventory.coverage import summarise
from scanner.inventory.fluxstrict import strict_substitution
from scanner.inventory.helmvalues import values_resource
from scanner.inventory.kinds import Kinds
from scanner.inventory.model import EntryPoint, Inventory
from scanner.inventory.releases import release_key, render_releases
from scanner.inventory.roots import find_roots
from scanner.inventory.walk import DocumentMatcher, WalkContext, walk_cluster


@dataclass(frozen=True)
class InventorySettings:
    """How the repository is read (built by the CLI from flags and posture.yaml)."""

    roots: tuple[str, ...] = ()  # --root / posture.yaml roots: sync paths named by the user
    clusters: tuple[str, ...] = ()  # keep only these clusters (by name); empty = all
    repo_url: str | None = None  # the repository's own remote (tells a sync of this repo from another)
    kustomize_mode: str = "auto"  # auto | binary | native
    kustomize_bin: str | None = None
    cache_dir: str | None = None  # content-keyed build cache; None = no cache
    charts_dir: str | None = None  # the chart cache (`posture charts pull` fills it)
    chart_engine: str = "auto"  # auto | sdk | helm | none
    helm_binary: str | None = None
    workers: int = 0


def _engine_factory(settings: InventorySettings):
    from scanner.inventory.builder import BuildEngine, BuildSettings

    build = BuildSettings(mode=settings.kustomize_mode, binary=settings.kustomize_bin, cache_dir=settings.cache_dir,
                          workers=settings.workers)

    def make(root: str, files: set[str]):
        return BuildEngine(root, files, build)

    return make


def build_inventory(root: str | None, documents: list[Document], files: list[str], errors: list[ScanError],
                    config: dict | None = None, settings: InventorySettings | None = None,
                    engine_factory=None, postbuild=None, read_flux: bool = True) -> Inventory:
    """`read_flux=False`: the documents only, none deployed (the pre-commit leak scan of a few files)."""
    settings = settings or InventorySettings()
    inv = Inventory(root=root, documents=documents, files=files, errors=errors, config=config or {})
    if root is None or not read_flux:
        for d in documents:
            if d.is_manifest:
                md = d.body.get("metadata") if isinstance(d.body.get("metadata"), dict) else {}
                inv.add(Resource(doc=d, namespace=md.get("namespace") if isinstance(md.get("namespace"), str) else None,
                                 name=str(md.get("name", "")), deployed=False))
        derive(inv)
        return inv
    inv.sources.add("git")
    answers_to_save = None  # the substitution cache this call made (a caller's own is the caller's to save)
    if postbuild is None:
        if settings.cache_dir:
            from scanner.inventory.postbuild_cache import CachedPostBuild

            postbuild = answers_to_save = CachedPostBuild(settings.cache_dir, root)
        else:
            from scanner.inventory import postbuild
    docs_by_path: dict[str, list[Document]] = defaultdict(list)
    for d in documents:
        docs_by_path[d.path].append(d)
    file_set = frozenset(files)
    dirs = {""}
    for f in file_set:
        d = posixpath.dirname(f)
        while d and d not in dirs:
            dirs.add(d)
            d = posixpath.dirname(d)
    found = find_roots(documents, dirs, explicit=list(settings.roots), repo_url=settings.repo_url)
    inv.gaps.extend(found.gaps)
    roots = [r for r in found.roots if not settings.clusters or r.name in settings.clusters]
    inv.roots = roots
    strict, why = strict_substitution(documents)
    evidence = f"{why.reason}" + (f" ({why.path}:{why.line})" if why.path else "")
    try:
        from scanner.inventory.resourcesets import expand as expand_resourceset
    except ImportError:  # pragma: no cover - shipped with the scanner
        expand_resourceset = None
    ctx = WalkContext(repo_root=root, files=file_set, docs_by_path=docs_by_path, kinds=Kinds(documents),
                      build_settings=settings, strict=strict, strict_evidence=evidence,
                      engine_factory=engine_factory or _engine_factory(settings), postbuild=postbuild,
                      expand_resourceset=expand_resourceset, matcher=DocumentMatcher(docs_by_path))
    from scanner.inventory.charts import ChartSettings

    chart_settings = ChartSettings(charts_dir=settings.charts_dir, engine=settings.chart_engine,
                                   helm_binary=settings.helm_binary, kustomize_binary=settings.kustomize_bin)
    clusters = []
    for r in roots:
        ci = walk_cluster(r, ctx)
        clusters.append(ci)
        inv.errors.extend(ci.errors)
        inv.gaps.extend(ci.gaps)
        inv.deployed_files |= ci.files_used
        inv.kustomizations.extend(ci.statuses[k] for k in sorted(ci.statuses))
        for res in ci.resources:
            inv.add(res)
            inv.deployed_files.add(res.path)
        inv.gaps.extend(render_releases(inv, ci, chart_settings, ctx.kinds, inv.line_of))
    inv.tools.update(ctx.tools)
    if answers_to_save is not None:
        answers_to_save.save()
    inv.entry = _entry_point(found, roots)
    deployed_docs = {id(r.doc) for r in inv.resources}
    for d in documents:
        if d.is_manifest and id(d) not in deployed_docs:
            md = d.body.get("metadata") if isinstance(d.body.get("metadata"), dict) else {}
            ns = md.get("namespace") if not ctx.kinds.is_cluster_scoped(d.kind) else None
            inv.add(Resource(doc=d, namespace=ns if isinstance(ns, str) else None, name=str(md.get("name", "")),
                             deployed=False))
    derive(inv)
    inv.coverage = summarise(inv, clusters, strict=strict, strict_evidence=evidence)
    return inv


def _entry_point(found, roots) -> EntryPoint:
    if not roots:
        why = "; ".join(g.message for g in found.unresolved) or "no Flux root"
        return EntryPoint(False, note=why)
    first = roots[0]
    note = ("; ".join(f"{r.name}: {r.kind}{' in ' + r.declared_in if r.declared_in else ''} syncs {r.path or '.'}"
                      for r in roots))
    return EntryPoint(not first.implicit, first.kind, first.declared_in, first.line, first.path, note)


def add_cluster_documents(inv: Inventory, documents: list[Document]) -> None:
    """Live objects are deployed by definition; their namespace and name are what the API says."""
    inv.sources.add("cluster")
    for d in documents:
        md = d.body.get("metadata") if isinstance(d.body.get("metadata"), dict) else {}
        inv.documents.append(d)
        inv.add(Resource(doc=d, namespace=md.get("namespace"), name=str(md.get("name", "")), deployed=True,
                         how="live", cluster="live"))


def derive(inv: Inventory) -> None:
    """Workloads and routes from every resource (deployed and not; checks filter on `deployed`)."""
    inv.workloads.clear()
    inv.routes.clear()
    for res in inv.resources:
        kind = res.kind
        if kind in workload_mod.POD_TEMPLATE_PATHS or kind == "Pod":
            if res.origin == "cluster" and kind == "Pod":
                continue  # live pods are judged against their owners (see checks.live)
            w = workload_mod.from_manifest(res)
            if w:
                inv.workloads.append(w)
        elif kind == "HelmRelease" and res.group == "helm.toolkit.fluxcd.io":
            release = inv.releases.get(release_key(res))
            if release is not None and release.how == "helm":
                continue  # its chart was rendered: the rendered objects are judged instead
            info = inv.chart(res)
            # Values kept in a generated ConfigMap's values.yaml: derive from a stand-in that maps
            # spec.values onto that file (identity stays the HelmRelease's).
            source = values_resource(inv, res) if res.origin == "git" and res.spec.get("valuesFrom") else None
            source = source or res
            app_template = info.name == "app-template" or inv.is_app_template(source)
            if app_template:
                inv.workloads.extend(workload_mod.from_app_template(source, info.version))
            elif workload_mod.known_chart(info.name):
                inv.workloads.extend(workload_mod.from_chart_values(source, info.name, info.version))
            if app_template or release is None:  # (other charts' value routes are objects of the release already)
                inv.routes.extend(route_mod.from_values(source, app_template))
        elif kind in ("Ingress", "IngressRoute") + route_mod.ROUTE_KINDS:
            r = route_mod.from_manifest(res)
            if r:
                inv.routes.append(r)

