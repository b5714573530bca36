"""The snapshot/history commands, their wiring into `posture`, and `posture scan --baseline` exit codes."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import reports.registry
from scanner.cli.snapshots import COMMANDS, history, snapshot
from scanner.core.errors import ConfigError
import scanner.engine.pipeline
from scanner.snapshots import archive as arc
from scanner.snapshots.signing import keygen, load_public_key, verify_file
from tests.support.paths import EXAMPLE
from tests.support.reports import as_model
from tests.support.snapshots import homelab_report


@pytest.fixture
def fake_scan(monkeypatch):
    calls = []
    reports = iter([homelab_report(started_at=f"2025-03-0{d}T02:00:00Z", overall=60.0 + d) for d in range(1, 10)])

    def run_scan(options, config=None, **kw):
        calls.append((options, config))
        return as_model(next(reports))

    monkeypatch.setattr(scanner.engine.pipeline, "run_scan", run_scan)
    return calls


def test_commands_are_exported_for_the_main_group():
    assert [c.name for c in COMMANDS] == ["snapshot", "history", "verify", "keygen", "diff", "snapshots"]
    try:
        import click
        from scanner.cli.main import main
    except ImportError:  # pragma: no cover
        pytest.skip("engine CLI missing")
    with click.Context(main) as ctx:
        for cmd in COMMANDS:
            assert main.get_command(ctx, cmd.name) is cmd


def test_snapshot_stores_signs_and_passes_scan_options(tmp_path, fake_scan):
    key, pub = keygen(str(tmp_path / "k"))
    repo = tmp_path / "repo"
    repo.mkdir()
    cfg = tmp_path / "posture.yaml"
    cfg.write_text("{}")
    runner = CliRunner()
    res = runner.invoke(snapshot, [str(repo), "--archive", str(tmp_path / "arc"), "--sign-key", str(key),
                                   "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "stored" in res.output and "score 61.0 (D)" in res.output and "signed" in res.output
    key_file = tmp_path / "arc" / "fingerprint.key"
    options, config = fake_scan[0]
    assert (options.path, options.cluster, options.kubeconfig, options.context) == (str(repo), False, None, None)
    assert options.config_path == config.path == str(cfg)
    assert options.fingerprint_key == bytes.fromhex(key_file.read_text().strip())
    snap = tmp_path / "arc" / "snapshots" / "20250301T020000Z-homelab.json"
    assert verify_file(snap, load_public_key(pub)).status == "valid"

    res = runner.invoke(snapshot, ["--cluster", "--context", "prod", "--archive", str(tmp_path / "arc")])
    assert res.exit_code == 0, res.output
    options, config = fake_scan[1]
    assert (options.path, options.cluster, options.context, options.config_path) == (None, True, "prod", None)
    assert options.fingerprint_key == bytes.fromhex(key_file.read_text().strip())


def test_snapshot_exit_codes(tmp_path, fake_scan, monkeypatch):
    runner = CliRunner()
    # a bad key fails before scanning
    (tmp_path / "bad.key").write_text("nope")
    res = runner.invoke(snapshot, [str(tmp_path), "--archive", str(tmp_path / "arc"), "--sign-key",
                                   str(tmp_path / "bad.key")])
    assert res.exit_code == 2 and "cannot load signing key" in res.output and fake_scan == []
    # --format without --output-dir is a usage error
    res = runner.invoke(snapshot, [str(tmp_path), "--archive", str(tmp_path / "arc"), "--format", "prometheus"])
    assert res.exit_code == 2
    # scan input errors are exit 2, like `posture scan`
    def broken(*args, **kw):
        raise ConfigError("invalid configuration: weights.x must be a number")

    monkeypatch.setattr(scanner.engine.pipeline, "run_scan", broken)
    res = runner.invoke(snapshot, [str(tmp_path), "--archive", str(tmp_path / "arc")])
    assert res.exit_code == 2 and "weights.x" in res.output


def test_snapshot_writes_extra_formats(tmp_path, fake_scan, monkeypatch):
    written = []

    def write_reports(report, formats, output_dir, options=None):
        written.append((formats, output_dir))
        return [str(Path(output_dir) / "posture-report.prom")]

    monkeypatch.setattr(reports.registry, "write_reports", write_reports)
    res = CliRunner().invoke(snapshot, [str(tmp_path), "--archive", str(tmp_path / "arc"), "--format",
                                        "prometheus, json", "--output-dir", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert written == [(["prometheus", "json"], str(tmp_path / "out"))]


def test_history_text_and_json(tmp_path, fake_scan):
    runner = CliRunner()
    key, _ = keygen(str(tmp_path / "k"))
    for i in range(3):
        args = [str(tmp_path), "--archive", str(tmp_path / "arc")] + (["--sign-key", str(key)] if i == 2 else [])
        assert runner.invoke(snapshot, args).exit_code == 0
    res = runner.invoke(history, ["--archive", str(tmp_path / "arc")])
    assert res.exit_code == 0
    lines = res.output.splitlines()
    assert lines[0].split() == ["SNAPSHOT", "SCORE", "CHANGE", "GRADE", "CRIT", "HIGH", "SIGNED"]
    assert lines[1].split() == ["20250301T020000Z-homelab.json", "61.0", "D", "1", "2", "no"]
    assert lines[3].split() == ["20250303T020000Z-homelab.json", "63.0", "+1.0", "D", "1", "2", "yes"]
    res = runner.invoke(history, ["--archive", str(tmp_path / "arc"), "--format", "json"])
    data = json.loads(res.output)
    assert [e["overall"] for e in data] == [61.0, 62.0, 63.0]
    assert set(data[0]) >= {"file", "started_at", "source", "overall", "grade", "layers", "signed", "sha256"}
    res = runner.invoke(history, ["--archive", str(tmp_path)])
    assert res.exit_code == 2 and "not a snapshot archive" in res.output


def test_real_snapshot_of_the_example_repo(tmp_path):
    if not EXAMPLE.is_dir():
        pytest.skip("examples/homelab not present")
    key, pub = keygen(str(tmp_path / "k"))
    runner = CliRunner()
    for _ in range(2):
        res = runner.invoke(snapshot, [str(EXAMPLE), "--archive", str(tmp_path / "arc"), "--sign-key", str(key)])
        assert res.exit_code == 0, res.output
    entries = arc.entries(tmp_path / "arc")
    assert len(entries) == 2 and all(e["source"] == "homelab" for e in entries)
    assert entries[0]["overall"] == entries[1]["overall"]
    for e in entries:
        assert verify_file(tmp_path / "arc" / e["file"], load_public_key(pub)).status == "valid"


# --- `posture scan --baseline` (the engine's command, gating through baseline_gate) ----------------

@pytest.fixture(scope="module")
def posture():
    cli = pytest.importorskip("scanner.cli.main")
    from reports.registry import formatters

    if "json" not in formatters():
        pytest.skip("package not installed (no formatter entry points)")
    if not EXAMPLE.is_dir():
        pytest.skip("examples/homelab not present")
    return cli.main


def _scan(posture, tmp_path, *args):
    return CliRunner().invoke(posture, ["scan", str(EXAMPLE), "--output-dir", str(tmp_path / "out"), "-q", *args])


def test_scan_baseline_exit_codes(posture, tmp_path):
    first = _scan(posture, tmp_path)
    assert first.exit_code == 0, first.output
    report = json.loads((tmp_path / "out" / "posture-report.json").read_text())
    base = tmp_path / "base.json"
    base.write_text(json.dumps(report))
    # the same repo again: nothing is new, the gate holds even though the repo has findings
    assert _scan(posture, tmp_path, "--baseline", str(base), "--fail-on-new", "info").exit_code == 0

    # a baseline from before a failing finding existed: that finding is new -> exit 1
    failing = next((c, f) for c in report["checks"] for f in c["findings"] if f["status"] == "fail")
    older = copy.deepcopy(report)
    for c in older["checks"]:
        if c["id"] == failing[0]["id"]:
            c["findings"] = [f for f in c["findings"] if f["fingerprint"] != failing[1]["fingerprint"]]
    base.write_text(json.dumps(older))
    res = _scan(posture, tmp_path, "--baseline", str(base), "--fail-on-new", "info")
    assert res.exit_code == 1, res.output
    gate = json.loads((tmp_path / "out" / "posture-report.json").read_text())["gate"]
    assert not gate["passed"] and any("new finding" in r for r in gate["reasons"])

    # score drop beyond the allowance -> 1, within -> 0
    higher = copy.deepcopy(report)
    higher["score"]["overall"] = report["score"]["overall"] + 10
    base.write_text(json.dumps(higher))
    assert _scan(posture, tmp_path, "--baseline", str(base), "--max-score-drop", "5").exit_code == 1
    assert _scan(posture, tmp_path, "--baseline", str(base), "--max-score-drop", "15").exit_code == 0

    # an unreadable baseline is an input error -> 2
    base.write_text("{not json")
    assert _scan(posture, tmp_path, "--baseline", str(base), "--fail-on-new", "high").exit_code == 2
    assert _scan(posture, tmp_path, "--baseline", str(tmp_path / "missing.json"),
                 "--fail-on-new", "high").exit_code == 2
