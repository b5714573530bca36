"""Read a repository into an Inventory: discover its files, parse its YAML, build what Flux deploys.

Shared by `posture scan` (scanner.engine.pipeline) and `posture inventory`."""
from __future__ import annotations

import os
from dataclasses import dataclass

from scanner.core.model import ScanError
from scanner.inventory.build import InventorySettings, build_inventory
from scanner.inventory.model import Inventory
from scanner.sources.discover import FileSet, discover
from scanner.sources.parse import DEFAULT_MAX_FILE_BYTES, parse_files


@dataclass
class RepositoryRead:
    inventory: Inventory
    files: FileSet


def read_repository(path: str, settings: InventorySettings | None = None, *, max_file_bytes: int | None = None,
                    config: dict | None = None, progress=None) -> RepositoryRead:
    say = progress or (lambda msg: None)
    say("discovering files")
    fs = discover(path)
    errors: list[ScanError] = list(fs.errors)
    say(f"parsing {len(fs.yaml_files)} YAML files")
    documents, parse_errors = parse_files(fs.root, fs.yaml_files, max_file_bytes or DEFAULT_MAX_FILE_BYTES)
    errors.extend(parse_errors)
    say("building what Flux deploys")
    settings = settings or InventorySettings()
    if settings.repo_url is None and fs.web_url:
        settings = InventorySettings(**{**settings.__dict__, "repo_url": fs.web_url})
    inv = build_inventory(os.path.abspath(path), documents, fs.files, errors, config=config, settings=settings)
    inv.git_commit, inv.web_url = fs.git_commit, fs.web_url
    return RepositoryRead(inv, fs)


def default_build_cache() -> str:
    """Where build results are kept between scans (content-keyed: an edit rebuilds what it touches)."""
    import platformdirs

    return os.path.join(platformdirs.user_cache_dir("gitops-posture"), "builds")


def could_not_run(inv: Inventory, explicit_roots: bool) -> str | None:
    """Why a scan of this inventory must not pass as a scan (exit 3), or None: a root it could not
    resolve, or nothing deployed at all. "0 findings on 0 objects" is never a pass."""
    if explicit_roots:
        if not any(r.deployed for r in inv.resources):
            return "nothing is deployed from the roots given with --root"
        return None
    unresolved = [g for g in inv.gaps if g.code.startswith("root-")]
    if unresolved:
        first = unresolved[0]
        return (f"{first.message} ({first.path}{':' + str(first.line) if first.line else ''}); "
                "name the Flux sync path(s) with --root PATH (or `roots:` in posture.yaml)")
    if not any(r.deployed for r in inv.resources):
        return ("nothing is deployed: no Flux root and no manifest was found; name the Flux sync path(s) with "
                "--root PATH (or `roots:` in posture.yaml)")
    return None
