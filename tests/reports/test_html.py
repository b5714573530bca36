"""The HTML report: escaping of hostile manifest text, self-containment, links, sections, scale."""
from __future__ import annotations

import base64
import copy
import hashlib
import re
import time
from html.parser import HTMLParser

import pytest

from reports import html
from tests.support.reports import COMMIT, IMG, SCRIPT, WEB_URL, make_history, make_report, minimal_report, render


class Page(HTMLParser):
    """Every start tag with its attributes, script bodies, and text with its enclosing tags."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.scripts: list[tuple[dict, str]] = []
        self.texts: list[tuple[tuple[str, ...], str]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "script":
            self.scripts.append((a, ""))
        if tag not in ("meta", "link", "input", "br", "hr", "img", "path", "rect", "circle", "line", "polyline"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "script" and self.scripts:
            a, body = self.scripts[-1]
            self.scripts[-1] = (a, body + data)
        elif data.strip():
            self.texts.append((tuple(self.stack), data))

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())]


@pytest.fixture(scope="module")
def report():
    return make_report(60)


@pytest.fixture(scope="module")
def page_text(report):
    return render(html, report, history=make_history(report))


@pytest.fixture(scope="module")
def page(page_text):
    return Page(page_text)


def test_module_contract():
    assert html.FILENAME == "posture-report.html"
    assert callable(html.render)


def test_hostile_strings_are_escaped(page_text, page):
    assert SCRIPT not in page_text
    assert "<img" not in page_text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page_text
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in page_text
    # The parsed page has exactly one script (ours), no <img>, and no event-handler attribute.
    assert len(page.scripts) == 1 and page.scripts[0][0] == {}
    assert not page.find("img")
    for tag, attrs in page.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
    # The hostile strings survive as visible text, proving they were rendered rather than dropped.
    assert any("<script>alert(1)</script>" in t for _, t in page.texts)
    assert any("onerror=alert(2)" in t for _, t in page.texts)


def test_script_is_pinned_by_csp_hash(page):
    csp = page.find("meta", **{"http-equiv": "Content-Security-Policy"})[0]["content"]
    body = page.scripts[0][1]
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_self_contained_no_remote_resources(page_text, page):
    assert not re.search(r"<script[^>]*\bsrc=", page_text, re.I)
    assert not re.search(r"<img[^>]*src=[\"']?https?:", page_text, re.I)
    for attrs in page.find("link"):
        assert attrs.get("href", "").startswith("data:"), attrs
    assert "@import" not in page_text and "url(http" not in page_text
    # Every http(s) URL is an <a href> or the text of a link; none in any other attribute.
    for tag, attrs in page.tags:
        for k, v in attrs.items():
            if v and re.search(r"https?://", v):
                assert (tag, k) == ("a", "href"), (tag, k, v)
    for stack, text in page.texts:
        if re.search(r"https?://", text):
            assert "a" in stack, text
    assert "xmlns" not in page_text  # inline SVG needs no namespace URL


def test_unsafe_urls_never_become_links(report):
    hostile = copy.deepcopy(report)
    out = render(html, hostile, web_url="javascript:alert(4)//")
    p = Page(out)
    hrefs = [a.get("href", "") for a in p.find("a")]
    assert not any(h.lower().startswith("javascript:") for h in hrefs)
    assert "javascript:alert(3)" in out  # the reference is still shown, as text
    # The bad override is ignored: links fall back to the source's own web_url.
    assert any(h.startswith(f"{WEB_URL}/blob/") for h in hrefs)


def test_file_links_use_web_url_and_commit(report, page):
    f = next(f for c in report["checks"] for f in c["findings"]
             if f["status"] == "fail" and f["location"] and f["location"]["path"].startswith("kubernetes/"))
    want = f"{WEB_URL}/blob/{COMMIT}/{f['location']['path']}#L{f['location']['line']}"
    assert page.find("a", href=want)
    assert page.find("a", href=f"{WEB_URL}/commit/{COMMIT}")
    # Live-cluster locations are shown but never linked.
    assert not any("cluster:" in a.get("href", "") for a in page.find("a"))


def test_web_url_option_overrides_source(report):
    out = render(html, report, web_url="https://gitlab.example.org/me/repo/")
    assert f"https://gitlab.example.org/me/repo/-/blob/{COMMIT}/kubernetes/" in out
    assert f"{WEB_URL}/blob/" not in out


def test_forge_links_per_kind_pinned_and_without_credentials(report):
    r = copy.deepcopy(report)
    src = r["scan"]["sources"][0]
    cases = {
        "https://oauth2:tok3n@gitlab.com/me/repo.git": f"https://gitlab.com/me/repo/-/blob/{COMMIT}/kubernetes/",
        "https://codeberg.org/me/repo": f"https://codeberg.org/me/repo/src/commit/{COMMIT}/kubernetes/",
        "https://git.forgejo.example.net/me/repo": f"https://git.forgejo.example.net/me/repo/src/commit/{COMMIT}/kubernetes/",
        "https://user:secret@github.com/me/repo": f"https://github.com/me/repo/blob/{COMMIT}/kubernetes/",
    }
    for remote, want in cases.items():
        src["web_url"] = remote
        out = render(html, r)
        assert want in out, remote
        assert "tok3n" not in out and "secret@" not in out
    # An unknown forge, or no commit to pin to: the relative path, never a guessed link.
    src["web_url"] = "https://git.example.org/me/repo"
    out = render(html, r)
    assert "git.example.org/me/repo/blob" not in out and "kubernetes/apps/" in out
    src["web_url"], src["commit"], r["scan"]["git_commit"] = WEB_URL, None, None
    assert "/blob/" not in render(html, r)


def test_no_links_without_web_url(report):
    r = copy.deepcopy(report)
    r["scan"]["sources"][0]["web_url"] = None
    out = render(html, r)
    assert "/blob/" not in out


def test_sections_present(page, page_text, report):
    ids = {a.get("id") for _, a in page.tags}
    for section in ("depth", "trend", "findings", "waived", "namespaces", "exposure", "flux", "errors", "scan"):
        assert section in ids, section
    for layer in report["score"]["layers"]:
        assert f"layer-{layer}" in ids
    assert "Gate failed" in page_text
    assert 'class="band' in page_text and "weakest" in page_text
    assert len(page.find("svg")) >= 4  # gauge, exposure, flux, trend


def test_everything_visible_without_js(report, page):
    # The filter form is hidden until the script reveals it; no finding row starts hidden.
    form = [a for t, a in page.tags if t == "form" and a.get("id") == "filters"][0]
    assert "hidden" in form
    rows = [a for t, a in page.tags if t == "tr" and a.get("class") == "f"]
    assert len(rows) == sum(len(c["findings"]) for c in report["checks"])
    assert not any("hidden" in a for a in rows)
    assert all("open" in a for t, a in page.tags if t == "details" and "chk" in a.get("class", "").split())
    # Passing findings are there as evidence, with their status for the filter.
    assert {a["data-t"] for a in rows} == {"fail", "warn", "pass", "waived"}


def test_rows_carry_filter_data(page, report):
    rows = [a for t, a in page.tags if t == "tr" and a.get("class") == "f"]
    assert {a["data-s"] for a in rows} <= {"critical", "high", "medium", "low", "info"}
    assert IMG in {a["data-n"] for a in rows}  # hostile namespace, escaped in the attribute
    namespaces = {a.get("value") for a in page.find("option")}
    assert IMG in namespaces and "*" in namespaces


def test_failing_rows_come_before_passing(page_text):
    block = page_text.split('id="chk-perimeter.check-0"')[1].split("</details>")[0]
    statuses = re.findall(r'<tr class="f" data-s="\w+" data-t="(\w+)"', block)
    order = {"fail": 0, "warn": 1, "pass": 2}
    assert statuses == sorted(statuses, key=order.__getitem__)


def test_waived_findings_shown_apart(page_text, report):
    main, waived = page_text.split('id="waived"', 1)
    assert 'data-t="waived"' not in main
    n_waived = sum(1 for c in report["checks"] for f in c["findings"] if f["status"] == "waived")
    assert waived.count('data-t="waived"') == n_waived
    assert "2030-01-01" in waived and "days left" in waived and "expired" in waived


def test_flux_nodes_coloured_by_findings(page, report):
    groups = [a for t, a in page.tags if t == "a" and "node" in a.get("class", "").split()]
    flux_nodes = [a for a in groups if {"ks", "hr"} & set(a["class"].split())]
    assert len(flux_nodes) == len(report["flux_graph"]["nodes"])
    assert any("n-high" in a["class"] for a in flux_nodes)  # HelmRelease network/app-1 has a high finding
    assert any("suspended" in a["class"] for a in flux_nodes)


def test_exposure_marks_unauthenticated_external(page_text):
    assert 'class="node host open-ext"' in page_text
    assert 'class="node host auth"' in page_text


def test_exposure_auth_shapes(page_text):
    # String mechanism, the engine's AuthInfo dict (provider:mechanism), and a provider not accepted.
    assert "authentik:envoy-extauth" in page_text
    assert "authentik:envoy-ext-auth" in page_text and "ClusterPolicy &lt;script&gt;" in page_text
    assert 'class="node host auth-weak"' in page_text and "provider not accepted" in page_text
    assert "(route-7)" in page_text and "binds on the node" in page_text  # null host falls back to the name


def test_trend_only_with_history(report, page):
    assert any(a.get("class") == "trend" for t, a in page.tags if t == "svg")
    out = render(html, report)
    assert 'class="trend"' not in out


def test_minimal_report_renders():
    out = render(html, minimal_report())
    assert "<html" in out and "GitOps security posture" in out


def test_five_thousand_findings_render_fast_and_lean():
    big = make_report(5000, flux_nodes=150)
    start = time.perf_counter()
    out = render(html, big, history=make_history(big, 30))
    elapsed = time.perf_counter() - start
    assert elapsed < 10, elapsed
    assert out.count('<tr class="f"') == 5001
    # ~0.7 KB a finding with long hostile strings and links; no per-row scripts or handlers.
    assert len(out) < 5_000_000, len(out)
    assert out.count("<script") == 1


def test_compiled_templates_are_kept_between_runs_and_change_nothing(report, tmp_path, monkeypatch):
    """With a template cache directory jinja stores the compiled templates there (its own bytecode
    cache) and the page is byte-identical; without one nothing is written."""
    from reports.interface import RenderOptions

    monkeypatch.setattr(html, "INSTALLED_TEMPLATE_CACHE", tmp_path / "no-set-up-cache")
    html._env.cache_clear()

    cache = tmp_path / "templates"
    cached = html.render(report, RenderOptions(template_cache_dir=str(cache)))
    files = sorted(p.name for p in cache.iterdir())
    assert files and all(name.startswith("__jinja2_") for name in files)
    html._env.cache_clear()  # a new process: the compiled templates now come from the directory
    assert html.render(report, RenderOptions(template_cache_dir=str(cache))) == cached
    assert sorted(p.name for p in cache.iterdir()) == files
    assert cached == html.render(report, RenderOptions())


def test_templates_compiled_at_set_up_are_read_and_never_written(report, tmp_path, monkeypatch):
    """`python -m reports.compile_templates` fills the set-up's cache; a scan with an empty per-user
    cache then compiles nothing (its directory stays empty) and renders the same page. A stale entry
    (a template edited since: its source's checksum differs) is compiled again from the source, into
    the user's cache only."""
    import io
    import pickle

    import jinja2.bccache

    from reports.compile_templates import compile_templates
    from reports.interface import RenderOptions

    installed = tmp_path / "installed"
    names = sorted(p.name for p in html.TEMPLATES.glob("*.j2"))
    html._env.cache_clear()
    assert compile_templates(installed) == names
    compiled = sorted(p.name for p in installed.iterdir())
    assert len(compiled) == len(names)

    monkeypatch.setattr(html, "INSTALLED_TEMPLATE_CACHE", installed)
    html._env.cache_clear()
    expected = html.render(report, RenderOptions())
    user = tmp_path / "user"
    html._env.cache_clear()
    env = html._env(str(user))
    for name in names:
        env.get_template(name)
    assert list(user.iterdir()) == []  # everything came from the set-up's cache

    victim = installed / compiled[0]
    stream = io.BytesIO(victim.read_bytes())
    assert stream.read(len(jinja2.bccache.bc_magic)) == jinja2.bccache.bc_magic
    pickle.load(stream)  # the source checksum jinja stored
    victim.write_bytes(jinja2.bccache.bc_magic + pickle.dumps("0" * 40, 2) + stream.read())
    before = victim.read_bytes()
    html._env.cache_clear()
    env = html._env(str(user))
    for name in names:
        env.get_template(name)
    assert len(list(user.iterdir())) == 1  # only the stale template was compiled, into the user's cache
    assert victim.read_bytes() == before  # the set-up's cache is read, never written
    html._env.cache_clear()
    assert html.render(report, RenderOptions(template_cache_dir=str(user))) == expected
    html._env.cache_clear()


def test_compiling_the_templates_where_it_cannot_write_does_not_fail_the_set_up(tmp_path, capsys):
    """`make` runs it on every set-up: a read-only installation keeps working (scans compile the
    templates into the user's cache instead)."""
    from reports import compile_templates

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    html._env.cache_clear()
    assert compile_templates.main([str(blocker / "cache")]) == 0
    assert "not compiled" in capsys.readouterr().err
    html._env.cache_clear()
