"""Scores: per check, per layer, overall; and the A-F grade.

- check score   = 100 x (passing + mitigated + waived + 0.5 x warning) / subjects; a check with no
                  subjects does not apply (absence of a control is a failing subject, never "no subjects").
                  A mitigated subject passes because another layer enforces the control; the report also
                  gives every score without mitigations (mitigated subjects counted as failing).
                  Without waivers: each waived subject counts as what it was (fail 0, warn 0.5).
- layer score   = mean of its check scores weighted by check severity (critical 10, high 6,
                  medium 3, low 1, info 0.5; posture.yaml `severity_weights` may change them).
- overall score = mean of layer scores weighted by layer weight (1 each unless posture.yaml says).
- grade         = A >= 90, B >= 80, C >= 70, D >= 60, else F.
"""
from __future__ import annotations

SEVERITY_WEIGHTS = {"critical": 10.0, "high": 6.0, "medium": 3.0, "low": 1.0, "info": 0.5}
FORMULA = (
    "check = 100*(passing + mitigated + waived + 0.5*warning)/subjects; "
    "layer = severity-weighted mean of check scores (critical 10, high 6, medium 3, low 1, info 0.5); "
    "overall = layer-weighted mean of layer scores (default weight 1); "
    "grade A>=90, B>=80, C>=70, D>=60, else F; "
    "without mitigations: the same with mitigated subjects counted as failing"
)


def grade(score: float | None) -> str | None:
    if score is None:
        return None
    for limit, g in ((90, "A"), (80, "B"), (70, "C"), (60, "D")):
        if score >= limit:
            return g
    return "F"


def check_score(passing: int, waived: int, warning: int, total: int) -> float | None:
    if total == 0:
        return None
    return round(100.0 * (passing + waived + 0.5 * warning) / total, 2)


def check_score_without_waivers(passing: int, warning: int, waived_warnings: int, total: int) -> float | None:
    """The check's score as if no waiver applied: a waived failure fails, a waived warning warns."""
    if total == 0:
        return None
    return round(100.0 * (passing + 0.5 * (warning + waived_warnings)) / total, 2)


def weighted_mean(pairs: list[tuple[float, float]]) -> float | None:
    """Mean of (value, weight) pairs; None when nothing carries weight."""
    total_w = sum(w for _, w in pairs)
    if total_w <= 0:
        return None
    return round(sum(v * w for v, w in pairs) / total_w, 2)


def layer_score(checks: list[tuple[float | None, str]], severity_weights: dict[str, float] | None = None) -> float | None:
    weights = {**SEVERITY_WEIGHTS, **(severity_weights or {})}
    return weighted_mean([(s, weights[sev]) for s, sev in checks if s is not None])


def overall_score(layers: dict[str, float | None], weights: dict[str, float]) -> float:
    value = weighted_mean([(s, weights.get(layer, 1.0)) for layer, s in layers.items() if s is not None])
    return 0.0 if value is None else value
