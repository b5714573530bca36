"""ScanOptions: one frozen object built at the CLI edge and passed down; no option travels by env."""
from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import pytest

from scanner.core.options import ScanOptions
from scanner.engine.pipeline import select_checks
from scanner.engine.plugins import discover as discover_checks
from tests.support.paths import ROOT
from tests.support.repos import PRIVILEGED_DEPLOYMENT, flux_repo
from tests.support.scanning import scan

PRIV = PRIVILEGED_DEPLOYMENT


def test_options_are_frozen_and_lists_become_tuples():
    o = ScanOptions(path="x", only=["workloads"], exclude=None)
    assert o.only == ("workloads",) and o.exclude == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.path = "y"
    assert o.with_(path="y").path == "y" and o.path == "x"


def test_nothing_in_the_scanner_reads_or_sets_a_posture_environment_variable():
    offenders = []
    for py in [*ROOT.glob("scanner/**/*.py"), *ROOT.glob("checks/*.py"), *ROOT.glob("reports/*.py")]:
        text = py.read_text(encoding="utf-8")
        for m in re.finditer(r"os\.environ\[[^\]]+\]\s*=|POSTURE_[A-Z_]+|os\.environ\.get\(\"SOPS_AGE_KEY_FILE", text):
            offenders.append(f"{py.relative_to(ROOT)}: {m.group()}")
    assert offenders == []


def test_skip_and_only_select_checks():
    specs, _ = discover_checks()
    ids = {s.id for s in select_checks(specs, only=("workloads",), skip=("workloads.no-privileged-containers",))}
    assert ids and all(i.startswith("workloads.") for i in ids)
    assert "workloads.no-privileged-containers" not in ids
    assert {s.id for s in select_checks(specs, skip=("workloads*",))}.isdisjoint(ids)


def test_exclude_globs_leave_files_out_of_discovery(tmp_path):
    repo = flux_repo(tmp_path / "repo", {"media": {"ups.yaml": PRIV}})
    privileged = "workloads.no-privileged-containers"
    full = scan(repo, only=[privileged]).report
    assert [f.status for _, f in full.findings()] == ["fail"]
    left_out = scan(repo, only=[privileged], exclude=["**/ups.yaml"]).report
    assert list(left_out.findings()) == []
    assert left_out.scan.stats["files"] == full.scan.stats["files"] - 1


def test_exclude_from_posture_yaml_and_the_flag_add_up(tmp_path):
    repo = flux_repo(tmp_path / "repo", {"media": {"ups.yaml": PRIV, "two.yaml": PRIV.replace("ups", "two")}})
    (repo / "posture.yaml").write_text("exclude: ['**/ups.yaml']\n")
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "scanner", "scan", str(repo), "--only", "workloads.no-privileged-containers",
                        "--exclude", "**/two.yaml", "--format", "json", "-o", str(out), "-q"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    import json

    report = json.loads((out / "posture-report.json").read_text())
    assert [c["findings"] for c in report["checks"]] == [[]]


def test_the_age_key_reaches_sops_only_through_its_env_argument(monkeypatch, tmp_path):
    from scanner.analysis import sops as sops_mod
    from scanner.analysis.boundedproc import Bounded

    seen = []

    def fake_run(args, **kw):
        seen.append(kw["env"])
        return Bounded(0, b"", b"")

    monkeypatch.setattr(sops_mod, "run_bounded", fake_run)
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    key = tmp_path / "age.key"
    key.write_text("AGE-SECRET-KEY-1...")
    runner = sops_mod.SopsRunner(sys.executable, str(tmp_path), age_key_file=str(key))
    runner.verify("a.sops.yaml")
    runner.filestatus("a.sops.yaml")
    assert seen[0]["SOPS_AGE_KEY_FILE"] == str(key)  # decrypt gets the key
    assert "SOPS_AGE_KEY_FILE" not in seen[1]  # filestatus does not
    import os

    assert "SOPS_AGE_KEY_FILE" not in os.environ  # and the process environment never had it
