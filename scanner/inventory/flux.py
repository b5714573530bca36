"""The Flux graph: entry point, Kustomizations reached from it, and what each one deploys.

Starting from the sync path of the entry point (a FluxInstance, a flux-instance HelmRelease or a
classic gotk-sync Kustomization), each Flux Kustomization's `spec.path` (+ `components`) is built
with kustomize semantics; the Flux Kustomizations found there are followed in turn. Every document
reached becomes a deployed Resource with its effective namespace (Flux `targetNamespace` > the
outermost kustomize `namespace:` > `metadata.namespace`) and the substitution variables in force.
Parent `spec.patches` are applied to the children they target (how clusters inject `decryption`).
"""
from __future__ import annotations

import copy
import re
import posixpath
from collections import deque
from dataclasses import dataclass, field

from scanner.inventory.kustomize import BuildResult, RepoFiles, build, norm
from scanner.core.model import CLUSTER_SCOPED_KINDS, Document, Resource, ScanError
from scanner.core.selectors import label_selector_matches
from scanner.inventory.substitute import substitute
from scanner.sources.yamlload import load_documents

FLUX_KS_GROUP = "kustomize.toolkit.fluxcd.io"


def is_flux_ks(doc_or_res) -> bool:
    return doc_or_res.kind == "Kustomization" and doc_or_res.api_version.startswith(FLUX_KS_GROUP)


def _get(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict):
            return default
        d = d.get(k)
    return default if d is None else d


@dataclass
class EntryPoint:
    """Where Flux starts reconciling the repository (or that no entry point was found)."""

    found: bool
    kind: str | None = None
    path: str | None = None  # file declaring it
    line: int | None = None
    sync_path: str | None = None
    sync_kind: str | None = None
    note: str = ""
    others: list = field(default_factory=list)  # further roots (one sync per cluster in a multi-cluster repo)

    def as_dict(self) -> dict:
        return {"found": self.found, "kind": self.kind, "path": self.path, "line": self.line,
                "sync_path": self.sync_path, "note": self.note}


@dataclass
class FluxResult:
    """The Flux graph walked from the entry point: deployed resources and the files they use."""

    entry: EntryPoint
    resources: list[Resource] = field(default_factory=list)  # deployed resources
    used_files: set[str] = field(default_factory=set)  # files that are part of a deployed build
    errors: list[ScanError] = field(default_factory=list)
    path_prefix: str = ""  # where Flux paths are rooted (OCI artifacts built from a sub-directory)


def _strip(p: str) -> str:
    p = (p or "").strip()
    while p.startswith("./"):
        p = p[2:]
    return p.strip("/")


def _values_files_of(repo: RepoFiles, hr: Document) -> list[Document]:
    """Kind-less values documents fed to a HelmRelease through a configMapGenerator next to it."""
    out: list[Document] = []
    d = posixpath.dirname(hr.path)
    for base in (d, posixpath.dirname(d)):
        kfile = repo.kustomization_file(base)
        if not kfile:
            continue
        for kdoc in repo.docs_by_path.get(kfile, []):
            for gen in _get(kdoc.body, "configMapGenerator", default=[]) or []:
                for f in (gen.get("files") or []) if isinstance(gen, dict) else []:
                    if isinstance(f, str):
                        out.extend(repo.docs_by_path.get(norm(base, f.split("=", 1)[-1]), []))
    return out


def find_entry_point(repo: RepoFiles, docs: list[Document]) -> EntryPoint:
    candidates: list[EntryPoint] = []
    for doc in docs:
        body = doc.body
        if not isinstance(body, dict):
            continue
        if doc.kind == "FluxInstance" and _get(body, "spec", "sync", "path"):
            candidates.append(EntryPoint(True, "FluxInstance", doc.path, doc.line,
                                         _get(body, "spec", "sync", "path"), _get(body, "spec", "sync", "kind")))
        elif doc.kind == "HelmRelease":
            chart = _get(body, "spec", "chart", "spec", "chart") or _get(body, "spec", "chartRef", "name") or ""
            if "flux-instance" not in str(chart) and doc.body.get("metadata", {}).get("name") != "flux-instance":
                continue
            sync = _get(body, "spec", "values", "instance", "sync")
            if not (isinstance(sync, dict) and sync.get("path")):
                for vdoc in _values_files_of(repo, doc):
                    sync = _get(vdoc.body, "instance", "sync")
                    if isinstance(sync, dict) and sync.get("path"):
                        break
            if isinstance(sync, dict) and sync.get("path"):
                candidates.append(EntryPoint(True, "HelmRelease flux-instance", doc.path, doc.line,
                                             sync["path"], sync.get("kind")))
        elif not doc.is_manifest and isinstance(_get(body, "instance", "sync"), dict) and _get(body, "instance", "sync", "path"):
            # A flux-instance values file (fed through configMapGenerator, the release may be wrapped
            # in a ResourceSet template where no HelmRelease document shows).
            candidates.append(EntryPoint(True, "flux-instance values", doc.path, doc.line,
                                         _get(body, "instance", "sync", "path"), _get(body, "instance", "sync", "kind")))
        elif is_flux_ks(doc) and _get(body, "metadata", "name") == "flux-system" and _get(body, "spec", "path"):
            candidates.append(EntryPoint(True, "Kustomization flux-system (gotk-sync)", doc.path, doc.line,
                                         _get(body, "spec", "path"), "GitRepository"))
    if not candidates:
        return EntryPoint(False, note="no Flux entry point (FluxInstance, flux-instance HelmRelease or "
                                      "gotk-sync) found; every Flux Kustomization is taken as a root")
    # Prefer entry points outside archive folders, then the FluxInstance/HelmRelease forms.
    def rank(e: EntryPoint):
        archived = any(seg in ("archive", ".archive", "examples") for seg in e.path.split("/"))
        return (archived, e.kind.startswith("Kustomization"), e.kind == "flux-instance values", e.path)

    candidates.sort(key=rank)
    best = candidates[0]
    best.note = f"entry point {best.kind} in {best.path} syncs {best.sync_path}"
    # A repo for several clusters has one sync per cluster: each distinct live sync path is a root.
    seen = {_strip(best.sync_path or "")}
    for c in candidates[1:]:
        if rank(c)[0] or _strip(c.sync_path or "") in seen:
            continue
        seen.add(_strip(c.sync_path or ""))
        best.others.append(c)
    if best.others:
        best.note += "; also " + "; ".join(f"{c.kind} in {c.path} syncs {c.sync_path}" for c in best.others)
    return best


def _resolve_prefix(repo: RepoFiles, sync_path: str) -> str:
    """Directory prefix under which Flux paths live (OCI artifacts are built from a sub-folder)."""
    p = _strip(sync_path)
    if not p or p in repo.dirs:
        return ""
    for d in sorted(repo.dirs, key=len):
        if d.endswith("/" + p):
            return d[: -len(p)].rstrip("/")
    return ""


# What copy.deepcopy returns as it is (its `_deepcopy_atomic` types that YAML data holds).
_ATOMIC = frozenset({str, int, float, bool, type(None)})


def _copy_data(x, memo: dict | None = None):
    """copy.deepcopy for parsed YAML data, several times faster: plain dicts and lists are rebuilt by
    recursion, atomic scalars shared (as deepcopy does), anything else handed to copy.deepcopy. The memo
    (by id, as deepcopy's) keeps a sub-tree that appears twice (a YAML alias) shared in the copy."""
    if memo is None:
        memo = {}
    t = type(x)
    if t in _ATOMIC:
        return x
    if t is not dict and t is not list:
        return copy.deepcopy(x, memo)
    y = memo.get(id(x))
    if y is not None:
        return y
    if t is dict:
        y = memo[id(x)] = {}
        for k, v in x.items():
            y[k if type(k) in _ATOMIC else copy.deepcopy(k, memo)] = v if type(v) in _ATOMIC else _copy_data(v, memo)
    else:
        y = memo[id(x)] = []
        for v in x:
            y.append(v if type(v) in _ATOMIC else _copy_data(v, memo))
    return y


def _apply_patch(body: dict, patch) -> dict:
    """Apply a strategic-merge (approximated by a deep merge) or JSON6902 patch to a copy of body.

    A merge copies only the mappings on the way to what it changes; the rest of the result is shared
    with `body` (parsed bodies are never changed in place, see RepoFiles). A JSON6902 patch works on
    a full copy."""
    if isinstance(patch, dict):
        return _merged(body, patch)
    out = _copy_data(body)
    if isinstance(patch, list):
        for op in patch:
            if not isinstance(op, dict) or op.get("op") not in ("add", "replace") or not isinstance(op.get("path"), str):
                continue
            parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].strip("/").split("/")]
            cur = out
            for part in parts[:-1]:
                if isinstance(cur, dict):
                    cur = cur.setdefault(part, {})
                elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
                    cur = cur[int(part)]
                else:
                    cur = None
                    break
            if isinstance(cur, dict):
                cur[parts[-1]] = _copy_data(op.get("value"))
            elif isinstance(cur, list) and parts[-1] == "-":
                cur.append(_copy_data(op.get("value")))
    return out


def _merged(dst: dict, src: dict) -> dict:
    """`dst` deep-merged with `src` as a new mapping: `dst`'s own mappings are copied only where `src`
    changes something below them; values from `src` are copied. (At every depth, as before: a patch
    never sets apiVersion or kind, nor a metadata name or namespace.)"""
    out = dict(dst)
    for k, v in src.items():
        if k in ("apiVersion", "kind"):
            continue
        if k == "metadata" and isinstance(v, dict):
            v = {kk: vv for kk, vv in v.items() if kk not in ("name", "namespace")}
        old = out.get(k)
        if isinstance(v, dict) and isinstance(old, dict):
            out[k] = _merged(old, v)
        else:
            out[k] = _copy_data(v)
    return out


def _patch_matches(target: dict, res_kind: str, res_group: str, name: str, labels: dict) -> bool:
    if not isinstance(target, dict):
        return True
    if target.get("kind") and target["kind"] != res_kind:
        return False
    if target.get("group") and target["group"] != res_group:
        return False
    if target.get("name"):
        try:
            if not re.fullmatch(str(target["name"]), name):
                return False
        except re.error:
            if target["name"] != name:
                return False
    sel = target.get("labelSelector")
    if isinstance(sel, str) and sel and not label_selector_matches(sel, labels):
        return False
    return True


def _parsed_patches(spec: dict, errors: list[ScanError], path: str,
                    loaded: dict | None = None) -> list[tuple[dict, object]]:
    """(target, patch body) of each patch. `loaded` keeps the parse of each patch text for the walk:
    the same few patch texts repeat across the Kustomizations of a repo (patch bodies are only read,
    never changed: `_apply_patch` copies what it takes from them)."""
    out = []
    for p in spec.get("patches") or []:
        if not isinstance(p, dict):
            continue
        raw = p.get("patch")
        if isinstance(raw, str):
            if loaded is None:
                docs, errs = load_documents(raw)
            else:
                if raw not in loaded:
                    loaded[raw] = load_documents(raw)
                docs, errs = loaded[raw]
            if errs:
                errors.append(ScanError(path, None, f"Flux patch is not valid YAML: {errs[0].message}"))
                continue
            body = docs[0].body if docs else None
        else:
            body = raw
        if body is not None:
            out.append((p.get("target") or {}, body))
    return out


def _configmap_vars(repo_docs_by_name: dict, ns: str | None, name: str) -> dict[str, str] | None:
    for doc in repo_docs_by_name.get(("ConfigMap", name), []):
        data = _get(doc.body, "data")
        if isinstance(data, dict):
            return {str(k): str(v) for k, v in data.items()}
    return None


@dataclass
class _Node:
    """A Flux Kustomization being expanded (virtual for the entry point's sync path)."""

    key: str
    name: str
    namespace: str | None
    body: dict
    path: str
    variables: dict[str, str]
    file: str = "."  # where the Flux Kustomization is declared (for error messages)


def walk(repo: RepoFiles, docs: list[Document]) -> FluxResult:
    entry = find_entry_point(repo, docs)
    result = FluxResult(entry=entry)
    by_name: dict = {}
    for d in docs:
        if d.is_manifest:
            n = _get(d.body, "metadata", "name")
            if isinstance(n, str):
                by_name.setdefault((d.kind, n), []).append(d)

    queue: deque[_Node] = deque()
    seen_nodes: set[tuple[str, str]] = set()
    patch_texts: dict = {}  # patch text -> its load_documents result
    emitted: dict[tuple[int, str | None, str], Resource] = {}

    def emit(doc: Document, ns: str | None, name: str, node: _Node | None, body: dict) -> Resource:
        key = (id(doc), ns, name)
        if key in emitted:
            return emitted[key]
        res = Resource(doc=doc, namespace=ns, name=name, deployed=True,
                       flux_kustomization=node.key if node else None,
                       variables=dict(node.variables) if node else {}, body=body)
        emitted[key] = res
        result.resources.append(res)
        return res

    if entry.found:
        result.path_prefix = _resolve_prefix(repo, entry.sync_path or "")
        for e in [entry, *entry.others]:
            root_path = _strip(e.sync_path or "")
            queue.append(_Node(key="flux-system/flux-system", name="flux-system", namespace="flux-system",
                               body={"spec": {"path": root_path}}, path=root_path, variables={}, file=e.path))
            result.used_files.add(e.path)
    else:
        for d in docs:
            if is_flux_ks(d):
                ns = _get(d.body, "metadata", "namespace")
                name = str(_get(d.body, "metadata", "name", default=""))
                res = emit(d, ns, name, None, d.body)
                result.used_files.add(d.path)
                queue.append(_node_for(res, by_name))

    while queue:
        node = queue.popleft()
        sig = (node.key, node.path)
        if sig in seen_nodes:
            continue
        seen_nodes.add(sig)
        spec = node.body.get("spec") if isinstance(node.body.get("spec"), dict) else {}
        path = _resolve_path(repo, result.path_prefix, node.path)
        if path is None:
            if node.path and not _is_external_source(spec):
                result.errors.append(ScanError(node.file, None,
                                               f"Flux Kustomization {node.key} path {node.path!r} does not exist in the repository",
                                               kind="input"))
            continue
        built = BuildResult()
        build(repo, path, built)
        for comp in spec.get("components") or []:
            if isinstance(comp, str):
                target = norm(path, comp)
                if target in repo.dirs:
                    build(repo, target, built)
                else:
                    result.errors.append(ScanError(node.file, None,
                                                   f"component {comp!r} of {node.key} not found", kind="input"))
        result.errors.extend(built.errors)
        result.used_files |= built.used_files
        patches = _parsed_patches(spec, result.errors, node.file, patch_texts)
        target_ns = spec.get("targetNamespace") if isinstance(spec.get("targetNamespace"), str) else None
        if target_ns:
            target_ns = substitute(target_ns, node.variables)
        for item in built.items:
            doc = item.doc
            kind = doc.kind
            md = doc.body.get("metadata") if isinstance(doc.body.get("metadata"), dict) else {}
            raw_name = str(md.get("name", ""))
            ns = target_ns or item.namespace or md.get("namespace")
            if isinstance(ns, str):
                ns = substitute(ns, node.variables)
            if kind == "Namespace":
                name = ns or substitute(raw_name, node.variables)
                ns = None
            else:
                name = substitute(raw_name, node.variables)
                if kind in CLUSTER_SCOPED_KINDS:
                    ns = None
            body = doc.body
            group = doc.api_version.split("/")[0] if "/" in doc.api_version else ""
            labels = md.get("labels") if isinstance(md.get("labels"), dict) else {}
            for target, patch in patches:
                if _patch_matches(target, kind, group, name, labels):
                    body = _apply_patch(body, patch)
            res = emit(doc, ns if isinstance(ns, str) else None, name, node, body)
            if is_flux_ks(doc):
                queue.append(_node_for(res, by_name))
    return result


def _is_external_source(spec: dict) -> bool:
    ref = spec.get("sourceRef") if isinstance(spec.get("sourceRef"), dict) else {}
    name = ref.get("name")
    return bool(name) and name not in ("flux-system",) and ref.get("kind") in ("GitRepository", "OCIRepository", "Bucket")


def _resolve_path(repo: RepoFiles, prefix: str, path: str) -> str | None:
    p = _strip(path)
    candidates = [norm(prefix, p), p] if prefix else [p]
    for c in candidates:
        if c in repo.dirs:
            return c
    return None


def _node_for(res: Resource, by_name: dict) -> _Node:
    spec = res.body.get("spec") if isinstance(res.body.get("spec"), dict) else {}
    variables: dict[str, str] = {}
    post = spec.get("postBuild") if isinstance(spec.get("postBuild"), dict) else {}
    for ref in post.get("substituteFrom") or []:
        if isinstance(ref, dict) and ref.get("kind") == "ConfigMap" and ref.get("name"):
            found = _configmap_vars(by_name, res.namespace, ref["name"])
            if found:
                variables.update(found)
    subst = post.get("substitute")
    if isinstance(subst, dict):
        variables.update({str(k): str(v) for k, v in subst.items()})
    path = spec.get("path") if isinstance(spec.get("path"), str) else ""
    return _Node(key=f"{res.namespace}/{res.name}", name=res.name, namespace=res.namespace,
                 body=res.body, path=substitute(path, variables), variables=variables, file=res.path)
