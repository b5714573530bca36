"""CI gates: score floor, severity threshold, and (with a baseline) new findings and score drop."""
from __future__ import annotations

import math
from dataclasses import dataclass

from scanner.core.errors import UsageError
from scanner.core.model import SEVERITY_RANK
from scanner.engine.report_model import CheckResult, Finding, Gate, Report


@dataclass(frozen=True)
class GateOptions:
    """When a run fails (exit 1). `baseline` is a report file or archive reference."""

    fail_under: float | None = None  # overall score floor, 0-100
    fail_on: str | None = None  # a severity: fail on any failing finding this severe or worse
    baseline: str | None = None
    fail_on_new: str | None = None  # with a baseline: fail on new findings this severe or worse
    max_score_drop: float | None = None  # with a baseline: fail when the score drops by more (points)
    fail_under_coverage: float | None = None  # fail when less of what Flux deploys was seen (percent, 0-100)


def failing_at_or_above(report: Report, severity: str) -> list[tuple[CheckResult, Finding]]:
    floor = SEVERITY_RANK[severity]
    return [(c, f) for c, f in report.findings("fail") if SEVERITY_RANK.get(f.severity, 0) >= floor]


def evaluate_gates(report: Report, gates: GateOptions, baseline: dict | None = None) -> Gate:
    """The gate verdict for `report` (the caller stores it: `report.with_gate(gate)`); `baseline` is
    the report `gates.baseline` names, already read."""
    fail_under, fail_on, fail_on_new, max_score_drop = gates.fail_under, gates.fail_on, gates.fail_on_new, \
        gates.max_score_drop
    reasons: list[str] = []
    overall = report.score.overall
    if fail_under is not None and overall < fail_under:
        reasons.append(f"overall score {overall:.1f} is below --fail-under {fail_under:g}")
    if fail_on is not None:
        bad = failing_at_or_above(report, fail_on)
        if bad:
            reasons.append(f"{len(bad)} failing finding(s) of severity {fail_on} or worse (--fail-on {fail_on})")
    coverage_floor = gates.fail_under_coverage
    if coverage_floor is not None:
        seen = report.coverage.percent if report.coverage is not None else 0.0
        if seen < coverage_floor:
            reasons.append(f"coverage {seen:.1f}% is below --fail-under-coverage {coverage_floor:g} (what the scan "
                           "could not see: the report's coverage section, `posture inventory --unseen`)")
    if baseline is not None:
        _refuse_non_finite(baseline)
    if baseline is not None and (fail_on_new is not None or max_score_drop is not None):
        from scanner.engine.diff import baseline_gate  # compares JSON reports (the baseline is one)

        reasons.extend(baseline_gate(baseline, report.to_json_dict(), fail_on_new, max_score_drop))
    evaluated = any(v is not None for v in (fail_under, fail_on, fail_on_new, max_score_drop, coverage_floor))
    return Gate(evaluated=evaluated, passed=not reasons, reasons=reasons, fail_under=fail_under, fail_on=fail_on,
                fail_on_new=fail_on_new, max_score_drop=max_score_drop, baseline=bool(baseline))


def _refuse_non_finite(baseline: dict) -> None:
    """A baseline report is input: NaN or infinity in it (JSON readers accept them) would make every
    score comparison false, so a score drop could never fail the gate."""
    stack = [baseline]
    while stack:
        node = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            raise UsageError("--baseline: the report holds NaN or infinity; not a report this scanner wrote")
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
