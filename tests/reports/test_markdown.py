"""Markdown PR comment: bounded size however large the scan, inert manifest text."""
from __future__ import annotations

import re

import pytest

from reports import markdown
from scanner.core.model import SEVERITIES
from tests.support.reports import make_report, render


@pytest.fixture(scope="module")
def small():
    return render(markdown, make_report(60))


def test_module_contract():
    assert markdown.FILENAME == "posture-report.md"


def test_summary_parts(small):
    assert small.startswith("## ")
    assert "/100 · grade" in small
    assert "**Gate: ❌ failed**" in small and "fail under 80.0" in small
    assert "| Layer | Grade | Score |" in small
    for layer in ("perimeter", "monitoring"):
        assert f"| {layer} |" in small or f"**{layer}**" in small
    assert "### Top findings" in small


def test_top_findings_sorted_by_severity(small):
    sev = re.findall(rf"^\| \S+ ({'|'.join(SEVERITIES)})", small, re.M)
    assert sev and sev == sorted(sev, key=SEVERITIES.index)


def test_hostile_text_is_inert(small):
    assert "<script" not in small and "<img" not in small
    assert "&lt;script&gt;" in small
    # Table rows keep their shape: no unescaped pipe inside a cell.
    for line in small.splitlines():
        if line.startswith("| ") and "Severity" not in line:
            assert len(re.findall(r"(?<!\\)\|", line)) in (6, 9), line


def test_mentions_do_not_ping():
    r = make_report(3, hostile=False)
    r["checks"][0]["findings"][0].update(status="fail", message="ping @octocat and @org/team")
    out = render(markdown, r)
    assert "@octocat" not in out and "&#64;octocat" in out


def test_twenty_thousand_findings_stay_under_the_limit():
    out = render(markdown, make_report(20000, flux_nodes=2), max_findings=100_000)
    assert len(out) < 65_000
    assert "more open findings are not listed here" in out
    default = render(markdown, make_report(20000, flux_nodes=2))
    assert len(default) < 65_000 and "Top findings (50 of" in default


def test_clean_scan():
    r = make_report(0, hostile=False)
    for c in r["checks"]:
        c["findings"] = []
    out = render(markdown, r)
    assert "No open findings" in out
