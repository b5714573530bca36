"""Report rendering at scale: precompiled templates never stale, streamed output == rendered output,
large JSON compact but the same value and schema-valid."""
from __future__ import annotations

import io
import json
from pathlib import Path

import jinja2
import jsonschema
import pytest
from conftest_reports import make_history, make_report

from reports import html, json_report, precompile, registry

SCHEMA = Path(__file__).resolve().parent.parent / "reports" / "schema" / "report.schema.json"


def test_precompiled_templates_are_current():
    # `make` regenerates them (python -m reports.precompile); a stale one would only cost speed.
    assert precompile.main(["--check"]) == 0


def test_precompiled_module_used_only_for_the_exact_source():
    env = html._env()
    name = "report.html.j2"
    source = (precompile.TEMPLATES / name).read_text(encoding="utf-8")
    assert precompile.load(env, name, source) is not None
    assert precompile.load(env, name, source + "{# edited #}") is None
    assert precompile.load(env, "missing.html.j2", source) is None


def test_edited_template_is_compiled_from_source(tmp_path, monkeypatch):
    for p in precompile.TEMPLATES.iterdir():
        if p.is_file():
            (tmp_path / p.name).write_bytes(p.read_bytes())
    page = tmp_path / "report.html.j2"
    page.write_text(page.read_text(encoding="utf-8").replace("GitOps security posture", "EDITED posture"),
                    encoding="utf-8")
    env = jinja2.Environment(loader=html._Loader(str(tmp_path)), autoescape=True, undefined=jinja2.ChainableUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.globals.update(html._env().globals)
    out = env.get_template("report.html.j2").render(html._context(make_report(10), {}))
    assert "EDITED posture" in out


def test_precompiled_and_source_compiled_render_the_same():
    report = make_report(200)
    options = {"history": make_history(report)}
    env = html._env()
    plain = jinja2.Environment(loader=jinja2.FileSystemLoader(str(precompile.TEMPLATES)), autoescape=True,
                               undefined=jinja2.ChainableUndefined, trim_blocks=True, lstrip_blocks=True)
    plain.globals.update(env.globals)
    expected = plain.get_template("report.html.j2").render(html._context(report, options))
    assert html.render(report, options) == expected


@pytest.mark.parametrize("n", [0, 60, 3000])
def test_streamed_html_equals_rendered(n):
    report = make_report(n, flux_nodes=40)
    options = {"history": make_history(report)}
    fh = io.StringIO()
    html.write(report, options, fh)
    assert fh.getvalue() == html.render(report, options)


@pytest.mark.parametrize("n", [60, json_report.COMPACT_FROM_FINDINGS + 1])
def test_json_streamed_equals_rendered_and_is_valid(n):
    report = make_report(n)
    text = json_report.render(report, {})
    fh = io.StringIO()
    json_report.write(report, {}, fh)
    assert fh.getvalue() == text and text.endswith("\n")
    assert json.loads(text) == json.loads(json.dumps(report))
    jsonschema.validate(json.loads(text), json.loads(SCHEMA.read_text()))
    compact = n >= json_report.COMPACT_FROM_FINDINGS
    assert (text.count("\n") == 1) is compact


def test_staged_formats_move_into_place_together(tmp_path):
    report = make_report(30)
    staged = []
    for fmt in ("json", "html", "markdown"):
        filename, render = registry.load(fmt)
        staged.append(registry.stage(str(tmp_path / filename), render, report, {}))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(t).name for t, _ in staged)
    written = registry.commit_staged(staged)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(w).name for w in written)
    assert (tmp_path / "posture-report.html").read_text(encoding="utf-8") == html.render(report, {})


def test_failed_stage_leaves_nothing(tmp_path):
    def broken(report, options):
        raise RuntimeError("boom")

    broken.__module__ = "reports.markdown"  # a module without write(): render is called
    with pytest.raises(RuntimeError):
        registry.stage(str(tmp_path / "x.md"), broken, make_report(5), {})
    assert not list(tmp_path.iterdir())


def test_prepare_loads_every_template_before_the_render():
    """`posture scan` prepares its formats while the repo is parsed: afterwards the render loads nothing."""
    html._env.cache_clear()
    registry.prepare("html")
    loaded = {key[1] for key in html._env().cache.keys()}
    assert loaded == {p.name for p in html.TEMPLATES.glob("*.j2")} and "report.html.j2" in loaded
    registry.prepare("json")  # a format without prepare(): only its module is loaded
    report = make_report(10)
    assert html.render(report, {}) == "".join(html._env().get_template("report.html.j2").generate(html._context(report, {})))
