"""The review views in a real headless Chromium, asserting what a person sees (issue 17): Fix first
on the first screen and ordered by gain, filters that hide what they filter and live in the URL,
graphs that search, expand and click through to findings, a waiver snippet per finding, a 390 px
phone without sideways scrolling, and print. Screenshots land in out/ (the README's comes from here).
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import pytest

from reports import html
from tests.reports.test_browser import OUT, VISIBLE, browser, chromium, png_pixel  # noqa: F401  (fixtures)
from tests.support.paths import EXAMPLE
from tests.support.reports import make_report

NO_SIDEWAYS = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"

pytestmark = pytest.mark.timeout(300)


def viewport(tab, width: int, height: int) -> None:
    tab.call("Emulation.setDeviceMetricsOverride",
             {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def shot(tab, name: str) -> bytes:
    data = base64.b64decode(tab.call("Page.captureScreenshot", {"format": "png"})["data"])
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_bytes(data)
    return data


def settle(tab, expr: str, want, timeout: float = 5.0):
    """Poll `expr` in the page until it equals `want` (debounced inputs, listeners in later tasks)."""
    end = time.monotonic() + timeout
    got = tab.js(expr)
    while got != want and time.monotonic() < end:
        time.sleep(0.05)
        got = tab.js(expr)
    return got


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    out = tmp_path_factory.mktemp("example")
    p = subprocess.run([sys.executable, "-m", "scanner", "scan", str(EXAMPLE), "--age-key", str(EXAMPLE) + ".agekey",
                        "--format", "html,json", "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads((out / "posture-report.json").read_text()), (out / "posture-report.html").as_uri()


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 100+-app page: 2,000 findings, 250 Flux objects (collapsed per namespace), two clusters."""
    report = make_report(2000, flux_nodes=125, hostile=False)
    for i, f in enumerate(f for c in report["checks"] for f in c["findings"]):
        f["cluster"] = "main" if i % 3 else "lab"
    path = tmp_path_factory.mktemp("big") / "posture-report.html"
    path.write_text(html.render(report, {}), encoding="utf-8")
    return report, path.as_uri()


def test_fix_first_is_on_the_first_screen_and_ordered_by_gain(browser, example):
    report, url = example
    tab = browser.tab()
    viewport(tab, 1280, 900)
    tab.goto(url)
    assert tab.problems() == []
    first = tab.js("(() => { const r = document.querySelector('#fix-first .fix-item').getBoundingClientRect();"
                   " return [r.top, r.bottom, innerHeight]; })()")
    assert 0 < first[0] and first[0] + 60 < first[2], first  # its head and fix line visible without scrolling
    gains = tab.js("[...document.querySelectorAll('#fix-first .fix-item')].map(li => parseFloat(li.dataset.gain))")
    assert 10 <= len(gains) <= 20 and gains == sorted(gains, reverse=True)
    # The item a person reads first: its check, the subjects with file:line, the fix, a way to waive it.
    text = tab.js("document.querySelector('#fix-first .fix-item').innerText")
    assert "Fix:" in text and "subject" in text and "Why it matters" in text
    second = tab.js("document.querySelectorAll('#fix-first .fix-item')[1].innerText")
    assert "subjects" in second and ".yaml:" in second  # grouped: several subjects, each with its file:line
    assert tab.js(NO_SIDEWAYS)
    png = shot(tab, "report-top.png")
    assert png_pixel(png, 4, 4) == (246, 247, 249)


def test_filters_hide_what_they_filter_and_the_url_keeps_the_view(browser, example):
    report, url = example
    tab = browser.tab()
    tab.goto(url)
    for sev in ("high", "medium", "low", "info"):
        tab.js(f"document.querySelector('#filters input[name=s][value={sev}]').click()")
    critical = [(c["id"], c["layer"]) for c in report["checks"] for f in c["findings"]
                if f["severity"] == "critical" and f["status"] in ("fail", "warn")]
    assert critical
    assert tab.js(VISIBLE) == len(critical)
    # Checks and layers with nothing left are hidden, in the summary tables too.
    shown_checks = tab.js("[...document.querySelectorAll('table.checks tr[data-chk]')].filter(r => r.offsetParent)"
                          ".map(r => r.dataset.chk)")
    assert sorted(set(shown_checks)) == sorted({c for c, _ in critical})
    shown_layers = tab.js("[...document.querySelectorAll('section.layer')].filter(s => !s.hidden).map(s => s.dataset.layer)")
    assert sorted(shown_layers) == sorted({l for _, l in critical})
    hash_ = tab.js("location.hash")
    assert hash_ == "#f?s=critical"
    # The same link in a fresh tab shows the same view.
    other = browser.tab()
    other.goto(url + hash_)
    assert other.js(VISIBLE) == len(critical)
    assert other.js("document.getElementById('shown').textContent").startswith(f"Showing {len(critical)} of ")
    # Text search and namespace combine, and land in the URL too.
    other.js("document.querySelector('#filters button[type=reset]').click()")
    ns = next(f["namespace"] for c in report["checks"] for f in c["findings"] if f["namespace"] and f["status"] == "fail")
    other.js(f"(() => {{ const s = document.querySelector('#filters select[name=n]'); s.value = {json.dumps(ns)};"
             " s.dispatchEvent(new Event('change', {bubbles: true})); })()")
    want = sum(1 for c in report["checks"] for f in c["findings"]
               if f["namespace"] == ns and f["status"] in ("fail", "warn", "waived"))
    assert other.js(VISIBLE) == want
    assert f"n={ns}" in other.js("decodeURIComponent(location.hash)")
    assert other.problems() == []


def test_cluster_filter_counts_update(browser, big):
    report, url = big
    tab = browser.tab()
    tab.goto(url + "#f?c=lab")
    lab = sum(1 for c in report["checks"] for f in c["findings"]
              if f.get("cluster") == "lab" and f["status"] in ("fail", "warn", "waived"))
    assert tab.js(VISIBLE) == lab
    high_lab = sum(1 for c in report["checks"] for f in c["findings"] if f.get("cluster") == "lab"
                   and f["severity"] == "high" and f["status"] in ("fail", "warn", "waived"))
    assert tab.js("document.querySelector('[data-facet=\"s:high\"]').textContent") == str(high_lab)


def test_graph_search_expand_and_click_through_to_findings(browser, big):
    report, url = big
    tab = browser.tab()
    viewport(tab, 1280, 900)
    tab.goto(url)
    assert tab.js("document.querySelectorAll('#flux details.fgroup').length") > 3  # collapsed per namespace
    assert tab.js("[...document.querySelectorAll('#flux details.fgroup')].every(d => !d.open)")
    # Search: the matching node is highlighted and its group opened.
    tab.js("document.querySelector('#flux [data-gsearch]').focus()")
    tab.call("Input.insertText", {"text": "app-1/app/helmrelease"})
    hits = settle(tab, "document.querySelectorAll('#flux details.fgroup a.node.hit').length", 1)
    assert hits == 1
    assert tab.js("document.querySelector('#flux details.fgroup a.node.hit').closest('details').open")
    assert tab.js("document.querySelector('#flux [data-ghits]').textContent") == "1 match"
    # Zoom changes the drawing's size, inside its own scroll box.
    before = tab.js("document.querySelector('#flux svg.dag').getBoundingClientRect().width")
    tab.js("document.querySelector('#flux [data-zoom=\"1\"]').click()")
    assert tab.js("document.querySelector('#flux svg.dag').getBoundingClientRect().width") > before * 1.2
    # Click the node: the findings list shows that object's findings, and only those.
    tab.js("document.querySelector('#flux details.fgroup a.node.hit').dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}))")
    key = "HelmRelease/network/app-1"
    assert settle(tab, "decodeURIComponent(location.hash)", f"#f?g={key}") == f"#f?g={key}"
    own = sum(1 for c in report["checks"] for f in c["findings"] if f["status"] in ("fail", "warn", "waived") and (
        ((f.get("resource") or {}).get("kind"), (f.get("resource") or {}).get("name")) == ("HelmRelease", "app-1")
        or (f.get("location") or {}).get("path") == "kubernetes/apps/network/app-1/app/helmrelease.yaml"))
    assert own >= 1
    assert settle(tab, VISIBLE, own) == own
    assert tab.js(f"[...document.querySelectorAll('tr.f:not([hidden])')].every(r => r.dataset.g.split(' ').includes('{key}'))")
    assert tab.js("document.querySelector('.gchip').hidden") is False
    assert tab.js("document.getElementById('findings').getBoundingClientRect().top") < 200  # scrolled there
    # An overview node opens its group.
    tab.js("document.querySelector('#flux .graph > svg a.node.grp').dispatchEvent(new MouseEvent('click', {bubbles: true, cancelable: true}))")
    assert tab.js("[...document.querySelectorAll('#flux details.fgroup')].some(d => d.open)")
    # Both graphs have a table view; the exposure map's hosts link to findings too.
    assert tab.js("document.querySelectorAll('#flux-table tbody tr').length") == len(report["flux_graph"]["nodes"])
    assert tab.js("document.querySelectorAll('#exposure a.node.host').length") == len(report["exposure"])
    assert tab.problems() == []


def test_waiver_snippet_per_finding(browser, example):
    report, url = example
    tab = browser.tab()
    tab.goto(url)
    tab.js("document.querySelector('tr.f[data-t=fail] button.wv').click()")
    snippet = tab.js("document.querySelector('tr.wx pre.snippet').textContent")
    row = tab.js("(() => { const r = document.querySelector('tr.f[data-t=fail]');"
                 " return [r.closest('[data-chk]').dataset.chk, r.dataset.r, r.dataset.fp]; })()")
    assert snippet.startswith(f"waivers:\n  - check: {row[0]}\n    resource: '{row[1]}'\n")
    assert "expires: " in snippet
    assert f"posture waive {row[2]}" in tab.js("document.querySelector('tr.wx').textContent")
    tab.js("document.querySelector('tr.f[data-t=fail] button.wv').click()")
    assert tab.js("document.querySelectorAll('tr.wx').length") == 0


@pytest.mark.parametrize("which", ["example", "big"])
def test_phone_width_has_no_sideways_scroll(browser, example, big, which):
    report, url = example if which == "example" else big
    tab = browser.tab()
    viewport(tab, 390, 844)
    tab.goto(url)
    assert tab.js("document.documentElement.clientWidth") == 390
    assert tab.js(NO_SIDEWAYS), tab.js("document.documentElement.scrollWidth")
    assert tab.js("document.querySelector('#fix-first .fix-item').getBoundingClientRect().right") <= 390
    shot(tab, f"report-390-{which}.png")
    # Wide content scrolls inside its own box, never the page: the graphs and the tables.
    tab.js("document.getElementById('flux').scrollIntoView()")
    assert tab.js(NO_SIDEWAYS)
    shot(tab, f"report-390-{which}-flux.png")


def test_print_keeps_the_review_and_drops_the_controls(browser, example):
    _, url = example
    tab = browser.tab()
    tab.goto(url)
    tab.call("Emulation.setEmulatedMedia", {"media": "print"})
    for sel in ("#filters", ".gtools", "nav.toc"):
        assert tab.js(f"getComputedStyle(document.querySelector('{sel}')).display") == "none", sel
    assert tab.js("getComputedStyle(document.getElementById('fix-first')).display") != "none"
    assert tab.js("getComputedStyle(document.querySelector('button.wv')).display") == "none"
    tab.js("window.dispatchEvent(new Event('beforeprint'))")
    assert tab.js("[...document.querySelectorAll('details')].every(d => d.open)")
    pdf = base64.b64decode(tab.call("Page.printToPDF", {"printBackground": True, "paperWidth": 8.27,
                                                          "paperHeight": 11.69})["data"])
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page") >= 3
    (OUT / "report-review.pdf").write_bytes(pdf)
