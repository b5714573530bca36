"""Run the checks over an inventory: collect results, apply waivers, fingerprint findings.

A check that raises is recorded with status `error`; the others go on."""
from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import traceback
from dataclasses import dataclass, field

from scanner.engine.config_values import Config, Waiver
from scanner.core.model import Result
from scanner.checkapi.registry import CheckSpec


@dataclass
class CheckOutcome:
    """What one check gave: its results, the waivers matched, or its error."""

    spec: CheckSpec
    results: list[Result] = field(default_factory=list)
    waived: dict[int, Waiver] = field(default_factory=dict)  # index in results -> waiver
    error: str | None = None


def fingerprint(check_id: str, r: Result) -> str:
    """Stable across runs: no line numbers, and no file path when the resource is known (files move)."""
    res = r.resource or {}
    if res.get("kind") or res.get("name"):
        ident = f"{res.get('kind')}/{res.get('namespace') or '-'}/{res.get('name')}"
    else:
        path = r.location.path if r.location else ""
        ident = "/".join(path.split("/")[-3:])
    raw = f"{check_id}|{ident}|{r.subject}"
    return hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def _waiver_targets(r: Result) -> list[str]:
    out = [r.subject]
    res = r.resource or {}
    if res:
        out.append(f"{res.get('kind')}/{res.get('namespace') or '-'}/{res.get('name')}")
        out.append(f"{res.get('namespace') or '-'}/{res.get('name')}")
        out.append(str(res.get("name")))
    if r.location:
        out.append(r.location.path)
    return out


def match_waiver(waivers: list[Waiver], check_id: str, r: Result) -> Waiver | None:
    if not waivers:
        return None
    targets = _waiver_targets(r)
    for w in waivers:
        if not fnmatch.fnmatchcase(check_id, w.check):
            continue
        if any(fnmatch.fnmatchcase(t, w.resource) for t in targets if t):
            return w
    return None


def run_checks(specs: list[CheckSpec], inventory, config: Config, today: dt.date | None = None) -> list[CheckOutcome]:
    """Run every enabled check (in catalogue order) and match its failing results against the waivers."""
    today = today or dt.date.today()
    active = [w for w in config.waivers if not w.expired(today)]
    expired = [w for w in config.waivers if w.expired(today)]
    enabled = [s for s in specs if s.id not in config.disabled]
    errors = getattr(inventory, "errors", None)
    outcomes = []
    for spec in enabled:
        out = CheckOutcome(spec)
        out.results, out.error, new_errors = _run_one(spec, inventory, config)
        if errors is not None:  # what the check recorded (notices, config errors), once, in check order
            errors.extend(e for e in new_errors if e not in errors)
        for i, r in enumerate(out.results):
            if r.status not in ("fail", "warn"):
                continue
            w = match_waiver(active, spec.id, r)
            if w:
                w.matched += 1
                out.waived[i] = w
            else:
                ew = match_waiver(expired, spec.id, r)
                if ew:
                    ew.matched += 1
                    r.evidence = dict(r.evidence, expired_waiver=f"waiver expired on {ew.expires.isoformat()}: {ew.reason}")
        outcomes.append(out)
    getattr(inventory, "__dict__", {}).pop("_line_memo", None)  # (results.line_of's memo only pays while checks run)
    return outcomes


def _run_one(spec: CheckSpec, inventory, config: Config) -> tuple[list[Result], str | None, list]:
    """(results, error text, scan errors the check recorded). Never raises: a broken check must not
    stop the scan."""
    errors = getattr(inventory, "errors", None)
    before = len(errors) if errors is not None else 0
    error = None
    try:
        results = [r for r in spec.run(inventory, config.options_for(spec.id)) if r is not None]
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            error += f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})"
        results = []
    new_errors = []
    if errors is not None and len(errors) > before:
        new_errors = errors[before:]
        del errors[before:]
    return results, error, new_errors


def run_checks_per_cluster(specs: list[CheckSpec], inventory, config: Config, today: dt.date | None,
                           clusters: list[str]) -> list[CheckOutcome]:
    """A repository with several clusters (Flux roots): every check runs on each cluster's view, so
    namespaces, routes and policies of one cluster never meet another's. A verdict about a deployed
    object belongs to its cluster (its subject says which); a verdict about the repository itself (a
    file, a Talos config, a control it lacks) that every cluster gives alike is kept once."""
    runs = [(name, run_checks(specs, inventory.view(name), config, today)) for name in clusters]
    merged = []
    for i, spec in enumerate(s for s in specs if s.id not in config.disabled):
        out = CheckOutcome(spec)
        shared: dict[tuple, list] = {}
        for name, outcomes in runs:
            o = outcomes[i]
            out.error = out.error or o.error
            for j, r in enumerate(o.results):
                waiver = o.waived.get(j)
                if _belongs_to_cluster(r):
                    _tag(r, name)
                    _append(out, r, waiver)
                else:
                    key = (r.status, r.subject, r.message, r.location.path if r.location else None,
                           r.location.line if r.location else None)
                    shared.setdefault(key, []).append((name, r, waiver))
        for items in shared.values():
            if len(items) == len(runs):  # the same verdict in every cluster: about the repository itself
                _append(out, items[0][1], items[0][2])
            else:
                for name, r, waiver in items:
                    _tag(r, name)
                    _append(out, r, waiver)
        merged.append(out)
    return merged


def _belongs_to_cluster(r: Result) -> bool:
    origin = (r.resource or {}).get("origin")
    return origin in ("git", "cluster")


def _tag(r: Result, cluster: str) -> None:
    r.cluster = cluster
    r.subject = f"{cluster}: {r.subject}"


def _append(out: CheckOutcome, r: Result, waiver) -> None:
    if waiver is not None:
        out.waived[len(out.results)] = waiver
    out.results.append(r)
