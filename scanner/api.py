"""One scan, end to end: sources -> inventory -> checks -> score -> report dict.

`run_scan` is what the CLI, snapshots and tests call; `write_reports` renders the formats."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field

from typing import TYPE_CHECKING, Callable

from . import config as config_mod
from . import readahead
from .discover import discover
from .gcpause import paused as gc_paused, release_startup
from .model import LAYERS, ScanError
from .parse import DEFAULT_MAX_FILE_BYTES, parse_files

if TYPE_CHECKING:
    from .inventory import Inventory
    from .registry import CheckSpec

# Only what reading and parsing the repo needs is imported above. The rest of the pipeline (inventory,
# checks, report model: ~40 ms of imports) loads in `_load_pipeline`, which the scan runs while the
# helper process parses, so that time overlaps the parse instead of preceding it.


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def _load_pipeline() -> None:
    from . import engine, exposure, inventory, report_model  # noqa: F401  (imported for their side effect)
    from .registry import discover as discover_checks

    discover_checks()  # imports every check module


class InputError(Exception):
    """Bad input the user must fix (missing path, bad config): exit code 2."""


@dataclass
class ScanRun:
    """One scan's result: the report dict, and the inventory and checks it came from."""

    report: dict
    inventory: Inventory
    specs: list[CheckSpec] = field(default_factory=list)


def _selected(check_id: str, only: list[str] | None) -> bool:
    layer = check_id.split(".", 1)[0]
    return not only or any(sel in (layer, check_id) or (sel.endswith("*") and check_id.startswith(sel[:-1]))
                           for sel in only)


def select_checks(specs: list[CheckSpec], only: list[str] | None) -> list[CheckSpec]:
    return [s for s in specs if _selected(s.id, only)]


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


def run_scan(path: str | None = None, *, cluster: bool = False, kubeconfig: str | None = None,
             context: str | None = None, config_path: str | None = None, only: list[str] | None = None,
             inspect_tls: bool = False, progress=None, today: dt.date | None = None) -> dict:
    return scan(path, cluster=cluster, kubeconfig=kubeconfig, context=context, config_path=config_path, only=only,
                inspect_tls=inspect_tls, progress=progress, today=today).report


def scan(path: str | None = None, *, cluster: bool = False, kubeconfig: str | None = None,
         context: str | None = None, config_path: str | None = None, only: list[str] | None = None,
         inspect_tls: bool = False, progress=None, today: dt.date | None = None,
         warm_up: Callable[[], None] | None = None) -> ScanRun:
    """One scan. `warm_up`: the caller's own start-up work (e.g. loading report formatters), run while
    the parse helper works (before the parse on small repos)."""
    say = progress or (lambda msg: None)
    if path is None and not cluster:
        raise InputError("nothing to scan: give a repository PATH, --cluster, or both")
    if path is not None and not os.path.isdir(path):
        raise InputError(f"path {path} does not exist or is not a directory")
    try:
        cfg = config_mod.load(config_path, path)
    except config_mod.ConfigError as exc:
        raise InputError(f"invalid configuration: {exc}") from None

    started = time.perf_counter()
    started_at = now_iso()
    phases: dict[str, float] = {}
    errors: list[ScanError] = []
    sources: list[dict] = []
    files: list[str] = []
    documents = []
    commit = web_url = None

    max_bytes = cfg.max_file_bytes or DEFAULT_MAX_FILE_BYTES
    while_parsing = [_load_pipeline] + ([warm_up] if warm_up else [])
    early = readahead.claim(path, cfg.max_file_bytes) if path is not None else None
    try:
        if early is not None:
            # A helper is discovering and parsing the repo already (the console script started it): load
            # the rest of the pipeline now, then join it.
            for job in while_parsing:
                try:
                    job()
                except Exception:  # a warm-up only saves time; the real use later reports any error
                    pass
            while_parsing = []
        t = time.perf_counter()
        if path is not None:
            say("discovering files")
            described = early.plan() if early is not None else None
            fs = readahead.file_set(described) if described is not None else discover(path)
            files = fs.files
            errors.extend(fs.errors)
            commit, web_url = fs.git_commit, fs.web_url
            sources.append({"type": "git", "path": os.path.abspath(path), "commit": commit, "web_url": web_url,
                            "context": None, "via_git": fs.via_git})
        phases["discover"] = time.perf_counter() - t

        t = time.perf_counter()
        if path is not None:
            say(f"parsing {len(fs.yaml_files)} YAML files")
            documents, parse_errors = parse_files(fs.root, fs.yaml_files, max_bytes, while_parsing=while_parsing,
                                                  early=early)
            errors.extend(parse_errors)
        phases["parse"] = time.perf_counter() - t
    finally:
        if early is not None:
            early.cancel()  # (a no-op once joined; an interrupted scan leaves no helper behind)
        release_startup()  # (a scan without a repo: loading is over here; see gcpause.hold_for_startup)

    from .engine import run_checks
    from .exposure import exposure_map
    from .inventory import add_cluster_documents, build_inventory, derive
    from .registry import discover as discover_checks
    from .report_model import build_report

    t = time.perf_counter()
    say("building the inventory")
    with gc_paused():  # the inventory is a big acyclic structure: see scanner.gcpause
        inv = build_inventory(os.path.abspath(path) if path else None, documents, files, errors, config=cfg.raw)
    inv.git_commit, inv.web_url = commit, web_url
    if cluster:
        from .sources import cluster as cluster_src  # imported lazily: the kubernetes client is slow to import

        say("reading the cluster")
        data = cluster_src.fetch_cluster(kubeconfig, context, inspect_tls=inspect_tls)
        inv.cluster = data
        inv.errors.extend(data.errors)
        add_cluster_documents(inv, cluster_src.cluster_documents(data))
        derive(inv)
        server = getattr(data, "server", {}) or {}
        sources.append({"type": "cluster", "path": None, "commit": None, "web_url": None,
                        "context": server.get("context"), "server": server.get("host"), "version": server.get("version")})
    phases["inventory"] = time.perf_counter() - t

    t = time.perf_counter()
    specs, load_errors = discover_checks()
    for msg in load_errors:
        inv.errors.append(ScanError("(plugins)", None, msg, kind="check"))
    specs = select_checks(specs, only)
    say(f"running {len(specs)} checks")
    today = today or dt.date.today()
    outcomes = run_checks(specs, inv, cfg, today)
    for out in outcomes:
        if out.error:
            inv.errors.append(ScanError(f"(check {out.spec.id})", None, f"check failed: {out.error}", kind="check"))
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
        "config": cfg.path, "layers": list(LAYERS),
    }
    t = time.perf_counter()
    with gc_paused():  # views of the inventory and the report model: large and acyclic (scanner.gcpause)
        try:
            exposure = exposure_map(inv, cfg.options_for("perimeter"))
        except Exception as exc:  # the map is a view; a bug there must not lose the scan
            inv.errors.append(ScanError("(exposure map)", None, f"exposure map failed: {exc}", kind="check"))
            exposure = []
        report = build_report(outcomes=outcomes, weights=cfg.weights, scan_meta=scan_meta,
                              waivers=[w.as_dict(today) for w in cfg.waivers],
                              errors=[e.as_dict() for e in inv.errors], exposure=exposure, flux_graph=flux_graph(inv))
    # The exposure map and report model are built after scan_meta is frozen: add their time now.
    report.setdefault("scan", {}).setdefault("phases", {})["report"] = round(time.perf_counter() - t, 4)
    return ScanRun(report=report, inventory=inv, specs=specs)


def write_reports(report: dict, formats: list[str], output_dir: str, options: dict | None = None) -> list[str]:
    from reports.registry import commit_staged, discard_staged, join_parts, load, parts_of, temp_beside

    from . import twocore

    t = time.perf_counter()
    options = options or {}
    staged: list[tuple[str, str]] = []
    part_files: list[list[str]] = []  # per format rendered in parts: its parts' temp files, in output order
    try:
        # Render every format into a temp file beside its target first (streamed where the formatter
        # has `write`: a large report is never held as one string), then move them all into place:
        # an error in one format leaves no partial set behind. Each rename is atomic; Ctrl-C during
        # the renames is held back until the set is complete, then re-raised (the CLI exits 130).
        # The temp files are made here first, so they are removed whichever process rendered them.
        costs: list[float] = []
        tasks: list[tuple] = []  # (path, format, temp file, part or None)
        for fmt in formats:
            filename, render = load(fmt)
            path = os.path.join(output_dir, filename)
            parts = parts_of(render, report)
            if parts:  # each part a task of its own, into its own temp file; joined below
                tmps: list[str] = []
                part_files.append(tmps)
                for name, cost in parts:
                    tmps.append(temp_beside(path))
                    tasks.append((path, fmt, tmps[-1], name))
                    costs.append(cost)
                staged.append((tmps[0], path))
            else:
                staged.append((temp_beside(path), path))
                tasks.append((path, fmt, staged[-1][0], None))
                costs.append(getattr(sys.modules.get(render.__module__), "RENDER_COST", 1))
        # Tasks render independently: with several, a forked helper renders some (the 2nd core). The
        # heaviest go first, so this process (which starts taking at once) gets the biggest one.
        tasks = [task for _, task in sorted(zip(costs, tasks), key=lambda ct: -ct[0])]
        twocore.share(tasks, _render_task(report, options), parallel=len(tasks) > 1 and twocore.fork_affordable())
        join_parts(part_files)
        with _sigint_deferred():
            written = commit_staged(staged)
    except BaseException:
        discard_staged(staged + [(tmp, "") for tmps in part_files for tmp in tmps])  # (a file gone already is fine)
        raise
    report.setdefault("scan", {}).setdefault("phases", {})["render"] = round(time.perf_counter() - t, 4)
    return written


def _render_task(report: dict, options: dict) -> Callable[[tuple], tuple[str, str]]:
    from reports.registry import load, stage

    def run(task: tuple) -> tuple[str, str]:
        path, fmt, tmp, part = task
        return stage(path, load(fmt)[1], report, options, tmp=tmp, part=part)

    return run


@contextlib.contextmanager
def _sigint_deferred():
    """Hold SIGINT back for the duration of the block (main thread only), then raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: got.append(signum))
    except (ValueError, OSError):  # not allowed here (embedded interpreters)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if got:
        raise KeyboardInterrupt
