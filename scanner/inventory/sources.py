"""Which files a Flux Kustomization is built from: its `sourceRef` resolved as Flux resolves it.

- The cluster's own sync source (the GitRepository/OCIRepository the root syncs, and any other
  GitRepository/OCIRepository of the same URL) is this repository, under the root's prefix.
- An `ExternalArtifact` made by a source-watcher `ArtifactGenerator` from this repository is built from
  exactly the files its `copy` rules put in the artifact (cp-like semantics, as source-watcher's builder).
- Any other source (another Git repository, a Bucket, an OCI artifact pushed elsewhere, an artifact
  from an unknown generator) is a coverage gap naming it; it is never built from local files that
  happen to match.
"""
from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import dataclass, field
from typing import Callable

from scanner.core.model import Gap
from scanner.inventory.roots import Root, normalise_url, strip_path

SOURCE_KINDS = ("GitRepository", "OCIRepository", "Bucket", "ExternalArtifact")


@dataclass(frozen=True)
class SourceTree:
    """A source's file tree: `files` maps each path inside the source to the repo file it holds."""

    key: str  # stable id ("repo:<prefix>" or "artifact:<ns>/<name>")
    files: tuple[tuple[str, str], ...]  # (path in the source, repo path), sorted
    prefix: str | None = None  # for this repository itself: source path = prefix/path (no copy needed)

    def dirs(self) -> set[str]:
        out = {""}
        for p, _ in self.files:
            d = posixpath.dirname(p)
            while d and d not in out:
                out.add(d)
                d = posixpath.dirname(d)
        return out

    def repo_path(self, source_path: str) -> str | None:
        """The repo file (or directory, for the repo itself) a source path stands for."""
        p = strip_path(source_path)
        if self.prefix is not None:
            return posixpath.join(self.prefix, p) if self.prefix and p else (self.prefix or p)
        for sp, rp in self.files:
            if sp == p:
                return rp
        return None


@dataclass
class SourceResolver:
    """Resolves sourceRefs for one cluster. `lookup(kind, namespace, name)` and `objects_of(kind,
    namespace)` read the cluster's deployed objects (as far as the walk has seen them)."""

    root: Root
    repo_files: frozenset[str]
    lookup: Callable[[str, str, str], dict | None]
    objects_of: Callable[[str, str], list[dict]]
    _trees: dict = field(default_factory=dict)

    def repo_tree(self) -> SourceTree:
        key = f"repo:{self.root.prefix}"
        if key not in self._trees:
            pre = self.root.prefix
            files = tuple(sorted(((f[len(pre) + 1:] if pre else f), f) for f in self.repo_files
                                 if not pre or f.startswith(pre + "/")))
            self._trees[key] = SourceTree(key, files, prefix=pre)
        return self._trees[key]

    def resolve(self, ref: dict, default_ns: str, where: str, line: int | None = None) -> SourceTree | Gap:
        return self.resolve_checked(ref, default_ns, where, line)[0]

    def resolve_checked(self, ref: dict, default_ns: str, where: str,
                        line: int | None = None) -> tuple[SourceTree | Gap, str | None]:
        """(tree or gap, problem). A reference to the cluster's own sync source (by its name) in a
        namespace where no such source exists — typically a Kustomization a parent kustomization's
        `namespace:` moved out of flux-system, whose sourceRef names no namespace — is a broken
        reference: Flux fails to reconcile it. It is still built from this repository, so what it
        would deploy is judged, and the problem is returned for the gitops checks to report."""
        kind = str(ref.get("kind") or "")
        name = str(ref.get("name") or "")
        ns = str(ref.get("namespace") or default_ns or "")
        subject = f"{kind}/{ns}/{name}"
        if kind in ("GitRepository", "OCIRepository"):
            if self._is_own(kind, ns, name):
                return self.repo_tree(), None
            if (kind == self.root.source_kind and name == "flux-system" and ns != "flux-system"
                    and self.lookup(kind, ns, name) is None):
                return self.repo_tree(), (
                    f"sourceRef {subject} does not exist (the sync source is {kind}/flux-system/{name}): Flux cannot "
                    f"reconcile this Kustomization; set sourceRef.namespace: flux-system")
            return Gap("external-source", where, subject,
                       f"built from {subject}, which is not this repository: its content is not in this scan",
                       line=line, cluster=self.root.name), None
        if kind == "ExternalArtifact":
            return self._artifact(ns, name, where, line), None
        return Gap("external-source", where, subject or "(no sourceRef)",
                   f"built from {subject or 'an unnamed source'}, which the scan cannot read offline", line=line,
                   cluster=self.root.name), None

    def local_dir(self, kind: str, ns: str, name: str) -> str | None:
        """The repo directory a source that is this repository starts at ("" = the repo root), else None
        (a HelmRelease's chart from such a source is read from the repository)."""
        if kind in ("GitRepository", "OCIRepository") and self._is_own(kind, ns, name):
            return self.root.prefix
        return None

    def _is_own(self, kind: str, ns: str, name: str) -> bool:
        if kind == self.root.source_kind and name == "flux-system" and ns == "flux-system":
            return True  # what FluxInstance and `flux bootstrap` create for the root sync
        obj = self.lookup(kind, ns, name)
        if obj is None:
            return False
        url = normalise_url(str((obj.get("spec") or {}).get("url") or ""))
        own = normalise_url(self.root.source_url)
        if own and url == own:
            return True
        # A gotk-sync root names its source; that GitRepository is the repository itself.
        sync = self.root.sync_doc
        ref = ((sync.body.get("spec") or {}).get("sourceRef") or {}) if sync is not None else {}
        return bool(ref) and ref.get("kind", "GitRepository") == kind and ref.get("name") == name

    def _artifact(self, ns: str, name: str, where: str, line: int | None) -> SourceTree | Gap:
        subject = f"ExternalArtifact/{ns}/{name}"
        for gen in self.objects_of("ArtifactGenerator", ns):
            spec = gen.get("spec") or {}
            for art in spec.get("artifacts") or []:
                if isinstance(art, dict) and art.get("name") == name:
                    return self._generated(gen, art, ns, where, line)
        return Gap("artifact-unknown", where, subject,
                   f"built from {subject}, made by no ArtifactGenerator of this repository", line=line,
                   cluster=self.root.name)

    def _generated(self, gen: dict, art: dict, ns: str, where: str, line: int | None) -> SourceTree | Gap:
        aliases: dict[str, SourceTree] = {}
        for src in (gen.get("spec") or {}).get("sources") or []:
            if not isinstance(src, dict) or not src.get("alias"):
                continue
            tree = self.resolve(src, ns, where, line)
            if isinstance(tree, Gap):
                return Gap("external-source", where, f"ExternalArtifact/{ns}/{art.get('name')}",
                           f"artifact {art.get('name')!r} copies from {tree.subject}, which is not this repository",
                           line=line, cluster=self.root.name)
            aliases[src["alias"]] = tree
        staged: dict[str, str] = {}
        for op in art.get("copy") or []:
            if not isinstance(op, dict):
                continue
            problem = copy_into(staged, op, aliases)
            if problem:
                return Gap("artifact-copy-failed", where, f"ExternalArtifact/{ns}/{art.get('name')}",
                           f"artifact {art.get('name')!r}: {problem} (source-watcher would fail to build it)",
                           line=line, cluster=self.root.name)
        key = f"artifact:{ns}/{art.get('name')}"
        return SourceTree(key, tuple(sorted(staged.items())))


def _has_glob(p: str) -> bool:
    return any(c in p for c in "*?[]")


def copy_into(staged: dict[str, str], op: dict, aliases: dict[str, SourceTree]) -> str | None:
    """Apply one ArtifactGenerator copy operation (cp-like, as source-watcher's builder) to `staged`
    (artifact path -> repo path). Returns a problem text when the operation would fail."""
    src, dest = str(op.get("from") or ""), str(op.get("to") or "")
    if not src.startswith("@") or "/" not in src:
        return f"copy source {src!r} is not '@alias/pattern'"
    alias, pattern = src[1:].split("/", 1)
    if not dest.startswith("@artifact/"):
        return f"copy destination {dest!r} does not start with '@artifact/'"
    dest_rel = strip_path(dest[len("@artifact/"):])
    if ".." in dest_rel.split("/"):
        return f"copy destination {dest!r} leaves the artifact"
    tree = aliases.get(alias)
    if tree is None:
        return f"source alias {alias!r} not found"
    optional = bool(op.get("optional"))
    excludes = [str(e) for e in op.get("exclude") or []]
    files = dict(tree.files)
    dest_is_dir = dest.endswith("/")

    def excluded(rel: str) -> bool:
        return any(fnmatch.fnmatchcase(rel, e) or fnmatch.fnmatchcase(posixpath.basename(rel), e) for e in excludes)

    def put(artifact_path: str, repo_path: str) -> None:
        staged[strip_path(artifact_path)] = repo_path

    if not _has_glob(pattern):
        p = strip_path(pattern)
        if p in files:  # a file
            if excluded(p):
                return None
            is_dir = any(k.startswith(dest_rel + "/") for k in staged) if dest_rel else True
            target = posixpath.join(dest_rel, posixpath.basename(p)) if (dest_is_dir or is_dir) else dest_rel
            put(target, files[p])
            return None
        below = [k for k in files if k.startswith(p + "/")] if p else list(files)
        if not below:
            return None if optional else f"source {pattern!r} does not exist"
        base = posixpath.basename(p)  # a directory: copied as dest/<dirname>/... (cp -r dir dest)
        for k in below:
            rel = k[len(p) + 1:] if p else k
            if not excluded(rel):
                put(posixpath.join(dest_rel, base, rel), files[k])
        return None
    # Globs: `dir/**` copies the directory's contents; other patterns keep the matched path.
    if pattern.endswith("/**"):
        prefix = strip_path(pattern[:-3])
        matches = [k for k in files if k.startswith(prefix + "/")] if prefix else list(files)
        matches = [k for k in matches if not _has_glob(prefix) or fnmatch.fnmatchcase(k.split("/")[0], prefix)]
        for k in matches:
            rel = k[len(prefix) + 1:] if prefix else k
            if not excluded(rel):
                put(posixpath.join(dest_rel, rel), files[k])
    else:
        depth = pattern.count("/")
        matches = [k for k in files if k.count("/") == depth and fnmatch.fnmatchcase(k, pattern)]
        for k in matches:
            if not excluded(k):
                put(posixpath.join(dest_rel, k), files[k])
    if not matches:
        return None if optional else f"no files match {pattern!r}"
    return None
