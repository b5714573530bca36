"""What a kustomize build of a directory includes, without running kustomize.

We follow `resources`, `components`, `patches[].path`, generator `files`/`envs` (data, not
manifests) and the `namespace:` field; the outermost `namespace:` in the chain wins, as in
kustomize. A directory without a kustomization file is built the way Flux generates one: every
manifest below it, with sub-directories that hold a kustomization built as such.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from scanner.core.model import Document, ScanError

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(slots=True)
class Included:
    """A document a kustomization build includes, with the namespace the build sets."""

    doc: Document
    namespace: str | None  # from kustomize `namespace:` (None when no kustomization set one)


@dataclass
class RepoFiles:
    """Parsed documents by path plus the set of files and directories, for path resolution."""

    docs_by_path: dict[str, list[Document]]
    files: set[str]
    dirs: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for f in self.files:
            parent = posixpath.dirname(f)
            while parent and parent not in self.dirs:
                self.dirs.add(parent)
                parent = posixpath.dirname(parent)
        self.dirs.add("")
        self._children: dict[str, list[str]] = {}
        for f in sorted(self.files):
            self._children.setdefault(posixpath.dirname(f), []).append(f)
        self._subdirs: dict[str, list[str]] = {}
        for d in sorted(self.dirs):
            if d:
                self._subdirs.setdefault(posixpath.dirname(d), []).append(d)

    def files_in(self, d: str) -> list[str]:
        return self._children.get(d, [])

    def subdirs(self, d: str) -> list[str]:
        return self._subdirs.get(d, [])

    def kustomization_file(self, d: str) -> str | None:
        for name in KUSTOMIZATION_FILES:
            p = posixpath.join(d, name) if d else name
            if p in self.files:
                return p
        return None


def norm(base: str, rel: str) -> str:
    p = posixpath.normpath(posixpath.join(base, rel)) if base else posixpath.normpath(rel)
    return "" if p == "." else p


def _is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith(("github.com/", "git@", "https:", "http:"))


def _kustomization_body(repo: RepoFiles, path: str) -> dict:
    for d in repo.docs_by_path.get(path, []):
        if isinstance(d.body, dict):
            return d.body
    return {}


@dataclass
class BuildResult:
    """The documents of a kustomization build and the files it used."""

    items: list[Included] = field(default_factory=list)
    used_files: set[str] = field(default_factory=set)  # kustomization, patch and generator files
    errors: list[ScanError] = field(default_factory=list)


def build(repo: RepoFiles, directory: str, result: BuildResult | None = None,
          _stack: tuple[str, ...] = ()) -> BuildResult:
    """Everything a kustomize (or Flux-generated) build of `directory` would include."""
    result = result or BuildResult()
    if directory in _stack:
        result.errors.append(ScanError(directory, None, "kustomization includes itself in a cycle: "
                                       + " -> ".join(_stack + (directory,)), kind="input"))
        return result
    stack = _stack + (directory,)
    kfile = repo.kustomization_file(directory)
    if kfile is None:
        _build_generated(repo, directory, result, stack)
        return result
    result.used_files.add(kfile)
    body = _kustomization_body(repo, kfile)
    start = len(result.items)

    def entries(key: str) -> list:
        v = body.get(key)
        return v if isinstance(v, list) else []

    for key in ("resources", "bases", "components"):
        for ref in entries(key):
            if not isinstance(ref, str) or _is_remote(ref):
                continue
            target = norm(directory, ref)
            if target in repo.files:
                result.used_files.add(target)
                result.items.extend(Included(d, None) for d in repo.docs_by_path.get(target, []) if d.is_manifest)
            elif target in repo.dirs:
                build(repo, target, result, stack)
            else:
                result.errors.append(ScanError(kfile, None, f"{key} entry {ref!r} not found in the repository", kind="input"))
    for p in entries("patches") + entries("patchesStrategicMerge"):
        ref = p.get("path") if isinstance(p, dict) else p if isinstance(p, str) and "\n" not in p else None
        if isinstance(ref, str):
            result.used_files.add(norm(directory, ref))
    for gen_key in ("configMapGenerator", "secretGenerator"):
        for gen in entries(gen_key):
            if not isinstance(gen, dict):
                continue
            for key in ("files", "envs"):
                for f in gen.get(key) or []:
                    if isinstance(f, str):
                        result.used_files.add(norm(directory, f.split("=", 1)[-1]))
    for key in ("replacements", "transformers", "generators", "configurations"):
        for r in entries(key):
            ref = r.get("path") if isinstance(r, dict) else r if isinstance(r, str) else None
            if isinstance(ref, str) and not _is_remote(ref):
                result.used_files.add(norm(directory, ref))
    ns = body.get("namespace")
    if isinstance(ns, str) and ns:
        for item in result.items[start:]:
            item.namespace = ns  # the outer kustomization is applied last, so it wins
    return result


def _build_generated(repo: RepoFiles, directory: str, result: BuildResult, stack: tuple[str, ...]) -> None:
    """Flux's generator: all manifests in the directory tree; sub-kustomizations built as such."""
    if directory not in repo.dirs:
        return
    for f in repo.files_in(directory):
        if f.lower().endswith((".yaml", ".yml", ".json")):
            docs = [d for d in repo.docs_by_path.get(f, []) if d.is_manifest]
            if docs:
                result.used_files.add(f)
                result.items.extend(Included(d, None) for d in docs)
    for sub in repo.subdirs(directory):
        build(repo, sub, result, stack)
