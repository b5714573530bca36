"""The scan uses both cores (scanner/twocore.py) for the parse, the checks and the report writing; the
reports must be exactly those of a serial run, including what checks run in the helper record."""
from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest

from scanner import engine, parse, twocore
from scanner.api import scan, write_reports
from tests.support.repos import flux_repo, write

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or twocore.cores() < 2, reason="needs fork and 2 cores")

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "homelab"


def _without_timings(report: dict) -> dict:
    report = dict(report)
    scan_meta = dict(report.pop("scan"))
    for k in ("started_at", "finished_at", "duration_s", "phases"):
        scan_meta.pop(k, None)
    report["scan"] = scan_meta
    return report


@pytest.fixture
def helper_does_all_tasks(monkeypatch):
    """The parent takes no shared task: everything shared runs in (and comes back from) the helper."""
    parent = os.getpid()
    real_take = twocore._take
    monkeypatch.setattr(twocore, "_take", lambda *a, **k: None if os.getpid() == parent else real_take(*a, **k))
    monkeypatch.setattr(engine, "PARALLEL_MIN_DOCUMENTS", 0)
    monkeypatch.setattr(parse, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(twocore, "FORK_MAX_RSS_MIB", 10 ** 6)  # whatever the test process grew to


def test_example_repo_scanned_by_the_helper_equals_a_serial_scan(tmp_path, monkeypatch):
    monkeypatch.setattr(engine, "PARALLEL_MIN_DOCUMENTS", 10 ** 9)
    monkeypatch.setattr(parse, "PARALLEL_MIN_FILES", 10 ** 9)
    serial = scan(str(EXAMPLE)).report
    parent = os.getpid()
    real_take = twocore._take
    monkeypatch.setattr(twocore, "_take", lambda *a, **k: None if os.getpid() == parent else real_take(*a, **k))
    monkeypatch.setattr(engine, "PARALLEL_MIN_DOCUMENTS", 0)
    monkeypatch.setattr(parse, "PARALLEL_MIN_FILES", 0)
    monkeypatch.setattr(twocore, "FORK_MAX_RSS_MIB", 10 ** 6)
    helped = scan(str(EXAMPLE)).report
    assert _without_timings(helped) == _without_timings(serial)
    assert sum(len(c["findings"]) for c in serial["checks"]) > 100


def test_errors_recorded_by_checks_in_the_helper_are_kept_once(tmp_path, helper_does_all_tasks):
    repo = flux_repo(tmp_path / "repo", {"media": {"s.sops.yaml": """
        apiVersion: v1
        kind: Secret
        metadata: {name: s}
        stringData: {TOKEN: ENC[AES256_GCM,data:abc=,iv:abc=,tag:abc=,type:str]}
        sops:
          age: [{recipient: age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq, enc: x}]
          lastmodified: "2026-01-01T00:00:00Z"
          mac: ENC[AES256_GCM,data:abc=,iv:abc=,tag:abc=,type:str]
          version: 3.9.0
        """}})
    write(repo, ".sops.yaml", "creation_rules:\n  - path_regex: '(unclosed'\n    age: age1xyz\n")
    report = scan(str(repo), only=["secrets"]).report
    config_errors = [e for e in report["errors"] if e["kind"] == "config" and ".sops.yaml" in e["message"]]
    assert len(config_errors) == 1, report["errors"]


def test_formats_rendered_in_two_processes_equal_serial_rendering(tmp_path, monkeypatch):
    monkeypatch.setattr(twocore, "FORK_MAX_RSS_MIB", 10 ** 6)
    report = scan(str(EXAMPLE)).report
    formats = ["json", "html", "markdown", "sarif", "junit"]
    write_reports(copy.deepcopy(report), formats, str(tmp_path / "two"))  # (writing adds its own timing)
    monkeypatch.setattr(twocore, "can_fork", lambda: False)
    write_reports(copy.deepcopy(report), formats, str(tmp_path / "one"))
    one, two = sorted(os.listdir(tmp_path / "one")), sorted(os.listdir(tmp_path / "two"))
    assert one == two and len(one) == len(formats)
    for name in one:
        a = (tmp_path / "one" / name).read_bytes()
        b = (tmp_path / "two" / name).read_bytes()
        assert a == b, name
    json.loads((tmp_path / "two" / "posture-report.json").read_text())


def test_a_format_failing_in_the_helper_leaves_no_report_and_no_temp_file(tmp_path, helper_does_all_tasks,
                                                                           monkeypatch):
    from reports import html

    report = scan(str(EXAMPLE)).report
    real = html.write_part

    def broken(report, options, fh, part):  # one part of the page fails; the others render
        if part == "graphs":
            raise RuntimeError("html renderer broke")
        real(report, options, fh, part)

    monkeypatch.setattr(html, "write_part", broken)
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="html renderer broke"):
        write_reports(report, ["json", "html"], str(out))
    assert os.listdir(out) == []  # no report, and none of the parts' temp files
    shutil.rmtree(out)


def test_a_big_process_does_the_checks_and_the_writing_alone(tmp_path, monkeypatch):
    """Above FORK_MAX_RSS_MIB a helper's copied pages would cost more memory than its core saves."""
    monkeypatch.setattr(twocore, "FORK_MAX_RSS_MIB", 10 ** 6)
    assert twocore.fork_affordable()
    monkeypatch.setattr(twocore, "FORK_MAX_RSS_MIB", 0)
    assert not twocore.fork_affordable()
    monkeypatch.setattr(engine, "PARALLEL_MIN_DOCUMENTS", 0)
    monkeypatch.setattr(parse, "PARALLEL_MIN_FILES", 10 ** 9)

    def no_fork(*a, **k):
        raise AssertionError("forked although the process is over the limit")

    monkeypatch.setattr(twocore, "_fork_helper", no_fork)
    run = scan(str(EXAMPLE))
    written = write_reports(run.report, ["json", "html"], str(tmp_path / "out"))
    assert len(written) == 2 and run.report["checks"]


def test_checks_building_on_the_route_analysis_run_in_this_process(helper_does_all_tasks):
    """The report's exposure map reuses the route analysis: checks that build on it run here, so it is
    made once (in the helper it would be made there and again here for the report)."""
    from scanner.config import Config
    from scanner.inventory import build_inventory
    from scanner.model import Document
    from scanner.registry import check
    from scanner.results import passed

    def make(cid: str, builds_on: tuple):
        @check(id=cid, title=cid, severity="low", rationale="r", remediation="f", builds_on=builds_on)
        def run(inv, options):
            yield passed(inv, cid, str(os.getpid()), None)
        return run.__posture_check__

    specs = [make("perimeter.pinned-a", ("routes",)), make("perimeter.free-b", ()),
             make("monitoring.pinned-c", ("routes", "other")), make("gitops.free-d", ("other",))]
    docs = [Document(f"cm{i}.yaml", 1, 0, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}})
            for i in range(10)]
    inv = build_inventory(None, docs, [d.path for d in docs], [])
    outcomes = engine.run_checks(specs, inv, Config())
    ran_in = {o.spec.id: int(o.results[0].message) for o in outcomes}
    assert [o.spec.id for o in outcomes] == [s.id for s in specs]
    assert ran_in["perimeter.pinned-a"] == ran_in["monitoring.pinned-c"] == os.getpid()
    assert ran_in["perimeter.free-b"] != os.getpid() and ran_in["gitops.free-d"] != os.getpid()


def test_the_costliest_checks_start_first(helper_does_all_tasks):
    """On two cores a long check taken last would run alone at the end: the costliest go first."""
    import time

    from scanner.config import Config
    from scanner.inventory import build_inventory
    from scanner.model import Document
    from scanner.registry import check
    from scanner.results import passed

    def make(cid: str, cost: int):
        @check(id=cid, title=cid, severity="low", rationale="r", remediation="f", cost=cost)
        def run(inv, options):
            yield passed(inv, cid, str(time.monotonic_ns()), None)
        return run.__posture_check__

    specs = [make("gitops.a", 1), make("gitops.b", 1), make("monitoring.c", 1), make("workloads.heavy", 10),
             make("workloads.middle", 4)]
    docs = [Document(f"cm{i}.yaml", 1, 0, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"c{i}"}})
            for i in range(10)]
    outcomes = engine.run_checks(specs, build_inventory(None, docs, [d.path for d in docs], []), Config())
    started = sorted((int(o.results[0].message), o.spec.id) for o in outcomes)
    assert [cid for _, cid in started] == ["workloads.heavy", "workloads.middle", "gitops.a", "gitops.b", "monitoring.c"]
    assert [o.spec.id for o in outcomes] == [s.id for s in specs], "outcomes stay in catalogue order"


def test_helpers_are_reaped():
    twocore.share(list(range(50)), lambda t: t + 1)
    twocore.reap_helpers(wait=True)
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # no child left, not even a zombie
