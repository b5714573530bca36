"""A third-party package adds checks by installing an entry point in `gitops_posture.checks`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.support.repos import flux_repo

PLUGIN = '''
from scanner.registry import check
from scanner.results import failed, passed


@check(id="workloads.team-label", title="Workloads carry a team label", severity="low",
       rationale="Ownership makes incidents routable.", remediation="Add metadata.labels.team.",
       references=["https://example.com/team-labels"])
def team_label(inv, options):
    for w in inv.workloads:
        if not w.resource.deployed:
            continue
        ok = "team" in w.resource.labels
        yield (passed if ok else failed)(inv, w.key(), "team label " + ("present" if ok else "missing"), w.resource)


def not_a_check():
    return None
'''


def _install_fake_distribution(site):
    """What pip leaves behind: the module and a dist-info with entry_points.txt."""
    (site / "posture_team").mkdir(parents=True)
    (site / "posture_team" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "posture_team-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: posture-team\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[gitops_posture.checks]\nteam = posture_team\n")
    (site / "broken-1.0.dist-info").mkdir()
    (site / "broken-1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 1.0\n")
    (site / "broken-1.0.dist-info" / "entry_points.txt").write_text("[gitops_posture.checks]\nbroken = no_such_module_xyz\n")


def test_installed_plugin_is_discovered_and_runs(tmp_path):
    site = tmp_path / "site"
    _install_fake_distribution(site)
    repo = flux_repo(tmp_path / "repo", {"media": {"d.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec: {template: {spec: {containers: [{name: web, image: "ghcr.io/x/web:1.0.0"}]}}}
        """}})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    p = subprocess.run([sys.executable, "-m", "scanner", "checks", "list"], capture_output=True, text=True, env=env)
    assert "workloads.team-label" in p.stdout
    assert "no_such_module_xyz" in p.stderr, "a broken plugin is reported, not fatal"
    out = tmp_path / "out"
    p = subprocess.run([sys.executable, "-m", "scanner", "scan", str(repo), "-o", str(out)], capture_output=True,
                       text=True, env=env)
    assert p.returncode == 0, p.stderr
    report = json.loads((out / "posture-report.json").read_text())
    check = next(c for c in report["checks"] if c["id"] == "workloads.team-label")
    assert check["status"] == "fail" and check["findings"][0]["location"]["path"].endswith("d.yaml")
    assert any("no_such_module_xyz" in e["message"] for e in report["errors"])
