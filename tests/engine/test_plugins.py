"""A third-party package adds checks by installing an entry point in `gitops_posture.checks`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.support.repos import flux_repo

PLUGIN = '''
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed


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
    assert any(e["code"] == "plugin-load-failed" and "no_such_module_xyz" in e["message"] for e in report["errors"])


def test_entry_point_reader_agrees_with_importlib_metadata(tmp_path, monkeypatch):
    """scanner.plugins reads entry_points.txt itself (importlib.metadata costs ~15 ms of imports per run):
    the same entry points, first distribution of a name on sys.path wins, egg-info too."""
    from importlib import metadata

    from scanner.engine import plugins
    first, second = tmp_path / "first", tmp_path / "second"
    _install_fake_distribution(first)
    info = second / "Posture_Team-2.0.dist-info"  # the same project, shadowed by the first path entry
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Posture_Team\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text("[gitops_posture.checks]\nshadowed = nowhere\n")
    egg = second / "legacy_plugin.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy-plugin\nVersion: 0.1\n")
    (egg / "entry_points.txt").write_text("; a comment\n[other]\nx = y\n\n[gitops_posture.checks]\nlegacy = legacy_mod:checks\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    for group in ("gitops_posture.checks", "gitops_posture.formatters", "console_scripts"):
        ours = sorted((ep.name, ep.value) for ep in plugins.entry_points(group))
        std = sorted((ep.name, ep.value) for ep in metadata.entry_points(group=group))
        assert ours == std, group
    names = {ep.name for ep in plugins.entry_points("gitops_posture.checks")}
    assert {"team", "broken", "legacy"} <= names and "shadowed" not in names
    ep = next(ep for ep in plugins.entry_points("gitops_posture.checks") if ep.name == "team")
    assert ep.load().team_label.__posture_check__.id == "workloads.team-label"


def test_a_distribution_installed_during_the_run_is_seen(tmp_path, monkeypatch):
    from scanner.engine.plugins import entry_points

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = [ep.name for ep in entry_points(group="gitops_posture.checks")]
    assert "team" not in before
    _install_fake_distribution(site)  # a new *.dist-info directory: the path entry's mtime changes
    assert "team" in [ep.name for ep in entry_points(group="gitops_posture.checks")]
