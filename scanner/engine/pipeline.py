"""One scan, end to end: sources -> inventory -> checks -> score -> report dict.

`scan` (and `run_scan`, its report only) is what the CLI, snapshots and tests call."""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import time
from dataclasses import dataclass, field

from scanner.analysis.exposure import exposure_map
from scanner.analysis.fingerprints import fingerprint_key as keyed_fingerprints
from scanner.core.errors import UsageError
from scanner.core.model import LAYERS, ScanError
from scanner.core.redact import clean_tree
from scanner.core.options import ScanOptions
from scanner.engine import config as config_mod
from scanner.engine.config import Config
from scanner.engine.plugins import discover as discover_checks
from scanner.engine.report_build import build_report
from scanner.engine.report_model import Coverage, KustomizeTool, Report
from scanner.engine.repository import could_not_run, inventory_settings
from scanner.engine.runner import run_checks, run_checks_per_cluster
from scanner.checkapi.registry import CheckSpec
from scanner.inventory.build import add_cluster_documents, build_inventory, derive
from scanner.inventory.model import Inventory
from scanner.sources.discover import discover
from scanner.sources.parse import parse_files


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class ScanRun:
    """One scan's result: the report, and the inventory and checks it came from."""

    report: Report
    inventory: Inventory
    specs: list[CheckSpec] = field(default_factory=list)
    could_not_run: str | None = None  # why this scan must not pass as one (exit 3): nothing deployed, a root unresolved


def matches(check_id: str, selector: str) -> bool:
    """A selector names a layer, a check id, or an id prefix ending in `*`."""
    return selector in (check_id.split(".", 1)[0], check_id) or (
        selector.endswith("*") and check_id.startswith(selector[:-1]))


def select_checks(specs: list[CheckSpec], only=(), skip=()) -> list[CheckSpec]:
    """The checks `only` names (all when empty), less those `skip` names."""
    return [s for s in specs if (not only or any(matches(s.id, sel) for sel in only))
            and not any(matches(s.id, sel) for sel in skip)]


def flux_graph(inv: Inventory) -> dict:
    nodes, edges, ids = [], [], {}
    for res in inv.of_kind("Kustomization", "HelmRelease"):
        if res.kind == "Kustomization" and not res.api_version.startswith("kustomize.toolkit.fluxcd.io"):
            continue
        nid = f"{res.kind}/{res.namespace or '-'}/{res.name}"
        if nid in ids:
            continue
        ids[nid] = res
        nodes.append({"id": nid, "kind": res.kind, "name": res.name, "namespace": res.namespace, "path": res.path,
                      "line": res.line, "suspended": bool(res.spec.get("suspend")), "deployed": res.deployed})
    for nid, res in ids.items():
        if res.flux_kustomization:
            parent = f"Kustomization/{res.flux_kustomization}"
            if parent in ids:
                edges.append({"from": parent, "to": nid, "type": "creates"})
        for dep in res.spec.get("dependsOn") or []:
            if isinstance(dep, dict) and dep.get("name"):
                target = f"{res.kind}/{dep.get('namespace') or res.namespace or '-'}/{dep['name']}"
                edges.append({"from": nid, "to": target, "type": "dependsOn"})
    return {"nodes": nodes, "edges": edges}


def run_scan(options: ScanOptions, config: Config | None = None, *, progress=None) -> Report:
    """`scan`, the report only."""
    return scan(options, config, progress=progress).report


def scan(options: ScanOptions, config: Config | None = None, *, progress=None) -> ScanRun:
    """One scan, end to end. `config` is posture.yaml as read by the caller (the CLI reads it to build
    `options`); None reads it here from `options.config_path` or the repository's posture.yaml.
    `progress(message)` is told what the scan is doing."""
    say = progress or (lambda msg: None)
    path, cluster = options.path, options.cluster
    if path is None and not cluster:
        raise UsageError("nothing to scan: give a repository PATH, --cluster, or both")
    if path is not None and not os.path.isdir(path):
        raise UsageError(f"path {path} does not exist or is not a directory")
    cfg = config if config is not None else config_mod.load(options.config_path, path)
    if options.opnsense_config:  # the flag wins over posture.yaml's setting
        cfg = cfg.with_raw(opnsense_config=os.path.abspath(options.opnsense_config))
    # Every id the user named must exist, before the (long) scan starts.
    all_specs, load_errors = discover_checks()
    config_mod.check_selectors(options.only, all_specs, "--only")
    config_mod.check_selectors(options.skip, all_specs, "--skip")
    config_mod.check_ids(cfg, all_specs)
    config_mod.validate_check_options(cfg, all_specs)

    started = time.perf_counter()
    started_at = now_iso()
    phases: dict[str, float] = {}
    errors: list[ScanError] = []
    sources: list[dict] = []
    files: list[str] = []
    documents = []
    commit = web_url = None

    t = time.perf_counter()
    if path is not None:
        say("discovering files")
        fs = discover(path, exclude=options.exclude)
        files = fs.files
        errors.extend(fs.errors)
        commit, web_url = fs.git_commit, fs.web_url
        # No absolute local path in a report (it names the user's machine): the folder's own name, and
        # where it sits inside its git work tree so forge links can point at the right file.
        sources.append({"type": "git", "path": os.path.basename(os.path.abspath(path)) or ".", "commit": commit,
                        "web_url": web_url, "context": None, "via_git": fs.via_git,
                        "subdir": _subdir_in_work_tree(path) if fs.via_git else None})
    phases["discover"] = time.perf_counter() - t

    t = time.perf_counter()
    if path is not None:
        say(f"parsing {len(fs.yaml_files)} YAML files")
        documents, parse_errors = parse_files(fs.root, fs.yaml_files, options.max_file_bytes, options.cache_dir)
        errors.extend(parse_errors)
    phases["parse"] = time.perf_counter() - t

    t = time.perf_counter()
    say("building what Flux deploys")
    settings = inventory_settings(options, roots=tuple(options.roots) or tuple(cfg.roots), repo_url=web_url)
    inv = build_inventory(os.path.abspath(path) if path else None, documents, files, errors, config=cfg.raw,
                          settings=settings)
    inv.git_commit, inv.web_url = commit, web_url
    inv.options = options  # what checks need of the scan's options (scanner.checkapi.context)
    if cluster:
        from scanner.sources import cluster as cluster_src  # imported lazily: the kubernetes client is slow to import

        say("reading the cluster")
        data = cluster_src.fetch_cluster(options.kubeconfig, options.context, inspect_tls=options.inspect_tls,
                                         needs=_needs_by_kind())
        inv.cluster = data
        inv.errors.extend(data.errors)
        add_cluster_documents(inv, cluster_src.cluster_documents(data))
        derive(inv)
        server = getattr(data, "server", {}) or {}
        sources.append({"type": "cluster", "path": None, "commit": None, "web_url": None,
                        "context": server.get("context"), "server": server.get("host"), "version": server.get("version")})
    phases["inventory"] = time.perf_counter() - t

    t = time.perf_counter()
    for msg in load_errors:
        inv.errors.append(ScanError("(plugins)", None, msg, kind="check", code="plugin-load-failed"))
    specs = select_checks(all_specs, options.only, options.skip)
    say(f"running {len(specs)} checks")
    today = options.today or dt.date.today()
    # Value fingerprints deep in the checks are keyed with the scan's key (scanner.analysis.fingerprints).
    clusters = [r.name for r in inv.roots] if len(inv.roots) > 1 else []
    with keyed_fingerprints(options.fingerprint_key):
        if clusters:  # several clusters in one repository: each judged on its own, scored apart and in all
            outcomes = run_checks_per_cluster(specs, inv, cfg, today, clusters)
        else:
            outcomes = run_checks(specs, inv, cfg, today)
    for out in outcomes:
        if out.error:
            inv.errors.append(ScanError(f"(check {out.spec.id})", None, f"check failed: {out.error}", kind="check",
                                        code="check-crashed"))
    phases["checks"] = time.perf_counter() - t

    stats = {
        "files": len(files), "yaml_files": sum(1 for f in files if f.lower().endswith((".yaml", ".yml"))),
        "documents": len(inv.documents), "resources": len(inv.resources),
        "deployed_resources": sum(1 for r in inv.resources if r.deployed),
        "deployed_files": len(inv.deployed_files),
        "workloads": sum(1 for w in inv.workloads if w.resource.deployed),
        "workloads_all": len(inv.workloads),
        "routes": sum(1 for r in inv.routes if r.resource.deployed),
        "routes_all": len(inv.routes),
        "flux_kustomizations": sum(1 for r in inv.of_kind("Kustomization") if r.api_version.startswith("kustomize.toolkit")),
        "helmreleases": len(inv.of_kind("HelmRelease")),
        "checks": len(outcomes),
    }
    scan_meta = {
        "sources": sources, "started_at": started_at, "finished_at": now_iso(),
        "duration_s": round(time.perf_counter() - started, 4), "git_commit": commit,
        "entry_point": inv.entry.as_dict() if inv.entry else {"found": False, "kind": None, "path": None, "line": None,
                                                              "sync_path": None, "note": "no repository scanned"},
        "stats": stats, "phases": {k: round(v, 4) for k, v in phases.items()},
        "config": _config_label(cfg.path, path), "layers": list(LAYERS),
    }
    t = time.perf_counter()
    try:
        exposure = exposure_map(inv, cfg.options_for("perimeter"))
    except Exception as exc:  # the map is a view; a bug there must not lose the scan
        inv.errors.append(ScanError("(exposure map)", None, f"exposure map failed: {exc}", kind="check",
                                    code="exposure-map-failed"))
        exposure = []
    report = build_report(outcomes=outcomes, weights=cfg.weights, severity_weights=cfg.severity_weights,
                          scan_meta=scan_meta,
                          waivers=[w.as_dict(today) for w in cfg.waivers],
                          errors=[e.as_dict() for e in sorted(inv.errors, key=ScanError.sort_key)], exposure=exposure,
                          flux_graph=flux_graph(inv), clusters=clusters)
    # The exposure map and report model are built after scan_meta is frozen: add their time now.
    phases = dict(report.scan.phases, report=round(time.perf_counter() - t, 4))
    update: dict = {"scan": report.scan.model_copy(update={"phases": phases})}
    if inv.coverage:
        update["coverage"] = Coverage.model_validate(clean_tree(inv.coverage))  # repo text: as build_report cleans
    if inv.tools.get("kustomize"):  # which kustomize built the repository (its name, never a local path)
        tool = {k: v for k, v in inv.tools["kustomize"].items() if v is None or isinstance(v, str)}
        if tool.get("path"):
            tool["path"] = os.path.basename(tool["path"])
        update["tool"] = report.tool.model_copy(update={"kustomize": KustomizeTool.model_validate(tool)})
    report = report.model_copy(update=update)
    reason = could_not_run(inv, bool(settings.roots)) if path is not None else None
    return ScanRun(report=report, inventory=inv, specs=specs, could_not_run=reason)


def _subdir_in_work_tree(path: str) -> str | None:
    """The scanned folder relative to its git work tree ("" at the top), or None outside one."""
    from scanner.sources.discover import work_tree_above

    real = os.path.realpath(path)
    top = work_tree_above(real)
    if top is None:
        return None
    rel = os.path.relpath(real, top)
    return "" if rel == "." else rel.replace(os.sep, "/")


def _config_label(config_path: str | None, repo: str | None) -> str | None:
    """posture.yaml as a report names it: relative to the scanned folder, else its file name only."""
    if not config_path:
        return None
    if repo:
        rel = os.path.relpath(os.path.abspath(config_path), os.path.abspath(repo))
        if not rel.startswith(".."):
            return rel.replace(os.sep, "/")
    return os.path.basename(config_path)


def _needs_by_kind() -> dict[str, tuple[str, ...]]:
    """kind -> ids of the checks declaring it in `needs`, so a live read error names what it costs."""
    specs, _ = discover_checks(extra_modules=("checks.live",))
    index: dict[str, list[str]] = {}
    for spec in specs:
        for kind in spec.needs:
            index.setdefault(kind, []).append(spec.id)
    return {k: tuple(sorted(v)) for k, v in index.items()}
