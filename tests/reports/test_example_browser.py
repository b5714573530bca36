"""The bundled example repo's real report, scanned by the CLI in one run with several formats, opened
from disk in headless Chromium: clean console, no network, working filters, a screenshot in out/."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.reports.test_browser import OUT, VISIBLE, browser, chromium  # noqa: F401  (fixtures)
from tests.support.paths import EXAMPLE


pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def example_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("example-report")
    p = subprocess.run([sys.executable, "-m", "scanner", "scan", str(EXAMPLE), "--format", "html,json,sarif",
                        "--output-dir", str(out), "--fail-on", "critical"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stderr  # the example has critical gaps on purpose: the gate fails
    assert {f.name for f in out.iterdir()} >= {"posture-report.html", "posture-report.json", "posture-report.sarif"}
    report = json.loads((out / "posture-report.json").read_text())
    return report, (out / "posture-report.html").as_uri()


def test_example_report_in_a_real_browser(browser, example_report):  # noqa: F811
    report, url = example_report
    tab = browser.tab()
    tab.goto(url)
    total = sum(len(c["findings"]) for c in report["checks"])
    open_rows = sum(1 for c in report["checks"] for f in c["findings"] if f["status"] in ("fail", "warn", "waived"))
    assert tab.js("document.documentElement.dataset.ready") == str(total)
    assert tab.problems() == [], "no console message, exception or CSP violation"
    assert [u for u in tab.requests() if not u.startswith(("file:", "data:"))] == [], "no network request"
    assert tab.js(VISIBLE) == open_rows
    # A reviewer narrows to critical findings: fewer rows, and the count line follows.
    for sev in ("high", "medium", "low", "info"):
        tab.js(f"document.querySelector('#filters input[name=s][value={sev}]').click()")
    critical = sum(1 for c in report["checks"] for f in c["findings"]
                   if f["status"] in ("fail", "warn", "waived") and f["severity"] == "critical")
    assert 0 < critical < open_rows
    assert tab.js(VISIBLE) == critical
    assert tab.js("document.getElementById('shown').textContent").startswith(f"Showing {critical} of ")
    tab.js("document.querySelector('#filters button[type=reset]').click()")
    png = tab.screenshot(OUT / "example-report.png", height=2200)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (OUT / "example-report.png").stat().st_size > 10_000
