"""Read a repository into an Inventory: discover its files, parse its YAML, build what Flux deploys.

Shared by `posture scan` (scanner.engine.pipeline) and `posture inventory`."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from scanner.core.options import default_cache_dir
from scanner.core.model import ScanError
from scanner.inventory.build import InventorySettings, build_inventory
from scanner.inventory.model import Inventory
from scanner.sources.discover import FileSet, discover
from scanner.sources.parse import DEFAULT_MAX_FILE_BYTES, parse_files


@dataclass
class RepositoryRead:
    inventory: Inventory
    files: FileSet


def read_repository(options, settings: InventorySettings, *, config: dict | None = None,
                    progress=None) -> RepositoryRead:
    """Discover, parse and build the repository `options.path` names (`posture inventory`)."""
    say = progress or (lambda msg: None)
    path = options.path
    say("discovering files")
    fs = discover(path, exclude=options.exclude)
    errors: list[ScanError] = list(fs.errors)
    say(f"parsing {len(fs.yaml_files)} YAML files")
    documents, parse_errors = parse_files(fs.root, fs.yaml_files, options.max_file_bytes or DEFAULT_MAX_FILE_BYTES,
                                          options.cache_dir)
    errors.extend(parse_errors)
    say("building what Flux deploys")
    if settings.repo_url is None and fs.web_url:
        settings = dataclasses.replace(settings, repo_url=fs.web_url)
    inv = build_inventory(os.path.abspath(path), documents, fs.files, errors, config=config, settings=settings)
    inv.git_commit, inv.web_url = fs.git_commit, fs.web_url
    return RepositoryRead(inv, fs)


def inventory_settings(options, *, roots: tuple[str, ...] = (), repo_url: str | None = None) -> InventorySettings:
    """How the repository is read, from the scan's options: builds are cached under the cache directory
    (content-keyed: an edit rebuilds what it touches; --no-cache: none). Charts come from the `charts`
    folder of the user cache unless --charts-dir names another: they are a store `posture charts pull`
    fills, not derived answers, so --no-cache does not hide them."""
    cache = options.cache_dir
    return InventorySettings(
        roots=tuple(roots), clusters=(options.cluster_root,) if options.cluster_root else (), repo_url=repo_url,
        kustomize_mode=options.kustomize_mode, kustomize_bin=options.kustomize_bin,
        cache_dir=os.path.join(cache, "builds") if cache else None,
        charts_dir=options.charts_dir or os.path.join(cache or default_cache_dir(), "charts"), workers=options.workers)


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
        if inv.roots:
            # Roots were found, but their builds gave nothing: say which build and why, not "no root".
            failed = [g for g in inv.gaps if g.code in ("build-failed", "native-unsupported")]
            why = (f": {failed[0].code} at {failed[0].path} ({failed[0].message})" if failed else "")
            hint = ("; --kustomize native builds only what the exact native subset can, try --kustomize auto"
                    if any(g.code == "native-unsupported" for g in failed) else "")
            return f"nothing is deployed: the Flux root(s) were found but gave no object{why}{hint}"
        return ("nothing is deployed: no Flux root and no manifest was found; name the Flux sync path(s) with "
                "--root PATH (or `roots:` in posture.yaml)")
    return None
