"""`--format prometheus`: parsed back by prometheus_client (OpenMetrics and classic parsers), the
Pushgateway push, and the Grafana dashboard / PrometheusRule only use metrics we emit."""
from __future__ import annotations

import reports.registry

from reports.registry import write_reports

import copy
import http.server
import json
import re
import threading
from datetime import datetime
from pathlib import Path

import pydantic
import pytest
import yaml
from click.testing import CliRunner
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_classic

import scanner.engine.pipeline
from reports import prometheus
from scanner.snapshots import SnapshotError
from scanner.snapshots.push import group_url, push
from tests.support.reports import as_model, render
from tests.support.snapshots import homelab_report
from tests.support.scanning import run_scan
from tests.support.paths import ROOT

MONITORING = ROOT / "deploy" / "monitoring"


def families(text: str, parser=parse_openmetrics) -> dict:
    return {f.name: f for f in parser(text)}


def samples(fam) -> dict:
    return {tuple(sorted((k, v) for k, v in s.labels.items() if k != "source")): s.value for s in fam.samples}


@pytest.fixture
def rep():
    r = homelab_report(started_at="2025-03-01T02:00:00Z", overall=71.25, layers={"secrets": 40.0}, errors=2,
                       duration=3.5)
    r["scan"]["finished_at"] = "2025-03-01T02:00:03.5Z"
    r["score"]["layers"]["backups"].update(score=None, grade=None)  # no applicable check
    return r


def test_openmetrics_text_parses_with_both_parsers(rep):
    text = render(prometheus, rep)
    assert text.endswith("# EOF\n") and text.count("# EOF") == 1
    om, classic = families(text), families(text, parse_classic)
    assert set(om) == set(classic) == {
        "posture_score", "posture_grade_info", "posture_findings", "posture_check_status",
        "posture_scan_duration_seconds", "posture_scan_timestamp_seconds", "posture_scan_errors"}
    assert all(f.type == "gauge" and f.documentation for f in om.values())  # textfile collector: gauges only


def test_values(rep):
    fam = families(render(prometheus, rep))
    score = samples(fam["posture_score"])
    assert score[(("layer", "overall"),)] == 71.25
    assert score[(("layer", "secrets"),)] == 40.0
    assert (("layer", "backups"),) not in score  # null score: no sample rather than 0 or NaN
    assert len(score) == 10  # overall + 9 scored layers
    grades = samples(fam["posture_grade_info"])
    assert grades[(("grade", "C"), ("layer", "overall"))] == 1 and grades[(("grade", "F"), ("layer", "secrets"))] == 1
    findings = samples(fam["posture_findings"])
    assert len(findings) == 50  # every layer x severity, zeros included
    assert findings[(("layer", "secrets"), ("severity", "critical"))] == 1
    assert findings[(("layer", "workloads"), ("severity", "high"))] == 1
    assert findings[(("layer", "workloads"), ("severity", "medium"))] == 1
    assert findings[(("layer", "nodes"), ("severity", "low"))] == 0
    status = samples(fam["posture_check_status"])
    assert status[(("check", "secrets.sops-encrypted"), ("layer", "secrets"), ("status", "fail"))] == 1
    assert status[(("check", "secrets.sops-encrypted"), ("layer", "secrets"), ("status", "pass"))] == 0
    for check in ("secrets.sops-encrypted", "gitops.dependson-resolves"):  # exactly one status is 1
        assert sum(v for k, v in status.items() if ("check", check) in k) == 1
    assert samples(fam["posture_scan_duration_seconds"])[()] == 3.5
    assert samples(fam["posture_scan_timestamp_seconds"])[()] == datetime.fromisoformat(
        "2025-03-01T02:00:03.5+00:00").timestamp()
    assert samples(fam["posture_scan_errors"])[()] == 2
    assert {s.labels["source"] for f in fam.values() for s in f.samples} == {"homelab"}


def test_gate_metric_only_when_gates_ran(rep):
    assert "posture_gate_passed" not in families(render(prometheus, rep))
    rep["gate"] = {"evaluated": True, "passed": False, "reasons": ["x"]}
    assert samples(families(render(prometheus, rep))["posture_gate_passed"])[()] == 0


def test_label_values_come_from_validated_fields(rep):
    # Every label is a layer, severity, status, grade, check id (the model refuses any other shape) or the
    # source slug: a hostile context or check id never reaches the text.
    nasty = 'weird.check"with\\back\nslash'
    bad = copy.deepcopy(rep)
    bad["checks"].append(dict(rep["checks"][0], id=nasty))
    with pytest.raises(pydantic.ValidationError):
        render(prometheus, bad)
    rep["scan"]["sources"] = [{"type": "cluster", "context": 'a"b\\c\nd'}]
    text = render(prometheus, rep)
    for parser in (parse_openmetrics, parse_classic):
        fam = families(text, parser)
        assert {s.labels["source"] for f in fam.values() for s in f.samples} == {"cluster-a-b-c-d"}
        statuses = [s.labels for s in fam["posture_check_status"].samples if s.labels["check"] == rep["checks"][0]["id"]]
        assert {lab["status"] for lab in statuses} == set(prometheus.CHECK_STATUSES)


def test_real_engine_report_renders_and_parses():
    example = ROOT / "examples" / "homelab"
    if not example.is_dir():
        pytest.skip("examples/homelab not present")
    report = run_scan(str(example))
    fam = families(render(prometheus, report))
    assert samples(fam["posture_score"])[(("layer", "overall"),)] == report.score.overall
    statuses = samples(fam["posture_check_status"])
    assert sum(statuses.values()) == len(report.checks)
    open_findings = len(list(report.findings("fail", "warn")))
    assert sum(samples(fam["posture_findings"]).values()) == open_findings


def test_formatter_plugin_contract(tmp_path):
    assert prometheus.FILENAME == "posture-report.prom"  # the textfile collector reads *.prom
    try:
        from reports.registry import formatters
    except ImportError:  # pragma: no cover
        pytest.skip("engine registry missing")
    if "prometheus" not in formatters():
        pytest.skip("package not installed with its entry points")
    written = reports.registry.write_reports(as_model(homelab_report()), ["prometheus"], str(tmp_path))
    assert [Path(w).name for w in written] == ["posture-report.prom"]
    families(Path(written[0]).read_text())


# --- Pushgateway ---------------------------------------------------------------------------------

class _Gateway(http.server.BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_PUT(self):  # noqa: N802 - http.server naming
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        type(self).received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"bad metric" if type(self).status >= 400 else b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    _Gateway.received, _Gateway.status = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Gateway
    server.shutdown()


def test_push_to_gateway(gateway, rep):
    url, handler = gateway
    pushed = push(url + "/", render(prometheus, rep), "homelab")
    assert pushed == f"{url}/metrics/job/gitops-posture/source/homelab"
    path, ctype, body = handler.received[0]
    assert path == "/metrics/job/gitops-posture/source/homelab" and ctype.startswith("text/plain; version=0.0.4")
    assert "# EOF" not in body
    assert "posture_score" in families(body, parse_classic)
    handler.status = 400
    with pytest.raises(SnapshotError, match="answered 400: bad metric"):
        push(url, "x 1\n", "homelab")
    with pytest.raises(SnapshotError, match="http"):
        push("file:///etc/passwd", "x 1\n", "homelab")
    assert group_url("http://gw", "a/b").endswith("/source@base64/YS9i")


def test_snapshot_pushes_and_survives_a_dead_gateway(gateway, tmp_path, monkeypatch):
    from scanner.cli.snapshots import snapshot

    url, handler = gateway
    monkeypatch.setattr(scanner.engine.pipeline, "run_scan", lambda options, config=None, **kw: as_model(homelab_report()))
    runner = CliRunner()
    res = runner.invoke(snapshot, [str(tmp_path), "--archive", str(tmp_path / "arc"), "--pushgateway", url])
    assert res.exit_code == 0, res.output
    assert "pushed metrics to" in res.output and len(handler.received) == 1
    handler.status = 500
    res = runner.invoke(snapshot, [str(tmp_path), "--archive", str(tmp_path / "arc"), "--pushgateway", url])
    assert res.exit_code == 0 and "warning: snapshot stored, but" in res.output
    assert len(list((tmp_path / "arc" / "snapshots").glob("*.json"))) == 2
    res = runner.invoke(snapshot, [str(tmp_path), "--archive", str(tmp_path / "arc"), "--pushgateway", "gw:9091"])
    assert res.exit_code == 2


# --- dashboard and alert rules -------------------------------------------------------------------

METRIC = re.compile(r"\b(posture_[a-z_]+)\b")


def _emitted(rep) -> dict:
    rep = copy.deepcopy(rep)
    rep["gate"] = {"evaluated": True, "passed": True}
    rep["checks"].append({"id": "nodes.x", "title": "x", "layer": "nodes", "severity": "low", "status": "error",
                          "score": None, "error": "boom", "findings": []})
    return families(render(prometheus, rep))


def _label_names(fam) -> set:
    return {k for s in fam.samples for k in s.labels}


def test_dashboard_queries_use_emitted_metrics_and_labels(rep):
    emitted = _emitted(rep)
    dash = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dash["templating"]["list"] if v.get("definition")]
    assert len(exprs) >= 10
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and dash["uid"] == "gitops-posture"
    for expr in exprs:
        names = METRIC.findall(expr)
        assert names, expr
        for name in names:
            assert name in emitted, f"{name} in {expr!r} is never emitted"
        for label in re.findall(r"([a-z_]+)\s*(?:=~|!=|=)\s*\"", expr):
            assert any(label in _label_names(emitted[n]) for n in names), (label, expr)
        for group in re.findall(r"by \(([^)]*)\)", expr):
            for label in (g.strip() for g in group.split(",")):
                assert any(label in _label_names(emitted[n]) for n in names), (label, expr)


def test_prometheus_rule_is_well_formed_and_uses_emitted_metrics(rep):
    emitted = _emitted(rep)
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule"
    rules = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    assert {r["alert"] for r in rules} >= {"PostureScoreLow", "PostureScoreDropped", "PostureCriticalFindings",
                                           "PostureScanStale"}
    for r in rules:
        assert r["labels"]["severity"] in ("critical", "warning", "info")
        assert r["annotations"]["summary"]
        names = METRIC.findall(r["expr"])
        assert names and all(n in emitted for n in names), r["expr"]
        assert r["expr"].count("(") == r["expr"].count(")")
        for group in re.findall(r"by \(([^)]*)\)", r["expr"]):
            for label in (g.strip() for g in group.split(",")):
                assert any(label in _label_names(emitted[n]) for n in names), (label, r["alert"])
    kust = yaml.safe_load((MONITORING / "kustomization.yaml").read_text())
    for res in kust["resources"]:
        assert (MONITORING / res).is_file()
    for gen in kust["configMapGenerator"]:
        for f in gen["files"]:
            assert (MONITORING / f.split("=", 1)[-1]).is_file()
