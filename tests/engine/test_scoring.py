"""Scoring arithmetic and grades."""
from __future__ import annotations

import pytest

from scanner.engine.runner import CheckOutcome
from scanner.core.model import Result
from scanner.checkapi.registry import CheckSpec
from scanner.engine.report_build import build_checks, build_score
from scanner.engine.scoring import check_score, grade, layer_score, overall_score


@pytest.mark.parametrize("score,expected", [(100, "A"), (90, "A"), (89.99, "B"), (80, "B"), (70, "C"), (60, "D"), (59.9, "F"), (0, "F")])
def test_grades(score, expected):
    assert grade(score) == expected


def test_check_score_counts_waived_as_passing_and_warnings_as_half():
    assert check_score(passing=2, waived=1, warning=2, total=5) == 80.0
    assert check_score(0, 0, 0, 0) is None


def test_layer_score_is_severity_weighted():
    # critical (10) at 0 and low (1) at 100: (0*10 + 100*1) / 11
    assert layer_score([(0.0, "critical"), (100.0, "low")]) == pytest.approx(9.09, abs=0.01)
    assert layer_score([(None, "critical")]) is None


def test_overall_uses_layer_weights_and_skips_layers_without_score():
    assert overall_score({"secrets": 50.0, "nodes": 100.0, "backups": None}, {"secrets": 3}) == 62.5


def _spec(cid, severity):
    return CheckSpec(id=cid, title=cid, severity=severity, rationale="r", remediation="fix", references=(), func=lambda i, o: [])


def test_absent_control_scores_zero_and_statuses_follow_results():
    outs = [
        CheckOutcome(_spec("policy.a", "high"), [Result("fail", "Kyverno", "absent")]),
        CheckOutcome(_spec("policy.b", "low"), [Result("pass", "x", "ok"), Result("warn", "y", "hmm")]),
        CheckOutcome(_spec("policy.c", "low"), []),
        CheckOutcome(_spec("policy.d", "low"), [], error="boom"),
    ]
    checks = build_checks(outs)
    by = {c["id"]: c for c in checks}
    assert by["policy.a"]["status"] == "fail" and by["policy.a"]["score"] == 0.0
    assert by["policy.b"]["status"] == "warn" and by["policy.b"]["score"] == 75.0
    assert by["policy.c"]["status"] == "not_applicable" and by["policy.c"]["score"] is None
    assert by["policy.d"]["status"] == "error"
    score = build_score(checks, {})
    # (0*6 + 75*1) / 7
    assert score["layers"]["policy"]["score"] == pytest.approx(10.71, abs=0.01)
    assert score["layers"]["secrets"]["score"] is None
    assert score["overall"] == pytest.approx(10.71, abs=0.01) and score["grade"] == "F"
