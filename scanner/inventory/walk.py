"""The Flux graph of one cluster, walked as kustomize-controller reconciles it.

From the cluster's root sync path, each Flux Kustomization is built by the build engine (the real
kustomize, or the exact native subset) with its overlay (targetNamespace, patches, images, components,
name prefix/suffix), then post-build substituted as Flux does, given its `commonMetadata` and Flux's own
labels; every object built is a deployed Resource of this cluster, and the Flux Kustomizations among
them are built next, level by level (one batch of builds per level). Nothing unseen passes: a source
that is not this repository, a remote resource, a build that fails, a variable that cannot be
resolved, an object whose namespace cannot be known — each is a coverage gap naming its file.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable

from scanner.core.model import Document, Gap, Resource, ScanError
from scanner.inventory.kinds import Kinds
from scanner.inventory.roots import Root, strip_path
from scanner.inventory.sources import SourceResolver, SourceTree

FLUX_KS_GROUP = "kustomize.toolkit.fluxcd.io"
ROOT_KEY = "flux-system/flux-system"
MAX_DEPTH = 50  # nesting of Flux Kustomizations (a hostile repo may chain them without end)
# Flux Kustomizations in one cluster. Each needs a document in the repo, so this only bounds what a
# hostile repo can make the walk hold; a home-lab at a hundred times the usual size has ~12,000.
MAX_NODES = 100_000


def is_flux_ks(kind: str, api_version: str) -> bool:
    return kind == "Kustomization" and api_version.startswith(FLUX_KS_GROUP)


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


@dataclass
class Node:
    """One Flux Kustomization to build (the root sync is a node without a resource)."""

    key: str  # "<namespace>/<name>"
    namespace: str
    body: dict  # its spec as deployed (already substituted by its parent)
    tree: SourceTree
    path: str  # its spec.path inside the source
    depth: int
    declared_in: str  # repo file declaring it (for messages)
    line: int | None = None
    resource: Resource | None = None


@dataclass
class ClusterInventory:
    """What one cluster's walk found."""

    root: Root
    resources: list[Resource] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    files_used: set[str] = field(default_factory=set)
    builds: Counter = field(default_factory=Counter)  # how -> number of Flux Kustomization builds
    unresolved: dict[str, set[str]] = field(default_factory=dict)  # Flux Kustomization -> variables left unresolved
    statuses: dict[str, "KustomizationStatus"] = field(default_factory=dict)  # Flux Kustomization -> how it went
    source_problems: dict[str, str] = field(default_factory=dict)  # Flux Kustomization -> a broken sourceRef
    # Flux Kustomizations whose ExternalArtifact's ArtifactGenerator has not been seen yet (it may be
    # deployed by a Kustomization built later): (resource, parent node), retried after every level.
    pending: list = field(default_factory=list)
    strict: bool = False
    strict_evidence: str = ""
    unknown_kinds: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (apiVersion, kind) -> files
    lookup: Callable | None = None  # (kind, namespace, name) -> a deployed object's body, after the walk
    local_source: Callable | None = None  # (kind, namespace, name) -> repo dir of a source that is this repo, or None


@dataclass
class KustomizationStatus:
    """How one Flux Kustomization's build and post-build went (the gitops build checks read this)."""

    key: str
    cluster: str
    path: str  # file declaring it
    line: int | None
    how: str  # native | kustomize | failed | external (its source is not in the scan) | not-found
    # (the key of a repository without a Flux root: "flux-system/flux-system" for its loose manifests,
    # "flux-system/flux-system:<dir>" for each kustomization directory; `implicit` then)
    degraded: bool = False  # built only with missing generator files replaced by empty ones
    build_errors: list[str] = field(default_factory=list)
    postbuild_errors: list[str] = field(default_factory=list)  # each fails the whole Kustomization in Flux
    undefined: set[str] = field(default_factory=set)  # no value, no default: "" (or a failure when strict)
    unreadable: set[str] = field(default_factory=set)  # values held in Secrets: left as written
    strict: bool = False
    source_problem: str | None = None  # its sourceRef names no existing source (built anyway, from this repo)
    implicit: bool = False  # a build of a repository without a Flux root, not a Flux Kustomization


class _Index:
    """The cluster's deployed objects by (kind, namespace, name), as the walk adds them."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str, str], Resource] = {}
        self.by_kind_ns: dict[tuple[str, str], list[Resource]] = defaultdict(list)

    def add(self, res: Resource) -> Resource | None:
        key = (res.kind, res.namespace or "", res.name)
        if key in self.by_key:
            return self.by_key[key]
        self.by_key[key] = res
        self.by_kind_ns[(res.kind, res.namespace or "")].append(res)
        return None

    def replace(self, old: Resource, new: Resource) -> None:
        key = (old.kind, old.namespace or "", old.name)
        self.by_key[key] = new
        items = self.by_kind_ns[(old.kind, old.namespace or "")]
        items[items.index(old)] = new

    def lookup(self, kind: str, namespace: str, name: str) -> dict | None:
        res = self.by_key.get((kind, namespace or "", name))
        return res.body if res is not None else None

    def objects_of(self, kind: str, namespace: str) -> list[dict]:
        return [r.body for r in self.by_kind_ns.get((kind, namespace or ""), [])]


def overlay_of(spec: dict):
    from scanner.inventory.builder import FluxOverlay

    def tup(key):
        v = spec.get(key)
        return tuple(v) if isinstance(v, list) else ()

    def s(key, empty_is_value: bool = False):
        v = spec.get(key)
        if isinstance(v, str) and (v or empty_is_value):
            return v
        return None

    # (targetNamespace: "" is a value for Flux: it removes the kustomization's own namespace)
    return FluxOverlay(target_namespace=s("targetNamespace", True), name_prefix=s("namePrefix"),
                       name_suffix=s("nameSuffix"), patches=tup("patches"),
                       patches_strategic_merge=tup("patchesStrategicMerge"), patches_json6902=tup("patchesJson6902"),
                       images=tup("images"), components=tuple(c for c in tup("components") if isinstance(c, str)),
                       ignore_missing_components=spec.get("ignoreMissingComponents") is True)


class DocumentMatcher:
    """Maps a built object back to the document it came from, for its file and lines."""

    def __init__(self, docs_by_path: dict[str, list[Document]]):
        self.docs_by_path = docs_by_path
        self._synthetic: dict[tuple[str, str, str], Document] = {}

    def match(self, path: str | None, kind: str, name: str, body: dict, generated_by: str | None) -> Document:
        docs = [d for d in self.docs_by_path.get(path or "", []) if d.is_manifest] if path else []
        same_kind = [d for d in docs if d.kind == kind]
        for d in same_kind:
            if _d(d.body.get("metadata")).get("name") == name:
                return d
        for d in same_kind:  # a transformed name (prefix, suffix, replacement): the original within it
            orig = _d(d.body.get("metadata")).get("name")
            if isinstance(orig, str) and orig and orig in name:
                return d
        if len(same_kind) == 1:
            return same_kind[0]
        if same_kind:
            return same_kind[0]
        if docs:
            return docs[0]
        return self._made(generated_by or path or "(generated)", kind, name, body)

    def _made(self, path: str, kind: str, name: str, body: dict) -> Document:
        """A document for an object no file holds as such (a generator's ConfigMap), at the line of the
        generator entry that makes it when that can be found."""
        key = (path, kind, name)
        if key not in self._synthetic:
            line = 1
            for kdoc in self.docs_by_path.get(path, []):
                line = kdoc.line
                for field_name in ("configMapGenerator", "secretGenerator"):
                    for i, gen in enumerate(_d(kdoc.body).get(field_name) or []):
                        if isinstance(gen, dict) and isinstance(gen.get("name"), str) and name.startswith(gen["name"]):
                            line = _line_at(kdoc, (field_name, i)) or kdoc.line
                break
            self._synthetic[key] = Document(path, line, -1, body)
        return self._synthetic[key]


def _line_at(doc: Document, keypath: tuple) -> int | None:
    tree = getattr(doc, "lines", None)
    body = doc.body
    line = None
    for key in keypath:
        if tree is None:
            return line
        lines, kids = tree
        if isinstance(body, dict):
            keys = list(body)
            if key not in body:
                return line
            i = keys.index(key)
            body = body[key]
        elif isinstance(body, list) and isinstance(key, int) and key < len(body):
            i = key
            body = body[key]
        else:
            return line
        if i >= len(lines):
            return line
        line = lines[i]
        tree = kids[i] if kids is not None else None
    return line


class Materialiser:
    """ExternalArtifacts built from this repository, written under one scratch directory (one per
    cluster) so their builds batch together: <ns>/<name>/<artifact path> -> the repo file copied there."""

    def __init__(self, repo_root: str):
        self.repo_root = repo_root
        self.dir: str | None = None
        self.files: dict[str, str] = {}  # scratch path -> repo path
        self.placed: set[str] = set()

    def place(self, tree: SourceTree) -> str:
        base = tree.key.split(":", 1)[1]
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="posture-artifacts-")
        if tree.key not in self.placed:
            self.placed.add(tree.key)
            for art_path, repo_path in tree.files:
                rel = posixpath.join(base, art_path)
                dest = os.path.join(self.dir, rel)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(os.path.join(self.repo_root, repo_path), dest, follow_symlinks=False)
                self.files[rel] = repo_path
        return base

    def close(self) -> None:
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


@dataclass
class WalkContext:
    """What every cluster's walk shares."""

    repo_root: str
    files: frozenset[str]
    docs_by_path: dict[str, list[Document]]
    kinds: Kinds
    build_settings: object
    strict: bool
    strict_evidence: str
    engine_factory: Callable  # (root dir, files) -> engine with build_many(requests) and tool()
    postbuild: object  # the scanner.inventory.postbuild module (or a stand-in with the same functions)
    expand_resourceset: Callable | None = None
    matcher: DocumentMatcher | None = None
    tools: dict = field(default_factory=dict)


def walk_cluster(root: Root, ctx: WalkContext) -> ClusterInventory:
    out = ClusterInventory(root=root, strict=ctx.strict, strict_evidence=ctx.strict_evidence)
    index = _Index()
    resolver = SourceResolver(root, ctx.files, index.lookup, index.objects_of)
    matcher = ctx.matcher or DocumentMatcher(ctx.docs_by_path)
    artifacts = Materialiser(ctx.repo_root)
    engines: dict[str, object] = {}
    seen: set[str] = {ROOT_KEY}
    sync_spec = _d(_d(root.sync_doc.body).get("spec")) if root.sync_doc is not None else {}
    level = [Node(ROOT_KEY, "flux-system", {"spec": dict(sync_spec, path=root.path)}, resolver.repo_tree(),
                  _strip_prefix(root.path, root.prefix), 0, root.declared_in or "(--root)", root.line)]
    # No Flux root: the loose manifests, and each kustomization directory built alone; a repository
    # whose top folder is itself a kustomization directory is that one build (`kubectl apply -k .`).
    loose_root = root.implicit and not _root_is_kustomization(ctx)
    if loose_root:
        level += [Node(f"{ROOT_KEY}:{d}", "flux-system", {"spec": {"path": d}}, resolver.repo_tree(), d, 0, kfile, 1)
                  for d, kfile in top_kustomization_dirs(ctx)]
    deferred: list[tuple[Node, object]] = []
    count = 0
    try:
        while level or deferred:
            loose = [n for n in level if loose_root and n.key == ROOT_KEY]
            outcomes = [(n, _loose_manifests(n, ctx, out)) for n in loose]
            outcomes += _build_level([n for n in level if n not in loose], ctx, root, artifacts, engines, out) \
                if len(loose) < len(level) else []
            waiting = deferred + outcomes
            deferred = []
            next_level: list[Node] = []
            progress = False
            for node, outcome in waiting:
                sub = ctx.postbuild.settings_for(node.body, _configmap_lookup(index, outcome),
                                                 _secret_lookup(index, outcome), ctx.strict)
                missing = [m for m in getattr(sub, "missing", ()) or ()]
                if missing and level:  # the ConfigMap may be deployed by a build not made yet: wait for it
                    deferred.append((node, outcome))
                    continue
                progress = True
                for child in _finish(node, outcome, sub, ctx, root, index, resolver, matcher, out):
                    if child.key in seen:
                        continue
                    seen.add(child.key)
                    count += 1
                    if child.depth > MAX_DEPTH or count > MAX_NODES:
                        why = (f"is nested {child.depth} deep (the bound is {MAX_DEPTH})" if child.depth > MAX_DEPTH
                               else f"is past the bound of {MAX_NODES:,} Flux Kustomizations in one cluster")
                        out.errors.append(ScanError(child.declared_in, child.line,
                                                    f"Flux Kustomization {child.key} {why}; not built", kind="input",
                                                    code="flux-graph-too-deep"))
                        out.gaps.append(Gap("build-failed", child.declared_in, child.key,
                                            "Flux Kustomizations nested beyond the scanner's bound", cluster=root.name))
                        continue
                    next_level.append(child)
            if out.pending:  # ExternalArtifacts whose generator a later build may deploy: try again now
                retry, out.pending = out.pending, []
                last = not next_level and not deferred
                for res, parent in retry:
                    child = _child(res, parent, resolver, out, final=last)
                    if child is not None and child.key not in seen:
                        seen.add(child.key)
                        next_level.append(child)
            if not next_level and deferred and not progress:
                level = []  # nothing else will be deployed: finish the waiting ones with what is known
                for node, outcome in deferred:
                    sub = ctx.postbuild.settings_for(node.body, _configmap_lookup(index, outcome),
                                                     _secret_lookup(index, outcome), ctx.strict)
                    for child in _finish(node, outcome, sub, ctx, root, index, resolver, matcher, out):
                        if child.key not in seen and child.depth <= MAX_DEPTH:
                            seen.add(child.key)
                            next_level.append(child)
                deferred = []
            level = next_level
    finally:
        artifacts.close()
    if engines and "kustomize" not in ctx.tools:  # the first engine's (asked last: identifying it overlaps the builds)
        ctx.tools["kustomize"] = next(iter(engines.values())).tool()
    out.lookup = index.lookup
    out.local_source = resolver.local_dir
    for (api_version, kind), paths in sorted(out.unknown_kinds.items()):
        out.gaps.append(Gap("unknown-kind", sorted(paths)[0], f"{api_version} {kind}",
                            f"{len(paths)} {kind} object(s) ({api_version}): a kind the scanner does not recognise (no "
                            "CRD for it in the repository); checks judge them only generically", cluster=root.name))
    return out


def _loose_manifests(node: Node, ctx: WalkContext, out: ClusterInventory):
    """A repository without a Flux root: its manifests outside any kustomization directory, taken as
    written (what `kubectl apply -f` of each file would apply); each kustomization directory is built
    on its own (top_kustomization_dirs)."""
    from scanner.inventory.builder import BuildOutcome, BuildRequest, BuiltObject
    from scanner.inventory.roots import NOT_DEPLOYED_DIRS

    kdirs = [d for d, _ in top_kustomization_dirs(ctx)]
    objects = []
    for path in sorted(ctx.docs_by_path):
        d = posixpath.dirname(path)
        if any(seg in NOT_DEPLOYED_DIRS for seg in d.split("/")) or any(path.startswith(k + "/") for k in kdirs):
            continue
        for doc in ctx.docs_by_path[path]:
            if doc.is_manifest and doc.origin == "git" and doc.kind not in ("Kustomization", "Component") or (
                    doc.kind == "Kustomization" and doc.api_version.startswith(FLUX_KS_GROUP)):
                objects.append(BuiltObject(body=_copy(doc.body), source_path=path, generated_by=None))
    outcome = BuildOutcome(request=BuildRequest(key=node.key, path=""), objects=objects, how="file",
                           files_used={o.source_path for o in objects})
    out.statuses[node.key] = KustomizationStatus(node.key, out.root.name, node.declared_in, node.line, "file",
                                                 implicit=True)
    return outcome


def _copy(body):
    if isinstance(body, dict):
        return {k: _copy(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_copy(v) for v in body]
    return body


def _root_is_kustomization(ctx: WalkContext) -> bool:
    from scanner.inventory.kustomization_files import KUSTOMIZATION_FILES

    return any(name in ctx.files for name in KUSTOMIZATION_FILES)


def top_kustomization_dirs(ctx: WalkContext) -> list[tuple[str, str]]:
    """The kustomization directories of a repository without a Flux root that no other kustomization
    directory holds (each is what `kubectl apply -k DIR` would take), outside the not-deployed folders;
    components are not builds of their own."""
    from scanner.inventory.kustomization_files import KUSTOMIZATION_FILES
    from scanner.inventory.roots import NOT_DEPLOYED_DIRS

    found: dict[str, str] = {}
    for f in sorted(ctx.files):
        d, name = posixpath.split(f)
        if name not in KUSTOMIZATION_FILES or any(seg in NOT_DEPLOYED_DIRS for seg in d.split("/")) or not d:
            continue
        if any(_d(doc.body).get("kind") == "Component" for doc in ctx.docs_by_path.get(f, [])):
            continue
        found.setdefault(d, f)
    return [(d, f) for d, f in sorted(found.items()) if not any(d.startswith(o + "/") for o in found)]


def _strip_prefix(path: str, prefix: str) -> str:
    return path[len(prefix) + 1:] if prefix and path.startswith(prefix + "/") else ("" if path == prefix else path)


def _own(outcome, kind: str, namespace: str, name: str) -> dict | None:
    """An object the Kustomization builds itself. Flux reads substitution sources from the cluster: in a
    running cluster one the same Kustomization applies is there from its earlier reconciles."""
    for built in outcome.objects:
        md = _d(built.body.get("metadata"))
        if built.body.get("kind") == kind and md.get("name") == name and (md.get("namespace") or "") == (namespace or ""):
            return built.body
    return None


def _configmap_lookup(index: _Index, outcome):
    def lookup(namespace: str, name: str) -> dict | None:
        found = index.lookup("ConfigMap", namespace, name)
        return found if found is not None else _own(outcome, "ConfigMap", namespace, name)
    return lookup


def _secret_lookup(index: _Index, outcome):
    """Does the Secret exist in the cluster? A Secret object, or one an ExternalSecret of the same
    namespace makes (its target name, else its own name); its values are never read either way."""
    def exists(namespace: str, name: str) -> bool:
        if index.lookup("Secret", namespace, name) is not None or _own(outcome, "Secret", namespace, name) is not None:
            return True
        made = index.objects_of("ExternalSecret", namespace) + [
            b.body for b in outcome.objects if b.body.get("kind") == "ExternalSecret"
            and (_d(b.body.get("metadata")).get("namespace") or "") == (namespace or "")]
        for es in made:
            target = _d(_d(es.get("spec")).get("target")).get("name") or _d(es.get("metadata")).get("name")
            if target == name:
                return True
        return False
    return exists


def _build_level(level: list[Node], ctx: WalkContext, root: Root, artifacts: Materialiser, engines: dict,
                 out: ClusterInventory) -> list[tuple[Node, object]]:
    """Build every node of one level: one batch per source tree."""
    from scanner.inventory.builder import BuildRequest

    groups: dict[str, list[tuple[Node, object]]] = defaultdict(list)
    for node in level:
        spec = _d(node.body.get("spec"))
        if node.tree.prefix is not None:
            path = strip_path(node.path)
            groups["repo"].append((node, BuildRequest(key=node.key, path=path, overlay=overlay_of(spec))))
        else:
            base = artifacts.place(node.tree)
            path = posixpath.join(base, strip_path(node.path))
            groups["artifacts"].append((node, BuildRequest(key=node.key, path=path, overlay=overlay_of(spec))))
    results: list[tuple[Node, object]] = []
    for group, items in groups.items():
        if group == "repo":
            prefix = root.prefix
            disk = os.path.join(ctx.repo_root, prefix) if prefix else ctx.repo_root
            files = frozenset(f[len(prefix) + 1:] for f in ctx.files if f.startswith(prefix + "/")) if prefix else ctx.files
            to_repo = (lambda p, _pre=prefix: posixpath.join(_pre, p) if _pre and p else p)
            engine_key = f"repo:{prefix}"
        else:
            disk = artifacts.dir
            files = frozenset(artifacts.files)
            to_repo = (lambda p: artifacts.files.get(p, p))
            engine_key = f"artifacts:{len(files)}"
        engine = engines.get(engine_key)
        if engine is None:
            engine = engines[engine_key] = ctx.engine_factory(disk, set(files))
        dirs = _dirs_of(files)
        todo = []
        for node, req in items:
            if req.path not in dirs:
                where = node.declared_in
                out.statuses[node.key] = KustomizationStatus(node.key, root.name, where, node.line, "not-found",
                                                             build_errors=[f"path {node.path!r} not found"])
                out.errors.append(ScanError(where, node.line, f"Flux Kustomization {node.key} "
                                            f"path {node.path!r} does not exist in its source", kind="input",
                                            code="flux-path-not-found"))
                out.gaps.append(Gap("build-failed", where, node.key, f"path {node.path!r} not found in its source",
                                    line=node.line, cluster=root.name))
                continue
            todo.append((node, req))
        outcomes = engine.build_many([req for _, req in todo]) if todo else []
        for (node, _), outcome in zip(todo, outcomes):
            _remap(outcome, to_repo)
            out.statuses[node.key] = KustomizationStatus(
                node.key, root.name, node.declared_in, node.line, outcome.how, bool(getattr(outcome, "degraded", False)),
                [e.message for e in outcome.errors], strict=ctx.strict,
                source_problem=out.source_problems.get(node.key),
                implicit=root.implicit and node.key.startswith(ROOT_KEY))
            out.builds[outcome.how] += 1
            out.files_used |= set(outcome.files_used)
            out.errors.extend(outcome.errors)
            out.gaps.extend(Gap(g.code, g.path, g.subject, g.message, getattr(g, "line", None), root.name)
                            for g in outcome.gaps)
            results.append((node, outcome))
    return results


def _dirs_of(files) -> set[str]:
    out = {""}
    for f in files:
        d = posixpath.dirname(f)
        while d and d not in out:
            out.add(d)
            d = posixpath.dirname(d)
    return out


def _remap(outcome, to_repo: Callable[[str], str]) -> None:
    """Paths the engine reports are relative to the tree it built: make them repo paths."""
    for obj in outcome.objects:
        if obj.source_path:
            obj.source_path = to_repo(obj.source_path)
        if obj.generated_by:
            obj.generated_by = to_repo(obj.generated_by)
    outcome.files_used = {to_repo(p) for p in outcome.files_used}
    for e in outcome.errors:
        if e.path and not e.path.startswith("("):
            e.path = to_repo(e.path)
    outcome.gaps = [type(g)(**{**g.__dict__, "path": to_repo(g.path)}) if hasattr(g, "__dict__") else g
                    for g in outcome.gaps]


def _finish(node: Node, outcome, sub, ctx: WalkContext, root: Root, index: _Index, resolver: SourceResolver,
            matcher: DocumentMatcher, out: ClusterInventory) -> list[Node]:
    """Post-build one node's objects into deployed Resources; the Flux Kustomizations among them are
    returned as the next nodes."""
    spec = _d(node.body.get("spec"))
    status = out.statuses.get(node.key)
    if status is not None:
        status.postbuild_errors.extend(str(e) for e in getattr(sub, "errors", ()) or ())
    for err in getattr(sub, "errors", ()) or ():
        out.errors.append(err if isinstance(err, ScanError) else
                          ScanError(node.declared_in, node.line, f"{node.key}: {err}", kind="input",
                                    code="flux-postbuild-failed"))
    meta = _d(spec.get("commonMetadata"))
    unresolved: set[str] = set()
    children: list[Node] = []
    ks_name, ks_ns = node.key.split("/", 1)[1], node.namespace
    for built in outcome.objects:
        result = ctx.postbuild.substitute_object(built.body, sub)
        body = result.body
        unresolved |= set(result.unresolved or ())
        if status is not None:
            status.undefined |= set(getattr(result, "undefined", ()) or ())
            status.unreadable |= set(getattr(result, "unreadable", ()) or ())
            if result.error:
                status.postbuild_errors.append(str(result.error))
        if result.error:
            out.errors.append(ScanError(node.declared_in, node.line,
                                        f"{node.key}: {result.error} (Flux fails the whole "
                                        "Kustomization)", kind="input", code="flux-postbuild-failed"))
        if not isinstance(body, dict):
            continue
        if not (root.implicit and node.key.startswith(ROOT_KEY)):  # (no Flux applies the implicit root)
            body = _with_flux_metadata(body, meta, ks_name, ks_ns)
        kind = str(body.get("kind") or "")
        api_version = str(body.get("apiVersion") or "")
        md = _d(body.get("metadata"))
        name = str(md.get("name") or "")
        ns = md.get("namespace") if isinstance(md.get("namespace"), str) and md.get("namespace") else None
        doc = matcher.match(built.source_path, kind, name, body, built.generated_by)
        if ctx.kinds.is_cluster_scoped(kind):
            ns = None
            if "namespace" in md:
                body = dict(body, metadata={k: v for k, v in md.items() if k != "namespace"})
        elif ns is None:
            out.gaps.append(Gap("namespace-unknown", doc.path, f"{kind}/{name}",
                                f"{kind} {name} (from {node.key}) has no namespace and none is set by its Flux "
                                "Kustomization: where it would run cannot be known, so no check judges it",
                                line=doc.line, cluster=root.name))
            continue
        res = Resource(doc=doc, namespace=ns, name=name, deployed=True,
                       flux_kustomization=node.key,
                       variables=dict(getattr(sub, "variables", {}) or {}), body=body, cluster=root.name,
                       how=outcome.how)
        if not ctx.kinds.is_known(api_version, kind):
            out.unknown_kinds.setdefault((api_version, kind), []).append(doc.path)
        clash = index.add(res)
        if clash is not None and root.implicit and clash.flux_kustomization.startswith(ROOT_KEY) \
                and not node.key.startswith(ROOT_KEY):
            # Without a Flux root the whole repository is listed as one build, so a file a Flux
            # Kustomization reconciles is listed twice: its Kustomization's version (patched,
            # namespaced, substituted) is the one that counts.
            index.replace(clash, res)
            out.resources[out.resources.index(clash)] = res
            clash = None
            if is_flux_ks(kind, api_version):
                child = _child(res, node, resolver, out)
                if child is not None:
                    children.append(child)
            continue
        if clash is not None:
            if clash.flux_kustomization != res.flux_kustomization:
                out.errors.append(ScanError(doc.path, doc.line,
                                            f"{kind} {ns + '/' if ns else ''}{name} is applied by "
                                            f"both {clash.flux_kustomization} and {res.flux_kustomization}", kind="notice",
                                            code="flux-object-conflict"))
            continue
        out.resources.append(res)
        if is_flux_ks(kind, api_version):
            child = _child(res, node, resolver, out)
            if child is not None:
                children.append(child)
        elif kind == "ResourceSet" and ctx.expand_resourceset is not None:
            _expand(res, node, ctx, root, index, matcher, out, children, resolver)
    if unresolved:
        out.unresolved.setdefault(node.key, set()).update(unresolved)
    unreadable = set(status.unreadable) if status is not None else set()
    if unreadable:
        out.gaps.append(Gap("variable-unreadable", node.declared_in, ", ".join(sorted(unreadable)),
                            f"{node.key} substitutes {', '.join('${' + v + '}' for v in sorted(unreadable))} from a "
                            "Secret the scan does not read: values that use them are shown as written",
                            line=node.line, cluster=root.name))
    return children


def _with_flux_metadata(body: dict, meta: dict, ks_name: str, ks_ns: str) -> dict:
    """commonMetadata labels/annotations and Flux's own ownership labels, as kustomize-controller sets
    them on every object it applies (top-level metadata only)."""
    md = dict(_d(body.get("metadata")))
    labels = dict(_d(md.get("labels")))
    labels.update({str(k): str(v) for k, v in _d(meta.get("labels")).items()})
    labels["kustomize.toolkit.fluxcd.io/name"] = ks_name
    labels["kustomize.toolkit.fluxcd.io/namespace"] = ks_ns
    md["labels"] = labels
    ann = _d(meta.get("annotations"))
    if ann:
        annotations = dict(_d(md.get("annotations")))
        annotations.update({str(k): str(v) for k, v in ann.items()})
        md["annotations"] = annotations
    return dict(body, metadata=md)


def _child(res: Resource, parent: Node, resolver: SourceResolver, out: ClusterInventory,
           final: bool = False) -> Node | None:
    spec = _d(res.body.get("spec"))
    ns = res.namespace or "flux-system"
    ref = _d(spec.get("sourceRef"))
    tree, problem = resolver.resolve_checked(ref, ns, res.path, res.line)
    if isinstance(tree, Gap) and tree.code == "artifact-unknown" and not final:
        out.pending.append((res, parent))
        return None
    if isinstance(tree, Gap) and tree.code == "artifact-unknown":
        tree = Gap("external-source", tree.path, tree.subject, tree.message, tree.line, tree.cluster)
    if problem:  # (reported by gitops.kustomizations-build, with the file and line)
        out.source_problems[f"{ns}/{res.name}"] = problem
    if isinstance(tree, Gap):
        out.gaps.append(tree)
        key = f"{ns}/{res.name}"
        out.statuses.setdefault(key, KustomizationStatus(key, out.root.name, res.path, res.line, "external",
                                                         build_errors=[tree.message]))
        return None
    path = spec.get("path") if isinstance(spec.get("path"), str) else ""
    return Node(f"{ns}/{res.name}", ns, res.body, tree, path, parent.depth + 1, res.path, res.line, res)


def _expand(res: Resource, node: Node, ctx: WalkContext, root: Root, index: _Index, matcher: DocumentMatcher,
            out: ClusterInventory, children: list[Node], resolver: SourceResolver) -> None:
    """A flux-operator ResourceSet: its templates rendered with its inputs are deployed objects too."""
    objects, gaps, errors = ctx.expand_resourceset(
        res.body, index.lookup, providers=lambda ns: index.objects_of("ResourceSetInputProvider", ns),
        namespace=res.namespace)
    out.gaps.extend(Gap(g.code, g.path or res.path, g.subject, g.message, res.line, root.name) for g in gaps)
    out.errors.extend(e if isinstance(e, ScanError) else ScanError(res.path, res.line, f"{e}",
                                                                   kind="input", code="resourceset-failed") for e in errors)
    rs_ns = res.namespace
    for body in objects:
        if not isinstance(body, dict):
            continue
        kind = str(body.get("kind") or "")
        md = _d(body.get("metadata"))
        name = str(md.get("name") or "")
        ns = md.get("namespace") or rs_ns
        if ctx.kinds.is_cluster_scoped(kind):
            ns = None
        made = Resource(doc=res.doc, namespace=ns, name=name, deployed=True, flux_kustomization=node.key,
                        body=body, cluster=root.name, how="resourceset", producer=f"ResourceSet/{rs_ns}/{res.name}")
        if index.add(made) is None:
            out.resources.append(made)
            if is_flux_ks(kind, str(body.get("apiVersion") or "")):
                child = _child(made, node, resolver, out)
                if child is not None:
                    children.append(child)
