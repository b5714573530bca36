"""Run the checks over an inventory: collect results, apply waivers, fingerprint findings.

A check that raises is recorded with status `error`; the others go on."""
from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import traceback
from dataclasses import dataclass, field

from . import twocore
from .config import Config, Waiver
from .gcpause import paused as gc_paused
from .model import Result
from .registry import CheckSpec


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
    # Checks build results (hundreds of thousands on a big repo) and no reference cycles: automatic full
    # collections meanwhile would walk the growing pile of results again and again (measured on the 100x
    # synthetic repo: single checks 30-60x slower than at 10x). See scanner.gcpause.
    try:
        with gc_paused():
            return _run_checks(specs, inventory, config, today)
    finally:
        # The line memo (results.line_of) only pays while checks run; the inventory outlives the scan.
        getattr(inventory, "__dict__", {}).pop("_line_memo", None)


# Below this many documents a second process for the checks costs more (fork, results sent back)
# than it saves.
PARALLEL_MIN_DOCUMENTS = 300

# Analyses (see CheckSpec.builds_on) the scan needs after the checks: "routes", the exposure and auth
# map of every route, is the report's exposure map.
ANALYSES_KEPT_HERE = frozenset({"routes"})


def _run_checks(specs: list[CheckSpec], inventory, config: Config, today: dt.date | None = None) -> list[CheckOutcome]:
    today = today or dt.date.today()
    active = [w for w in config.waivers if not w.expired(today)]
    expired = [w for w in config.waivers if w.expired(today)]
    enabled = [s for s in specs if s.id not in config.disabled]
    # Checks may start slow work (subprocesses) in the background before the checks run: a function
    # `f.__posture_prepare__(inventory, options)`. Such a check runs in this process (its background work
    # lives here), after the others; every other check may run in the helper process (twocore).
    preparing = [s for s in enabled if getattr(s.func, "__posture_prepare__", None) is not None]
    # Checks building on an analysis the report needs afterwards (ANALYSES_KEPT_HERE) run in this
    # process, first: the analysis is made once, here, and the report reuses it. In the helper it would
    # be made twice (there for its checks, here again for the report).
    pinned = [s for s in enabled if s not in preparing and ANALYSES_KEPT_HERE.intersection(s.builds_on)]
    shared = [s for s in enabled if s not in preparing and s not in pinned]
    shared.sort(key=lambda s: -s.cost)  # the costliest first (stable: otherwise in catalogue order)

    def prepare() -> None:  # only starts work; a failure is ignored (the check then does the work itself)
        for spec in preparing:
            try:
                opts = dict(spec.options)
                opts.update(config.options_for(spec.id) or {})
                spec.func.__posture_prepare__(inventory, opts)
            except Exception:
                pass

    def run_one(spec: CheckSpec) -> tuple[list[Result], str | None, list]:
        return _run_one(spec, inventory, config)

    pinned_answers: dict = {}

    def run_pinned() -> None:
        for spec in pinned:
            pinned_answers[spec.id] = run_one(spec)

    parallel = len(getattr(inventory, "documents", ())) >= PARALLEL_MIN_DOCUMENTS and twocore.fork_affordable()
    answers, prepared_answers = twocore.share(shared, run_one, parallel=parallel, after_fork=[prepare],
                                              parent_first=[run_pinned], parent_only=preparing)
    by_id = {s.id: a for s, a in zip(shared, answers)}
    by_id.update((s.id, a) for s, a in zip(preparing, prepared_answers))
    for spec in pinned:  # (run again only if the pinned run was cut short: run_one itself never raises)
        by_id[spec.id] = pinned_answers[spec.id] if spec.id in pinned_answers else run_one(spec)
    errors = getattr(inventory, "errors", None)
    outcomes = []
    for spec in enabled:
        out = CheckOutcome(spec)
        out.results, out.error, new_errors = by_id[spec.id]
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
    return outcomes


def _run_one(spec: CheckSpec, inventory, config: Config) -> tuple[list[Result], str | None, list]:
    """(results, error text, scan errors the check recorded). Never raises: a broken check must not
    stop the scan. The recorded errors are taken out of the inventory and handed back, so a check run
    in the helper process loses none of them."""
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
