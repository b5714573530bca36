"""CI gates: score floor, severity threshold, and (with a baseline) new findings and score drop."""
from __future__ import annotations

from scanner.core.model import SEVERITY_RANK


def failing_at_or_above(report: dict, severity: str) -> list[dict]:
    floor = SEVERITY_RANK[severity]
    return [dict(f, check=c["id"]) for c in report["checks"] for f in c["findings"]
            if f["status"] == "fail" and SEVERITY_RANK.get(f["severity"], 0) >= floor]


def evaluate_gates(report: dict, *, fail_under=None, fail_on=None, baseline=None, fail_on_new=None,
                   max_score_drop=None) -> dict:
    reasons: list[str] = []
    overall = report["score"]["overall"]
    if fail_under is not None and overall < fail_under:
        reasons.append(f"overall score {overall:.1f} is below --fail-under {fail_under:g}")
    if fail_on is not None:
        bad = failing_at_or_above(report, fail_on)
        if bad:
            reasons.append(f"{len(bad)} failing finding(s) of severity {fail_on} or worse (--fail-on {fail_on})")
    if baseline is not None and (fail_on_new is not None or max_score_drop is not None):
        try:
            from scanner.engine.diff import baseline_gate
        except ImportError:  # pragma: no cover - snapshots ship with the package
            baseline_gate = None
        if baseline_gate is not None:
            reasons.extend(baseline_gate(baseline, report, fail_on_new, max_score_drop))
    evaluated = any(v is not None for v in (fail_under, fail_on, fail_on_new, max_score_drop))
    report["gate"] = {"evaluated": evaluated, "passed": not reasons, "reasons": reasons,
                      "fail_under": fail_under, "fail_on": fail_on,
                      "fail_on_new": fail_on_new, "max_score_drop": max_score_drop,
                      "baseline": bool(baseline)}
    return report["gate"]
