"""The build requests the scanner's Flux walker really makes on a repo, built natively and by
kustomize side by side while the walk runs.

A Flux Kustomization's overlay is what its parent's build emitted (a parent's `patches` inject
defaults into every child), and a path may live in an ExternalArtifact the walk lays out for the
time of the walk only; so the comparison happens inside the walk: every `build_many` the walker
makes goes to a native engine and to a binary engine on the same tree, and the walk carries on
with kustomize's outcomes (what auto mode would give)."""
from __future__ import annotations

import os
import posixpath
from collections import defaultdict
from dataclasses import dataclass, field

from scanner.inventory import postbuild
from scanner.inventory.builder import HOW_NATIVE, BuildEngine, BuildSettings
from scanner.inventory.kinds import Kinds
from scanner.inventory.roots import find_roots
from scanner.inventory.walk import DocumentMatcher, WalkContext, walk_cluster
from scanner.sources.discover import discover
from scanner.sources.parse import parse_files


@dataclass
class Differential:
    builds: int = 0
    native: int = 0
    mismatches: list[str] = field(default_factory=list)


def outcome_view(outcome) -> list:
    """What must be identical: the objects in order, with the file each came from."""
    return [(o.body, o.source_path, o.generated_by) for o in outcome.objects]


class _SideBySide:
    def __init__(self, root: str, files: set[str], result: Differential):
        self.native = BuildEngine(root, set(files), BuildSettings(mode="native"))
        self.binary = BuildEngine(root, set(files), BuildSettings(mode="binary"))
        self.result = result

    def tool(self) -> dict:
        return self.binary.tool()

    def build_many(self, requests):
        native = self.native.build_many(requests)
        binary = self.binary.build_many(requests)
        self.result.builds += len(requests)
        for req, n, b in zip(requests, native, binary):
            if n.how != HOW_NATIVE:
                continue
            self.result.native += 1
            if outcome_view(n) != outcome_view(b) or n.files_used != b.files_used:
                self.result.mismatches.append(f"{req.key} ({req.path}): native and kustomize differ "
                                              f"(kustomize: {b.how}, {[e.message for e in b.errors[:1]]})")
        return binary


def walked_differential(repo_root: str) -> Differential:
    """Walk every Flux root of the repo; every build compared, native against kustomize."""
    root = os.path.abspath(repo_root)
    fs = discover(root)
    documents, _errors = parse_files(fs.root, fs.yaml_files)
    by_path = defaultdict(list)
    for d in documents:
        by_path[d.path].append(d)
    files = frozenset(fs.files)
    dirs = {""}
    for f in files:
        d = posixpath.dirname(f)
        while d and d not in dirs:
            dirs.add(d)
            d = posixpath.dirname(d)
    found = find_roots(documents, dirs, explicit=[], repo_url=None)
    strict_of = getattr(postbuild, "strict_substitution", None)
    strict, evidence = strict_of(documents) if strict_of else (False, "")
    try:
        from scanner.inventory.resourcesets import expand
    except ImportError:  # pragma: no cover
        expand = None
    result = Differential()
    ctx = WalkContext(repo_root=root, files=files, docs_by_path=by_path, kinds=Kinds(documents),
                      build_settings=None, strict=strict, strict_evidence=evidence,
                      engine_factory=lambda r, f: _SideBySide(r, f, result), postbuild=postbuild,
                      expand_resourceset=expand, matcher=DocumentMatcher(by_path))
    for r in found.roots:
        walk_cluster(r, ctx)
    return result
