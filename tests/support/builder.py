"""Fixture repos for the build engine tests, and short ways to build them."""
from __future__ import annotations

import json
from pathlib import Path

from scanner.inventory.builder import BuildEngine, BuildOutcome, BuildRequest, BuildSettings, FluxOverlay
from tests.support.flux_requests import repo_files
from tests.support.repos import write


def make_repo(root: Path, files: dict[str, str]) -> tuple[str, set[str]]:
    """Write `files` (path -> YAML text, dedented) under `root`; (root, its files)."""
    for rel, text in files.items():
        write(root, rel, text)
    return str(root), repo_files(str(root))


def engine(root: str, files: set[str], mode: str = "binary", **settings) -> BuildEngine:
    return BuildEngine(root, files, BuildSettings(mode=mode, **settings))


def build(root: str, files: set[str], path: str, overlay: FluxOverlay | None = None,
          mode: str = "binary", **settings) -> BuildOutcome:
    return engine(root, files, mode, **settings).build_many([BuildRequest("r", path, overlay or FluxOverlay())])[0]


def by_id(outcome: BuildOutcome) -> dict[tuple, object]:
    """Objects by (kind, namespace, name)."""
    out = {}
    for o in outcome.objects:
        meta = o.body["metadata"]
        out[(o.body["kind"], meta.get("namespace"), meta["name"])] = o
    return out


def canonical(outcome: BuildOutcome) -> list[str]:
    """The outcome's objects as sorted JSON (order-free comparison)."""
    return sorted(json.dumps([o.body, o.source_path, o.generated_by], sort_keys=True, default=str)
                  for o in outcome.objects)
