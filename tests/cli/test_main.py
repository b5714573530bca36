"""The CLI: every exit code, reports written, progress and summary."""
from __future__ import annotations

import json
import subprocess
import sys

import jsonschema

from scanner.core.model import LAYERS
from scanner.engine.report_schema import SCHEMA_PATH
from tests.support.repos import PRIVILEGED_DEPLOYMENT, flux_repo

SCHEMA = json.loads(SCHEMA_PATH.read_text())
PRIV = PRIVILEGED_DEPLOYMENT


def posture(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_scan_writes_valid_json_and_exits_zero_without_gates(tmp_path):
    repo = flux_repo(tmp_path / "repo", {"media": {"ups.yaml": PRIV}})
    out = tmp_path / "out"
    p = posture("scan", str(repo), "--format", "json", "--output-dir", str(out))
    assert p.returncode == 0, p.stderr
    report = json.loads((out / "posture-report.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert "overall" in p.stdout and "workloads" in p.stdout


def test_gates_exit_one(tmp_path):
    repo = flux_repo(tmp_path / "repo", {"media": {"ups.yaml": PRIV}})
    p = posture("scan", str(repo), "--output-dir", str(tmp_path / "o1"), "--fail-on", "critical")
    assert p.returncode == 1 and "Gate FAIL" in p.stdout
    p = posture("scan", str(repo), "--output-dir", str(tmp_path / "o2"), "--fail-under", "101")
    assert p.returncode == 1
    p = posture("scan", str(repo), "--output-dir", str(tmp_path / "o3"), "--fail-under", "0", "-q")
    assert p.returncode == 0 and p.stdout == "" and p.stderr == ""  # -q: only errors, and there are none
    p = posture("scan", str(repo), "--output-dir", str(tmp_path / "o4"), "--fail-on", "critical", "-q")
    assert p.returncode == 1 and p.stdout == "" and "gate failed" in p.stderr
    rep = json.loads((tmp_path / "o1/posture-report.json").read_text())
    assert rep["gate"]["passed"] is False and rep["gate"]["reasons"]


def test_usage_and_input_errors_exit_two(tmp_path):
    assert posture("scan", str(tmp_path / "missing"), "-o", str(tmp_path / "o")).returncode == 2
    assert posture("scan", str(tmp_path), "--format", "nope", "-o", str(tmp_path / "o")).returncode == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("weights: {nope: 1}\n")
    p = posture("scan", str(tmp_path), "--config", str(bad), "-o", str(tmp_path / "o"))
    assert p.returncode == 2 and "weights.nope" in p.stderr
    assert posture("scan").returncode == 2
    assert posture("checks", "show", "no.such-check").returncode == 2
    assert posture("explain", "no.such-check").returncode == 2
    assert posture("scan", str(tmp_path), "--color", "sometimes").returncode == 2
    assert posture("scan", str(tmp_path), "-o", "-", "--format", "json,html").returncode == 2


def test_only_selects_layers_and_checks(tmp_path):
    repo = flux_repo(tmp_path / "repo", {"media": {"ups.yaml": PRIV}})
    p = posture("scan", str(repo), "-o", str(tmp_path / "o"), "--only", "workloads,secrets.sops-encrypted")
    assert p.returncode == 0
    rep = json.loads((tmp_path / "o/posture-report.json").read_text())
    assert {c["layer"] for c in rep["checks"]} <= {"workloads", "secrets"}
    assert "secrets.sops-encrypted" in {c["id"] for c in rep["checks"]}


def test_checks_catalogue():
    p = posture("checks", "list")
    assert p.returncode == 0 and "secrets.sops-encrypted" in p.stdout
    p = posture("checks", "show", "secrets.sops-encrypted")
    assert p.returncode == 0 and "Why it matters" in p.stdout and "How to fix" in p.stdout and "References" in p.stdout
    assert posture("explain", "secrets.sops-encrypted").stdout == p.stdout
    listing = json.loads(posture("checks", "list", "--json").stdout)
    layers = {c["layer"] for c in listing}
    assert layers == set(LAYERS)


def test_exit_codes_come_from_the_exception_classes(tmp_path):
    from scanner.core import errors

    assert errors.exit_code_for(errors.ConfigError("x")) == errors.EXIT_USAGE == 2
    assert errors.exit_code_for(errors.UsageError("x")) == 2
    for cls in (errors.SourceError, errors.InventoryError, errors.AnalysisError, errors.CheckError,
                errors.EngineError, errors.ReportError):
        assert issubclass(cls, errors.PostureError) and errors.exit_code_for(cls("x")) == errors.EXIT_CANNOT_RUN == 3
    assert errors.exit_code_for(KeyboardInterrupt()) == 130
    # A cluster that cannot be reached: the scan could not run (3), one clear line.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    p = posture("scan", "--cluster", "--kubeconfig", str(kubeconfig), "-o", str(tmp_path / "o"))
    assert p.returncode == 3 and p.stderr.startswith("posture: error: "), p.stderr
    assert "Traceback" not in p.stderr
    # Reports that cannot be written: 3.
    repo = flux_repo(tmp_path / "repo", {"media": {"ups.yaml": PRIV}})
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    p = posture("scan", str(repo), "-o", str(blocker / "out"))
    assert p.returncode == 3 and "cannot write reports" in p.stderr
