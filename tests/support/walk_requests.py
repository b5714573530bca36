"""The build requests the scanner's Flux walker really makes on a repo.

A Flux Kustomization's overlay is what its parent's build emitted (a parent's `patches` inject
defaults into every child), and a path may live in an ExternalArtifact the walk lays out for the
time of the walk only; so everything here happens inside a walk: every `build_many` the walker
makes is seen by a callback, with the tree it builds, and the walk carries on with the outcomes of
a real engine (auto mode unless told)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Callable

from scanner.inventory.build import InventorySettings, build_inventory
from scanner.inventory.builder import HOW_NATIVE, BuildEngine, BuildSettings
from scanner.inventory.builder.native import UNEXPECTED
from scanner.sources.discover import discover
from scanner.sources.parse import parse_files

OnBuild = Callable[[str, set, list, list], None]  # (tree root, its files, requests, outcomes)


class _Tap:
    """An engine for the walker: a real engine, and a callback told of every batch."""

    def __init__(self, root: str, files: set[str], mode: str, on_build: OnBuild):
        self.root, self.files = root, set(files)
        self.engine = BuildEngine(root, set(files), BuildSettings(mode=mode))
        self.on_build = on_build

    def tool(self) -> dict:
        return self.engine.tool()

    def build_many(self, requests):
        outcomes = self.engine.build_many(requests)
        self.on_build(self.root, self.files, list(requests), outcomes)
        return outcomes


def walk(repo_root: str, on_build: OnBuild, mode: str = "auto") -> None:
    """Read the repo as the scanner does (charts left out), telling `on_build` of every batch."""
    root = os.path.abspath(repo_root)
    fs = discover(root)
    documents, errors = parse_files(fs.root, fs.yaml_files)
    settings = InventorySettings(kustomize_mode=mode, chart_engine="none")
    build_inventory(root, documents, fs.files, errors, settings=settings,
                    engine_factory=lambda r, f: _Tap(r, f, mode, on_build))


def record_walk(repo_root: str) -> list[tuple[str, list]]:
    """(tree root, requests) of every batch the walker sends, in order."""
    got: list[tuple[str, list]] = []
    walk(repo_root, lambda tree, _files, reqs, _outs: got.append((tree, reqs)))
    return got


def native_share(repo_root: str) -> tuple[int, int]:
    """(builds the native builder did, builds) in an auto-mode walk."""
    counts = [0, 0]

    def count(_tree, _files, _reqs, outs):
        counts[0] += sum(o.how == HOW_NATIVE for o in outs)
        counts[1] += len(outs)

    walk(repo_root, count)
    return counts[0], counts[1]


@dataclass
class Differential:
    builds: int = 0
    native: int = 0
    mismatches: list[str] = field(default_factory=list)


def outcome_view(outcome) -> list[str]:
    """What must be identical: the objects in order, their keys in order (a report lists them as
    they come), with the file each came from; as JSON, so a type differs too (1 and 1.0, 1 and true
    are equal in Python)."""
    return [json.dumps([o.body, o.source_path, o.generated_by]) for o in outcome.objects]


def walked_differential(repo_root: str) -> Differential:
    """Walk the repo with kustomize's outcomes; build every batch natively too and compare."""
    result = Differential()

    def compare(tree, files, requests, binary):
        native = BuildEngine(tree, set(files), BuildSettings(mode="native")).build_many(requests)
        result.builds += len(requests)
        for req, n, b in zip(requests, native, binary):
            if n.how != HOW_NATIVE:
                result.mismatches.extend(f"{req.key}: {g.message}" for g in n.gaps if UNEXPECTED in g.message)
                continue
            result.native += 1
            if outcome_view(n) != outcome_view(b) or n.files_used != b.files_used:
                result.mismatches.append(f"{req.key} ({req.path}): native and kustomize differ "
                                         f"(kustomize: {b.how}, {[e.message for e in b.errors[:1]]})")

    walk(repo_root, compare, mode="binary")
    return result
