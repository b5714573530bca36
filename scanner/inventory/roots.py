"""Where Flux starts: the sync paths of the repository (one per cluster), and roots it cannot resolve.

A root is declared by a FluxInstance (`spec.sync`), a flux-instance HelmRelease or its values file
(`instance.sync`), a classic `gotk-sync` Kustomization named flux-system, or named by the user
(`--root PATH`, `roots:` in posture.yaml — these replace discovery). A declared sync path that is a
template, does not exist, or syncs another repository is never taken literally: it is a coverage gap
naming the file and the value. A repository with no root at all is read as one Flux-generated build of
its top directory (what `flux bootstrap --path=.` would reconcile), and the report says so.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from scanner.core.model import Document, Gap

NOT_DEPLOYED_DIRS = ("archive", ".archive", "examples", "docs")
_TEMPLATE = re.compile(r"\$\{|\{\{|<<|\{%")


@dataclass(frozen=True)
class Root:
    """One cluster's sync: the repo directory Flux reconciles first, and where it was declared."""

    name: str  # the cluster's name in reports (distinguishing path segments when there are several)
    path: str  # repo-relative directory ("" = the repository root)
    kind: str  # what declared it (FluxInstance, flux-instance HelmRelease, gotk-sync Kustomization, --root, ...)
    declared_in: str | None = None  # repo file declaring it
    line: int | None = None
    source_kind: str = "GitRepository"  # how the cluster receives the repo: GitRepository or OCIRepository
    source_url: str | None = None
    prefix: str = ""  # repo directory that is the source's root (an OCI artifact pushed from a sub-folder)
    sync_doc: Document | None = None  # the gotk-sync Kustomization, whose own spec applies to the root build
    implicit: bool = False  # no root was found: the repository root read as one generated build

    def as_dict(self) -> dict:
        return {"name": self.name, "path": self.path, "kind": self.kind, "declared_in": self.declared_in,
                "line": self.line, "source_kind": self.source_kind, "source_url": self.source_url,
                "prefix": self.prefix, "implicit": self.implicit}


@dataclass
class Roots:
    roots: list[Root]
    gaps: list[Gap]  # declared roots that could not be resolved
    explicit: bool = False  # named by the user (--root / posture.yaml roots)

    @property
    def unresolved(self) -> list[Gap]:
        return [g for g in self.gaps if g.code.startswith("root-")]


def _get(d, *keys):
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def strip_path(p: str | None) -> str:
    p = (p or "").strip()
    while p.startswith("./"):
        p = p[2:]
    p = posixpath.normpath(p) if p else ""
    return "" if p in (".", "/") else p.strip("/")


def is_archived(path: str) -> bool:
    return any(seg in NOT_DEPLOYED_DIRS for seg in path.split("/")[:-1])


@dataclass
class _Candidate:
    kind: str
    doc: Document
    path: str
    source_kind: str
    url: str | None


def _flux_instance_values(doc: Document, values_docs: dict[str, list[Document]]) -> dict | None:
    sync = _get(doc.body, "spec", "values", "instance", "sync")
    if isinstance(sync, dict) and sync.get("path"):
        return sync
    # Values fed through a configMapGenerator next to the release (`valuesFrom`): any kind-less values
    # document in the release's directory that holds instance.sync.
    for vdoc in values_docs.get(posixpath.dirname(doc.path), []):
        sync = _get(vdoc.body, "instance", "sync")
        if isinstance(sync, dict) and sync.get("path"):
            return sync
    return None


def _candidates(docs: list[Document]) -> list[_Candidate]:
    values_docs: dict[str, list[Document]] = {}
    for d in docs:
        if not d.is_manifest and isinstance(d.body, dict):
            values_docs.setdefault(posixpath.dirname(d.path), []).append(d)
    out: list[_Candidate] = []
    for doc in docs:
        body = doc.body
        if not isinstance(body, dict) or is_archived(doc.path):
            continue
        if doc.kind == "FluxInstance":
            sync = _get(body, "spec", "sync")
            if isinstance(sync, dict) and "path" in sync:
                out.append(_Candidate("FluxInstance", doc, str(sync.get("path") or ""), str(sync.get("kind") or "GitRepository"),
                                      sync.get("url")))
        elif doc.kind == "HelmRelease":
            chart = _get(body, "spec", "chart", "spec", "chart") or _get(body, "spec", "chartRef", "name") or ""
            if "flux-instance" not in str(chart) and _get(body, "metadata", "name") != "flux-instance":
                continue
            sync = _flux_instance_values(doc, values_docs)
            if sync:
                out.append(_Candidate("flux-instance HelmRelease", doc, str(sync.get("path")),
                                      str(sync.get("kind") or "GitRepository"), sync.get("url")))
        elif not doc.is_manifest and isinstance(_get(body, "instance", "sync"), dict) and _get(body, "instance", "sync", "path"):
            sync = body["instance"]["sync"]
            out.append(_Candidate("flux-instance values", doc, str(sync.get("path")), str(sync.get("kind") or "GitRepository"),
                                  sync.get("url")))
        elif (doc.kind == "Kustomization" and doc.api_version.startswith("kustomize.toolkit.fluxcd.io")
              and _get(body, "metadata", "name") == "flux-system" and _get(body, "spec", "path") is not None):
            ref = _get(body, "spec", "sourceRef") or {}
            out.append(_Candidate("gotk-sync Kustomization", doc, str(_get(body, "spec", "path")),
                                  str(ref.get("kind") or "GitRepository") if isinstance(ref, dict) else "GitRepository", None))
    return out


def resolve_prefix(dirs: set[str], sync_path: str) -> str | None:
    """The repo directory under which the source's paths live: "" when the sync path exists as it is;
    for an OCI artifact pushed from a sub-folder, the folder that makes it exist (shortest wins)."""
    p = strip_path(sync_path)
    if p in dirs:
        return ""
    for d in sorted(dirs, key=lambda x: (len(x), x)):
        if d.endswith("/" + p):
            return d[: -len(p)].rstrip("/")
    return None


def normalise_url(url: str | None) -> str | None:
    """A Git or OCI URL reduced to host/path, lowercase, without credentials, scheme, `.git` or ref."""
    if not url:
        return None
    u = str(url).strip().lower()
    u = re.sub(r"^[\w.-]+@([^:/]+):(?!\d)", r"\1/", u)  # scp-like git@host:path
    u = re.sub(r"^[a-z+]+://", "", u)
    u = u.split("@", 1)[-1] if "@" in u.split("/", 1)[0] else u
    u = u.split("?", 1)[0].rstrip("/")
    return u[:-4] if u.endswith(".git") else u


def cluster_names(paths: list[str]) -> list[str]:
    """Short, distinct names for roots: the path segments that differ between them."""
    if len(paths) == 1:
        return ["cluster"]
    split = [p.split("/") if p else ["(root)"] for p in paths]
    head = 0
    while all(len(s) > head + 1 for s in split) and len({s[head] for s in split}) == 1:
        head += 1
    tail = 0
    while all(len(s) > head + tail + 1 for s in split) and len({s[-1 - tail] for s in split}) == 1:
        tail += 1
    names = ["/".join(s[head: len(s) - tail]) for s in split]
    return names if len(set(names)) == len(names) else paths


def find_roots(docs: list[Document], dirs: set[str], *, explicit: list[str] | None = None,
               repo_url: str | None = None) -> Roots:
    """Every cluster root of the repository. `explicit`: the user's --root / posture.yaml roots (repo
    paths), which replace discovery. `repo_url`: the repository's own remote, when known, to tell a
    sync of this repository from a sync of another."""
    gaps: list[Gap] = []
    found: list[tuple[str, _Candidate | None, str]] = []  # (path, candidate, prefix)
    if explicit:
        for raw in explicit:
            p = strip_path(raw)
            if p not in dirs:
                gaps.append(Gap("root-not-found", "(--root)", raw, f"--root {raw!r} is not a directory of the repository"))
                continue
            found.append((p, None, ""))
    else:
        own = normalise_url(repo_url)
        for c in _candidates(docs):
            where = f"{c.kind} in {c.doc.path}"
            if _TEMPLATE.search(c.path):
                gaps.append(Gap("root-unresolved", c.doc.path, c.path,
                                f"{where} syncs the templated path {c.path!r}: it cannot be resolved offline; name the "
                                "sync path with --root PATH", line=c.doc.line))
                continue
            url = normalise_url(c.url) if c.url and not _TEMPLATE.search(str(c.url)) else None
            if own and url and url != own and c.source_kind == "GitRepository":
                gaps.append(Gap("root-other-repository", c.doc.path, str(c.url),
                                f"{where} syncs another repository ({c.url}); its content is not in this scan",
                                line=c.doc.line))
                continue
            prefix = resolve_prefix(dirs, c.path)
            if prefix is None:
                gaps.append(Gap("root-unresolved", c.doc.path, c.path,
                                f"{where} syncs {c.path!r}, which does not exist in the repository; name the sync path "
                                "with --root PATH", line=c.doc.line))
                continue
            found.append((posixpath.join(prefix, strip_path(c.path)) if prefix else strip_path(c.path), c, prefix))
    # One root per distinct path; the FluxInstance form wins over the values and gotk-sync forms.
    rank = {"FluxInstance": 0, "flux-instance HelmRelease": 1, "flux-instance values": 2, "gotk-sync Kustomization": 3}
    best: dict[str, tuple[str, _Candidate | None, str]] = {}
    for item in sorted(found, key=lambda f: (f[0], rank.get(f[1].kind, 9) if f[1] else -1, f[1].doc.path if f[1] else "")):
        best.setdefault(item[0], item)
    items = sorted(best.values(), key=lambda f: f[0])
    names = cluster_names([p for p, _, _ in items])
    roots = []
    for name, (path, c, prefix) in zip(names, items):
        if c is None:
            roots.append(Root(name, path, "--root"))
        else:
            roots.append(Root(name, path, c.kind, c.doc.path, c.doc.line, c.source_kind, c.url, prefix,
                              c.doc if c.kind == "gotk-sync Kustomization" else None))
    if not roots and not gaps and not explicit:
        roots.append(Root("cluster", "", "repository root (no Flux entry point found)", implicit=True))
    return Roots(roots, gaps, explicit=bool(explicit))
