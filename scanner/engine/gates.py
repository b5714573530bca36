"""CI gates: score floor, severity threshold, and (with a baseline) new findings and score drop."""
from __future__ import annotations

from scanner.core.model import SEVERITY_RANK
from scanner.engine.report_model import CheckResult, Finding, Gate, Report


def failing_at_or_above(report: Report, severity: str) -> list[tuple[CheckResult, Finding]]:
    floor = SEVERITY_RANK[severity]
    return [(c, f) for c, f in report.findings("fail") if SEVERITY_RANK.get(f.severity, 0) >= floor]


def evaluate_gates(report: Report, *, fail_under=None, fail_on=None, baseline: dict | None = None,
                   fail_on_new=None, max_score_drop=None) -> Gate:
    """The gate verdict for `report` (the caller stores it: `report.with_gate(gate)`)."""
    reasons: list[str] = []
    overall = report.score.overall
    if fail_under is not None and overall < fail_under:
        reasons.append(f"overall score {overall:.1f} is below --fail-under {fail_under:g}")
    if fail_on is not None:
        bad = failing_at_or_above(report, fail_on)
        if bad:
            reasons.append(f"{len(bad)} failing finding(s) of severity {fail_on} or worse (--fail-on {fail_on})")
    if baseline is not None and (fail_on_new is not None or max_score_drop is not None):
        from scanner.engine.diff import baseline_gate  # compares JSON reports (the baseline is one)

        reasons.extend(baseline_gate(baseline, report.to_json_dict(), fail_on_new, max_score_drop))
    evaluated = any(v is not None for v in (fail_under, fail_on, fail_on_new, max_score_drop))
    return Gate(evaluated=evaluated, passed=not reasons, reasons=reasons, fail_under=fail_under, fail_on=fail_on,
                fail_on_new=fail_on_new, max_score_drop=max_score_drop, baseline=bool(baseline))
