"""Formats rendered in parts (reports.registry.parts_of): the parts, rendered separately (in any
order, by either process) and joined, are byte for byte the format's whole output."""
from __future__ import annotations

import copy
import io
import json
import os
from pathlib import Path

import jinja2
import pytest
from conftest_reports import make_history, make_report

from reports import html, json_report, registry
from scanner.api import write_reports



def _by_parts(module, report: dict, options: dict) -> str:
    parts = registry.parts_of(module.render, report)
    assert parts, "renders in parts"
    out = []
    for name, _ in reversed(parts):  # rendered out of order, joined in order
        fh = io.StringIO()
        module.write_part(report, options, fh, name)
        out.append(fh.getvalue())
    return "".join(reversed(out))


@pytest.mark.parametrize("n_findings", [0, 60, 900])
def test_html_parts_joined_are_the_page(n_findings):
    report = make_report(n_findings)
    options = {"history": make_history(report)}
    assert _by_parts(html, report, options) == html.render(report, options)
    assert [name for name, _ in html.PARTS] == ["main", "graphs", "tail"]


def test_each_html_part_builds_only_its_own_context(monkeypatch):
    """A part rendered by the helper costs only its own work: the graphs part never builds the finding
    rows, the main part never lays out the graphs."""
    report = make_report(60)

    def must_not_run(*a, **k):
        raise AssertionError("built for a part that does not show it")

    for name, guarded in (("graphs", ("_sections", "_trend")), ("main", ("_exposure", "_flux", "_matrix")),
                          ("tail", ("_sections", "_exposure", "_flux", "_matrix"))):
        with monkeypatch.context() as m:
            for fn in guarded:
                m.setattr(html, fn, must_not_run)
            html.write_part(report, {}, io.StringIO(), name)


def test_html_table_of_contents_links_the_other_parts_sections():
    report = make_report(60)
    main = io.StringIO()
    html.write_part(report, {}, main, "main")
    graphs = io.StringIO()
    html.write_part(report, {}, graphs, "graphs")
    for anchor in ("namespaces", "exposure", "flux"):
        assert f'href="#{anchor}"' in main.getvalue()
        assert f'id="{anchor}"' in graphs.getvalue()
    empty = dict(report, namespaces={}, exposure=[], flux_graph={"nodes": [], "edges": []})
    main = io.StringIO()
    html.write_part(empty, {}, main, "main")
    for anchor in ("namespaces", "exposure", "flux"):
        assert f'href="#{anchor}"' not in main.getvalue()


def test_large_json_parts_joined_are_the_compact_document():
    report = make_report(900)
    assert [name for name, _ in json_report.PARTS(report)] == ["first", "second", "tail"]
    text = _by_parts(json_report, report, {})
    assert text == json.dumps(report, ensure_ascii=False, separators=(",", ":")) + "\n"


def test_small_json_is_one_indented_part():
    report = make_report(20)
    assert json_report.PARTS(report) == (("all", 2),)
    assert _by_parts(json_report, report, {}) == json_report.render(report, {})


@pytest.mark.parametrize("sizes", [[600], [0, 600], [600, 0], [300, 300], [1, 1, 598], [598, 1, 1], []])
def test_json_halves_split_anywhere(sizes):
    checks = [{"id": f"c{i}", "findings": [{"n": j} for j in range(n)]} for i, n in enumerate(sizes)]
    for report in ({"a": 1, "checks": checks, "z": [1]}, {"checks": checks}):
        if sum(sizes) < json_report.COMPACT_FROM_FINDINGS:
            report = dict(report, checks=checks + [{"id": "pad", "findings": [{}] * 600}])
        first, second = json_report._halves(report["checks"])
        assert first + second == report["checks"]
        fh = io.StringIO()
        json_report.write(report, {}, fh)
        assert fh.getvalue() == json.dumps(report, ensure_ascii=False, separators=(",", ":")) + "\n"


def test_join_parts_appends_in_order_and_removes_the_rest(tmp_path, monkeypatch):
    def files(prefix: str, contents: list[bytes]) -> list[str]:
        paths = []
        for i, data in enumerate(contents):
            path = tmp_path / f"{prefix}{i}"
            path.write_bytes(data)
            paths.append(str(path))
        return paths

    a = files("a", [b"<head>", b"x" * 3_000_000, b"", b"</tail>"])
    b = files("b", [b"{", b"1" * 70_000, b"}"])
    registry.join_parts([a, b])  # two formats: joined side by side
    assert Path(a[0]).read_bytes() == b"<head>" + b"x" * 3_000_000 + b"</tail>"
    assert Path(b[0]).read_bytes() == b"{" + b"1" * 70_000 + b"}"
    assert sorted(os.listdir(tmp_path)) == ["a0", "b0"]

    def unsupported(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", unsupported, raising=False)
    c = files("c", [b"one ", b"two " * 300_000, b"three"])
    registry.join_parts([c])  # the kernel copy refused: copied by reads and writes
    assert Path(c[0]).read_bytes() == b"one " + b"two " * 300_000 + b"three"


def test_join_parts_failure_is_raised(tmp_path):
    good = tmp_path / "g0"
    good.write_text("a")
    with pytest.raises(FileNotFoundError):
        registry.join_parts([[str(good)], [str(tmp_path / "missing0"), str(tmp_path / "missing1")]])


def test_write_reports_in_parts_matches_the_whole_render(tmp_path):
    report = make_report(900, hostile=True)
    before = copy.deepcopy(report)  # (write_reports adds its own time to the report afterwards)
    written = write_reports(report, ["json", "html"], str(tmp_path))
    assert sorted(os.path.basename(p) for p in written) == ["posture-report.html", "posture-report.json"]
    assert sorted(os.listdir(tmp_path)) == ["posture-report.html", "posture-report.json"]  # no part left over
    assert (tmp_path / "posture-report.html").read_text(encoding="utf-8") == html.render(before, {})
    assert (tmp_path / "posture-report.json").read_text(encoding="utf-8") == json_report.render(before, {})


def test_template_dot_access_reads_dict_keys_first_and_falls_back_as_jinja_does():
    env = html._env()
    tpl = env.from_string("{{ d.title }}|{{ d.missing }}|{% for k, v in d.stats.items() %}{{ k }}={{ v }}{% endfor %}"
                          "|{{ d.items }}|{{ o.real }}")
    out = tpl.render(d={"title": "<b>", "stats": {"a": 1}, "items": "key wins"}, o=3)
    assert out == "&lt;b&gt;||a=1|key wins|3"
    plain = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined)
    same = plain.from_string("{{ d.title }}|{{ d.missing }}|{% for k, v in d.stats.items() %}{{ k }}={{ v }}{% endfor %}"
                             "|{{ o.real }}").render(d={"title": "<b>", "stats": {"a": 1}}, o=3)
    assert same == "&lt;b&gt;||a=1|3"
