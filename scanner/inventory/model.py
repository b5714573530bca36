"""The inventory: every resource indexed by kind and namespace, the Flux graph, derived workloads
and routes. Checks are pure functions of it; they never read the repo themselves except through
`text()` for non-YAML files (gitignore, renovate, SOPS json/env)."""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import yaml

from scanner.core.model import CLUSTER_SCOPED_KINDS, Document, Gap, Location, Resource, Route, ScanError, Workload
from scanner.inventory.helm import ChartInfo, chart_of, looks_like_app_template
from scanner.inventory.roots import NOT_DEPLOYED_DIRS, Root
from scanner.sources.yamlload import compose_nodes


@dataclass
class EntryPoint:
    """Where Flux starts (the first cluster root), as the report's scan section shows it."""

    found: bool
    kind: str | None = None
    path: str | None = None  # file declaring it
    line: int | None = None
    sync_path: str | None = None
    note: str = ""

    def as_dict(self) -> dict:
        return {"found": self.found, "kind": self.kind, "path": self.path, "line": self.line,
                "sync_path": self.sync_path, "note": self.note}


@dataclass
class Inventory:
    """Everything the checks read: documents, resources, derived workloads and routes, indexes."""

    root: str | None
    documents: list[Document] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    workloads: list[Workload] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    deployed_files: set[str] = field(default_factory=set)
    entry: EntryPoint | None = None
    roots: list[Root] = field(default_factory=list)  # one per cluster (Flux root)
    gaps: list[Gap] = field(default_factory=list)  # what the scan could not see (the coverage section)
    coverage: dict = field(default_factory=dict)  # counts per cluster (see scanner.inventory.coverage)
    tools: dict = field(default_factory=dict)  # which kustomize / helm built the inventory
    kustomizations: list = field(default_factory=list)  # KustomizationStatus of every Flux Kustomization walked
    releases: dict = field(default_factory=dict)  # (cluster, namespace, name) -> ReleaseInfo of each HelmRelease
    sources: set[str] = field(default_factory=set)
    cluster: object = None  # ClusterData for live scans
    config: dict = field(default_factory=dict)
    git_commit: str | None = None
    web_url: str | None = None
    _by_kind: dict = field(default_factory=lambda: defaultdict(list))
    _by_kind_name: dict = field(default_factory=lambda: defaultdict(list))
    _by_kind_name_ns: dict = field(default_factory=lambda: defaultdict(list))
    _charts: dict = field(default_factory=dict)
    _text_cache: dict = field(default_factory=dict)
    _node_cache: dict = field(default_factory=dict)
    _kind_cache: dict = field(default_factory=dict)  # (kinds, deployed_only, origin) -> resources; reset by add()

    # ---- queries -----------------------------------------------------------------------------
    def of_kind(self, *kinds: str, deployed_only: bool = True, origin: str | None = None) -> list[Resource]:
        key = (kinds, deployed_only, origin)
        hit = self._kind_cache.get(key)
        if hit is None or hit[0] != len(self.resources):
            out: list[Resource] = []
            for k in kinds:
                for r in self._by_kind.get(k, ()):
                    if deployed_only and not r.deployed:
                        continue
                    if origin and r.origin != origin:
                        continue
                    out.append(r)
            hit = self._kind_cache[key] = (len(self.resources), out)
        return list(hit[1])  # a copy: callers may sort or extend what they get

    def find(self, kind: str, name: str, namespace: str | None = None, deployed_only: bool = True) -> list[Resource]:
        """Resources of `kind` named `name` (in `namespace` when given), from an index: checks call this per subject."""
        if namespace is None or kind in CLUSTER_SCOPED_KINDS:
            hits = self._by_kind_name.get((kind, name), ())
        else:  # a name shared across many namespaces (app-template, ...) must not make this a scan
            hits = self._by_kind_name_ns.get((kind, name, namespace), ())
        return [r for r in hits if r.deployed or not deployed_only]

    def docs_at(self, rel: str) -> list[Document]:
        """The documents parsed from one file."""
        index = self.__dict__.get("_docs_by_path")
        if index is None or self.__dict__.get("_docs_by_path_n") != len(self.documents):
            index = {}
            for d in self.documents:
                index.setdefault(d.path, []).append(d)
            self.__dict__["_docs_by_path"] = index
            self.__dict__["_docs_by_path_n"] = len(self.documents)
        return index.get(rel, [])

    def view(self, cluster: str) -> "Inventory":
        """The inventory as one cluster sees it: its deployed objects (and every document nothing deploys),
        the repository's files and documents; checks run on it judge that cluster alone."""
        from scanner.inventory.build import derive  # (the view derives its own workloads and routes)

        view = Inventory(root=self.root, documents=self.documents, files=self.files, errors=self.errors,
                         deployed_files=self.deployed_files, entry=self.entry,
                         roots=[r for r in self.roots if r.name == cluster],
                         gaps=[g for g in self.gaps if g.cluster in (cluster, None)], coverage=self.coverage,
                         tools=self.tools, kustomizations=[k for k in self.kustomizations if k.cluster == cluster],
                         releases={k: v for k, v in self.releases.items() if k[0] == cluster},
                         sources=self.sources, cluster=self.cluster, config=self.config,
                         git_commit=self.git_commit, web_url=self.web_url)
        view._text_cache = self._text_cache
        view._node_cache = self._node_cache
        if hasattr(self, "options"):
            view.options = self.options
        for res in self.resources:
            if not res.deployed or res.cluster == cluster:
                view.add(res)
        derive(view)
        return view

    def unseen_in_namespaces(self) -> dict[str, list[str]]:
        """namespace -> what deploys into it that the scan could not see (an unrendered chart other than
        app-template, a Flux Kustomization that did not build or whose source is outside the scan): a
        verdict about the namespace as a whole depends on it."""
        cached = self.__dict__.get("_unseen_ns")
        if cached is not None:
            return cached
        out: dict[str, list[str]] = {}
        for (cluster, ns, name), info in sorted(self.releases.items()):
            if info.how != "helm" and info.derivation != "app-template" and ns:
                out.setdefault(ns, []).append(f"HelmRelease {ns}/{name} ({info.chart}, chart not rendered)")
        broken = {k.key for k in self.kustomizations if k.how in ("failed", "external", "not-found") or k.degraded}
        for ks in self.of_kind("Kustomization"):
            if f"{ks.namespace}/{ks.name}" in broken and ks.api_version.startswith("kustomize.toolkit.fluxcd.io"):
                target = ks.spec.get("targetNamespace") or ks.namespace
                if isinstance(target, str) and target:
                    out.setdefault(target, []).append(f"Flux Kustomization {ks.namespace}/{ks.name} (not fully built)")
        self.__dict__["_unseen_ns"] = out
        return out

    def resources_of(self, doc: Document) -> list[Resource]:
        """The Resources made from one document (one per place it is deployed, or the not-deployed one)."""
        index = self.__dict__.get("_res_by_doc")
        if index is None or self.__dict__.get("_res_by_doc_n") != len(self.resources):
            index = {}
            for r in self.resources:
                index.setdefault(id(r.doc), []).append(r)
            self.__dict__["_res_by_doc"] = index
            self.__dict__["_res_by_doc_n"] = len(self.resources)
        return index.get(id(doc), [])

    def deployed(self) -> list[Resource]:
        return [r for r in self.resources if r.deployed]

    def workload_namespaces(self) -> set[str]:
        return {w.namespace for w in self.workloads if w.resource.deployed and w.namespace}

    def namespaces(self) -> set[str]:
        """Every namespace that holds a deployed namespaced resource or is declared."""
        out = {r.namespace for r in self.resources if r.deployed and r.namespace}
        out |= {r.name for r in self.of_kind("Namespace")}
        return out

    def chart(self, hr: Resource) -> ChartInfo:
        key = id(hr)
        if key not in self._charts:
            def lookup(kind, ns, name):
                hits = self.find(kind, name, ns) or self.find(kind, name, None) or self.find(kind, name, None, deployed_only=False)
                return hits[0] if hits else None
            self._charts[key] = chart_of(hr, lookup)
        return self._charts[key]

    def is_app_template(self, hr: Resource) -> bool:
        info = self.chart(hr)
        if info.name == "app-template":
            return True
        return looks_like_app_template(hr.spec.get("values"))

    # ---- raw text and line lookups ----------------------------------------------------------
    def text(self, rel: str) -> str | None:
        if rel not in self._text_cache:
            from scanner.sources.parse import read_text

            text, _ = read_text(self.root, rel) if self.root else (None, None)
            self._text_cache[rel] = text
        return self._text_cache[rel]

    def line_of(self, res_or_doc, path: Iterable = ()) -> int | None:
        """Line of the deepest existing key on `path` inside the resource's document."""
        doc = res_or_doc.doc if isinstance(res_or_doc, Resource) else res_or_doc
        path = tuple(path)
        if doc.origin != "git":
            return None
        if not path:
            return doc.line
        tree = getattr(doc, "lines", None)  # recorded by the loader: no second parse of the file
        if tree is not None:
            line = _line_in_tree(doc.body, tree, doc.line, path)
            if line is not None:
                return line
        return self._line_from_nodes(doc, path)

    def _line_from_nodes(self, doc, path: tuple) -> int | None:
        nodes = self._nodes(doc.path)
        if nodes is None:
            return doc.line
        if doc.index < 0 or doc.index >= len(nodes) or nodes[doc.index] is None:  # (< 0: a made object)
            return doc.line
        node = nodes[doc.index]
        line = node.start_mark.line + 1
        for key in path:
            nxt = None
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                        nxt, line = v, k.start_mark.line + 1
                        break
                    if isinstance(k, yaml.ScalarNode) and k.value == "<<" and isinstance(v, yaml.MappingNode):
                        for kk, vv in v.value:
                            if isinstance(kk, yaml.ScalarNode) and kk.value == str(key):
                                nxt, line = vv, k.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                nxt = node.value[key]
                line = nxt.start_mark.line + 1
            if nxt is None:
                break
            node = nxt
        return line

    def location(self, res_or_doc, path: Iterable = ()) -> Location:
        doc = res_or_doc.doc if isinstance(res_or_doc, Resource) else res_or_doc
        return Location(doc.path, self.line_of(res_or_doc, path))

    def _nodes(self, rel: str):
        if rel not in self._node_cache:
            text = self.text(rel)
            try:
                self._node_cache[rel] = compose_nodes(text) if text is not None else None
            except (yaml.YAMLError, RecursionError):
                self._node_cache[rel] = None
        return self._node_cache[rel]

    def is_archived(self, rel: str) -> bool:
        return any(seg in NOT_DEPLOYED_DIRS for seg in rel.split("/")[:-1])

    # ---- construction ------------------------------------------------------------------------
    def add(self, res: Resource) -> None:
        self.resources.append(res)
        self._by_kind[res.kind].append(res)
        self._by_kind_name[(res.kind, res.name)].append(res)
        self._by_kind_name_ns[(res.kind, res.name, res.namespace)].append(res)


def _line_in_tree(body, tree, line: int, path: tuple) -> int | None:
    """`line_of` over the loader's line tree; None when only the node walk can answer exactly
    (a body changed since parsing, or non-string keys whose YAML spelling may differ)."""
    for key in path:
        if tree is None:
            break  # a scalar: the path goes deeper than the document
        lines, kids = tree
        if len(lines) != len(body):
            return None
        if isinstance(body, dict):
            if type(key) is not str and type(key) is not int:
                return None
            keys = list(body)
            if key in body:
                i = keys.index(key)
                if type(keys[i]) is not type(key):
                    return None  # True == 1: let the node walk compare spellings
            else:
                sk = str(key)
                i = None
                for j, k in enumerate(keys):
                    if type(k) is not str:
                        return None  # 80, true, null keys: compare YAML spellings on the nodes
                    if k == sk:
                        i = j
                        break
                if i is None:
                    break  # no such key: the deepest existing one is the answer
            line = lines[i]
            body = body[keys[i]]
        elif isinstance(body, list):
            if type(key) is not int or key >= len(body):
                break
            if key < -len(body):
                return None
            i = key
            line = lines[i]
            body = body[i]
        else:
            break
        tree = kids[i] if kids is not None else None
    return line


def relpath_under(root: str, path: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")
