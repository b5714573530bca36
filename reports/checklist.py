"""The scan read as the Flux project's security audit checklist: one row per checklist item, in the
checklist's order, with a verdict and the findings behind it. Formatters render these rows (the
Markdown report does; `checklist_view` is the data any other formatter can use).

An item's verdict comes from the checks that cover it (`checks/flux_checklist.yaml`):
- `fail` / `warn`: an open (not waived) failing / warning finding of one of them;
- `error`: one of them crashed and nothing failed;
- `not_applicable`: every finding says so (a single-tenant repository for the multi-tenancy items;
  the reason is kept), or the checks found nothing to judge;
- `pass`: otherwise, with at least one passing (waived, mitigated) subject (or, for an item narrowed to some places of a
  check, when that check judged the repository and found nothing there);
- `not_run`: none of its checks is in the report (`--only`, disabled in posture.yaml).
"""
from __future__ import annotations

from checks import flux_checklist
from scanner.engine.report_model import CheckResult, Finding, Report

VERDICT_ORDER = ("fail", "error", "warn", "pass", "not_applicable", "not_run")
MAX_FINDINGS = 20  # per item: the view is a reading order, the full list stays in the check


def _finding_row(check_id: str, f: Finding) -> dict:
    loc = f.location
    return {"check": check_id, "status": f.status, "severity": f.severity, "subject": f.subject,
            "message": f.message, "path": loc.path if loc else None, "line": loc.line if loc else None}


def _covers(item, f: Finding) -> bool:
    # the checklist (checks stage) reads a finding's evidence and resource kind, as plain data
    return item.covers({"evidence": f.evidence, "resource": {"kind": f.resource.kind if f.resource else None}})


def _item_row(item, checks_by_id: dict[str, CheckResult]) -> dict:
    present = [checks_by_id[c] for c in item.checks if c in checks_by_id]
    counts = {"fail": 0, "warn": 0, "pass": 0, "waived": 0, "mitigated": 0, "not_applicable": 0}
    open_findings, reasons = [], []
    for c in present:
        for f in c.findings:
            if not _covers(item, f):
                continue
            st = f.status
            if f.evidence.get("not_applicable"):
                counts["not_applicable"] += 1
                if f.message and f.message not in reasons:
                    reasons.append(f.message)
            elif st in counts:
                counts[st] += 1
            if st in ("fail", "warn"):
                open_findings.append(_finding_row(c.id, f))
    if not present:
        verdict = "not_run"
    elif counts["fail"]:
        verdict = "fail"
    elif any(c.status == "error" for c in present):
        verdict = "error"
    elif counts["warn"]:
        verdict = "warn"
    elif counts["pass"] or counts["waived"] or counts["mitigated"] or (item.findings and any(c.status != "not_applicable" for c in present)):
        verdict = "pass"  # a narrowed item of a check that judged the repo: nothing found in its places
    else:
        verdict = "not_applicable"
        if not reasons:
            reasons.append("nothing in the scan for these checks to judge")
    open_findings.sort(key=lambda r: (r["status"] != "fail", r["check"] or "", r["path"] or "", r["line"] or 0))
    return {
        "id": item.id, "section": item.section, "title": item.title, "ask": item.ask, "verdict": verdict,
        "checks": [{"id": cid, "status": checks_by_id[cid].status if cid in checks_by_id else "not_run",
                    "title": checks_by_id[cid].title if cid in checks_by_id else None} for cid in item.checks],
        "counts": counts, "reason": reasons[0] if verdict == "not_applicable" and reasons else None,
        "findings": open_findings[:MAX_FINDINGS], "more_findings": max(0, len(open_findings) - MAX_FINDINGS),
    }


def checklist_view(report: Report) -> list[dict]:
    """One row per checklist item, in the checklist's order (see the module doc for the verdicts)."""
    checks_by_id = {c.id: c for c in report.checks}
    return [_item_row(item, checks_by_id) for item in flux_checklist.load().items]


def covered(report: Report) -> bool:
    """Whether the report ran any check of the checklist (a scan limited to other layers shows none)."""
    ids = {c.id for c in report.checks}
    return bool(ids & flux_checklist.load().check_ids())


def source() -> dict:
    cl = flux_checklist.load()
    return {"title": cl.title, "url": cl.url, "commit": cl.commit}
