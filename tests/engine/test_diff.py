"""Diff and baseline gate: stable identities under line shifts, file moves and reordering."""
from __future__ import annotations

import copy
import json
import random
import re
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scanner.cli.snapshots import baseline_reasons
from scanner.cli.snapshots import diff as diff_cmd
from scanner.engine.diff import baseline_gate, diff_reports, finding_identity, loose_identity
from scanner.snapshots import archive as arc
from scanner.snapshots.render import markdown, text
from tests.support.paths import EXAMPLE
from tests.support.scanning import run_scan
from tests.support.snapshots import engine_fingerprint, finding, homelab_report, report


def all_findings(rep):
    return [(c["id"], f) for c in rep["checks"] for f in c["findings"]]


def no_churn(d):
    return d["summary"]["new"] == d["summary"]["resolved"] == d["summary"]["severity_changed"] == 0


def refingerprint(rep):
    """What a new engine run would emit for the edited findings (the fingerprint includes the subject)."""
    for cid, f in all_findings(rep):
        if "fingerprint" in f:
            f["fingerprint"] = engine_fingerprint(cid, f)
    return rep


def move(rep, old_prefix, new_prefix):
    """Rewrite every path (locations, subjects, File resources) as if files had moved."""
    rep = copy.deepcopy(rep)
    for _, f in all_findings(rep):
        if f.get("location"):
            f["location"]["path"] = f["location"]["path"].replace(old_prefix, new_prefix)
        f["subject"] = f["subject"].replace(old_prefix, new_prefix)
        if (f.get("resource") or {}).get("kind") == "File":
            f["resource"]["name"] = f["resource"]["name"].replace(old_prefix, new_prefix)
    return refingerprint(rep)


def shift_lines(rep, by=7):
    rep = copy.deepcopy(rep)
    for _, f in all_findings(rep):
        if f.get("location") and f["location"].get("line"):
            f["location"]["line"] += by
    return rep


def shuffle(rep, seed=3):
    rep = copy.deepcopy(rep)
    rng = random.Random(seed)
    rng.shuffle(rep["checks"])
    for c in rep["checks"]:
        rng.shuffle(c["findings"])
    return rep


# --- identity ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fingerprints", [True, False])
def test_line_shifts_file_moves_and_reordering_are_not_churn(fingerprints):
    old = homelab_report(fingerprints=fingerprints)
    variants = {
        "lines": shift_lines(old),
        "reorder": shuffle(old),
        "move within app": move(old, "radarr/app/secret.sops.yaml", "radarr/app/secrets/radarr.sops.yaml"),
        "move tree": move(old, "kubernetes/", "clusters/main/"),
        "move app": move(old, "apps/media/radarr/", "apps/downloads/radarr/"),
        "all": shuffle(shift_lines(move(old, "kubernetes/", "k8s/"), by=-3), seed=9),
    }
    for name, new in variants.items():
        d = diff_reports(old, new)
        assert no_churn(d), (name, d["new_findings"], d["resolved_findings"])
        assert d["summary"]["unchanged"] == 5, name


def test_identity_without_fingerprint_ignores_lines_and_prefix():
    f = finding("HelmRelease", "media", "radarr", "kubernetes/apps/media/radarr/app/helmrelease.yaml", 40,
                subject="HelmRelease media/radarr (kubernetes/apps/media/radarr/app/helmrelease.yaml:40)")
    g = copy.deepcopy(f)
    g["location"] = {"path": "k8s/apps/media/radarr/app/hr.yaml", "line": 3}
    g["subject"] = "HelmRelease media/radarr (k8s/apps/media/radarr/app/hr.yaml:3)"
    assert finding_identity("c.x", f) == finding_identity("c.x", g) == loose_identity("c.x", g)
    assert finding_identity("c.y", f) != finding_identity("c.x", f)
    other = finding("HelmRelease", "media", "sonarr", "kubernetes/apps/media/radarr/app/helmrelease.yaml", 40)
    assert finding_identity("c.x", other) != finding_identity("c.x", f)
    f["fingerprint"] = "abc"
    assert finding_identity("c.x", f) == "abc"


def test_two_file_findings_in_one_app_stay_two():
    # Without a resource, the file path is the identity: fixing a.yaml while leaking in b.yaml
    # must show one resolved and one new finding, not "no change".
    path = "kubernetes/apps/media/radarr/app/{}"
    old = report({"secrets.no-plaintext-in-git": [finding(None, None, None, path.format("a.yaml"), 3,
                                                          subject=f"AWS key in {path.format('a.yaml')}:3")]})
    new = report({"secrets.no-plaintext-in-git": [finding(None, None, None, path.format("b.yaml"), 3,
                                                          subject=f"AWS key in {path.format('b.yaml')}:3")]})
    d = diff_reports(old, new)
    assert d["summary"]["new"] == 1 and d["summary"]["resolved"] == 1
    # ... while moving the same file with its app does not
    assert no_churn(diff_reports(old, move(old, "kubernetes/apps/media/", "k8s/apps/downloads/")))


def test_synthetic_file_resources_survive_tree_moves():
    path = "kubernetes/apps/media/radarr/app/secret.sops.yaml"
    f = finding("File", None, path, path, 1, subject=f"SOPS file {path}")
    old = report({"secrets.sops-creation-rules": [f]})
    assert no_churn(diff_reports(old, move(old, "kubernetes/", "cluster/")))
    renamed = move(old, "secret.sops.yaml", "other.sops.yaml")
    assert diff_reports(old, renamed)["summary"]["new"] == 1


def test_duplicates_pair_one_to_one():
    f = finding("Deployment", "a", "web", "kubernetes/apps/a/web/app/deploy.yaml", 5, subject="container x")
    old = report({"workloads.limits": [f, f]}, fingerprints=False)
    new = report({"workloads.limits": [f, f, f]}, fingerprints=False)
    d = diff_reports(old, new)
    assert d["summary"] == {"new": 1, "resolved": 0, "severity_changed": 0, "unchanged": 2}


# --- diff content --------------------------------------------------------------------------------

def test_new_resolved_and_rerated_findings():
    old = homelab_report(overall=70.0, layers={"secrets": 50.0, "workloads": 80.0})
    new = copy.deepcopy(old)
    checks = {c["id"]: c for c in new["checks"]}
    sops = checks["secrets.sops-encrypted"]["findings"]
    sops[0]["status"] = "pass"  # radarr secret encrypted now
    workloads = checks["workloads.run-as-non-root"]["findings"]
    workloads[1]["severity"] = "high"  # sonarr re-rated medium -> high
    workloads[2]["status"] = "fail"  # whoami regressed
    checks["gitops.dependson-resolves"]["findings"] = []  # fixed and gone
    checks["segmentation.networkpolicy-per-namespace"]["findings"][0]["status"] = "waived"
    new["checks"].append({"id": "backups.volsync", "layer": "backups", "severity": "medium", "status": "fail",
                          "findings": [finding("PersistentVolumeClaim", "media", "config", None, None)]})
    new["score"]["overall"] = 74.5
    new["score"]["layers"]["secrets"]["score"] = 75.0
    new["score"]["layers"]["workloads"]["score"] = 60.0
    new["score"]["grade"] = "C"
    d = diff_reports(old, new, "before", "after")

    assert d["score"]["overall"] == {"old": 70.0, "new": 74.5, "delta": 4.5}
    assert d["score"]["layers"]["secrets"]["delta"] == 25.0
    assert d["score"]["layers"]["workloads"]["delta"] == -20.0
    assert list(d["score"]["layers"])[:3] == ["perimeter", "segmentation", "nodes"]
    assert [(i["check"], i["was"]) for i in d["new_findings"]] == [
        ("workloads.run-as-non-root", "pass"), ("backups.volsync", "absent")]  # high first, then medium
    assert sorted((i["check"], i["now"]) for i in d["resolved_findings"]) == [
        ("gitops.dependson-resolves", "absent"), ("secrets.sops-encrypted", "pass"),
        ("segmentation.networkpolicy-per-namespace", "waived")]
    assert [(i["subject"], i["old_severity"], i["new_severity"]) for i in d["severity_changed"]] == [
        ("HelmRelease media/sonarr container app", "medium", "high")]
    assert d["checks_added"] == ["backups.volsync"] and d["checks_removed"] == []
    assert d["resolved_findings"][0]["severity"] == "critical"
    assert d["new_findings"][0]["location"] == "kubernetes/apps/media/whoami/app/deployment.yaml:20"

    out = text(d)
    assert "Overall  70.0 (C) -> 74.5 (C)  +4.5" in out
    assert "[medium -> high] workloads.run-as-non-root" in out and "(now waived)" in out
    md = markdown(d)
    assert "| **Overall** | 70.0 (C) | 74.5 (C) | +4.5 |" in md and "#### New findings (2)" in md
    assert json.loads(json.dumps(d)) == d


def test_diff_is_deterministic_under_reordering():
    old = homelab_report()
    new = copy.deepcopy(old)
    new["checks"][1]["findings"][2]["status"] = "fail"
    assert diff_reports(old, new) == diff_reports(shuffle(old, 1), shuffle(new, 2))


def test_markdown_stays_under_the_comment_limit():
    many = [finding("Deployment", f"ns{i % 40}", f"app-{i}", f"kubernetes/apps/ns/app-{i}/app/deploy.yaml", i,
                    subject=f"Deployment app-{i} | container `main` " + "x" * 200) for i in range(5000)]
    d = diff_reports(report({}), report({"workloads.limits": many}))
    md = markdown(d)
    assert len(md) < 65_000
    assert "…and 4900 more" in md and "\\|" in md


# --- baseline gate -------------------------------------------------------------------------------

def _with(rep, check_id, f):
    rep = copy.deepcopy(rep)
    for c in rep["checks"]:
        if c["id"] == check_id:
            c["findings"].append(f)
    return refingerprint(rep)


def test_baseline_gate_on_new_findings():
    base = homelab_report()
    assert baseline_gate(base, shuffle(shift_lines(base)), "info", 0) == []  # the imperfect repo passes

    new = _with(base, "workloads.run-as-non-root",
                finding("Deployment", "media", "plex", "kubernetes/apps/media/plex/app/deployment.yaml", 9,
                        subject="Deployment media/plex container app", severity="high"))
    reasons = baseline_gate(base, new, "high", None)
    assert len(reasons) == 1
    assert reasons[0].startswith("1 new finding(s) at or above high relative to the baseline (1 high)")
    assert "Deployment media/plex container app" in reasons[0]
    assert baseline_gate(base, new, "critical", None) == []  # below the threshold
    warn = _with(base, "workloads.run-as-non-root",
                 finding("Deployment", "media", "plex", "x/plex/app/d.yaml", 9, status="warn", severity="critical"))
    assert baseline_gate(base, warn, "low", None) == []  # warnings never gate, like --fail-on


def test_baseline_gate_counts_a_rerating_across_the_threshold():
    base = homelab_report()
    new = copy.deepcopy(base)
    for c in new["checks"]:
        for f in c["findings"]:
            if f["subject"] == "HelmRelease media/sonarr container app":
                f["severity"] = "critical"  # was medium
    assert "1 critical" in baseline_gate(base, new, "high", None)[0]
    assert baseline_gate(base, new, "medium", None) == []  # it already was at or above medium


def test_baseline_gate_on_score_drop():
    base = homelab_report(overall=80.0)
    new = copy.deepcopy(base)
    new["score"]["overall"] = 74.9
    assert baseline_gate(base, new, None, 5) == [
        "overall score dropped 5.1 points (80 -> 74.9), more than the allowed 5"]
    assert baseline_gate(base, new, None, 5.1) == []
    new["score"]["overall"] = 75.0
    assert baseline_gate(base, new, None, 5) == []  # exactly N is allowed
    assert baseline_gate(base, new, None, None) == []


def test_baseline_gate_many_and_both_reasons():
    base = homelab_report(overall=90.0)
    new = copy.deepcopy(base)
    for i in range(8):
        new = _with(new, "secrets.sops-encrypted",
                    finding("Secret", "media", f"s{i}", f"kubernetes/apps/media/s{i}/app/secret.yaml", 1,
                            severity="critical"))
    new["score"]["overall"] = 60.0
    reasons = baseline_gate(base, new, "high", 10)
    assert len(reasons) == 2
    assert "8 new finding(s)" in reasons[0] and "(8 critical)" in reasons[0] and "; and 3 more" in reasons[0]
    assert reasons[1].startswith("overall score dropped 30 points")


def test_baseline_gate_rejects_bad_arguments():
    with pytest.raises(ValueError, match="--fail-on-new"):
        baseline_gate({}, {}, "severe", None)
    with pytest.raises(ValueError, match="--max-score-drop"):
        baseline_gate({}, {}, None, -1)


def test_baseline_reasons_helper(tmp_path):
    import click

    base = homelab_report()
    (tmp_path / "base.json").write_text(json.dumps(base))
    assert baseline_reasons(base, str(tmp_path / "base.json"), "low", 0) == []
    arc.store(tmp_path / "arc", base)
    assert baseline_reasons(base, f"archive:{tmp_path / 'arc'}@latest", "low", 0) == []
    with pytest.raises(click.UsageError, match="need --baseline"):
        baseline_reasons(base, None, "high", None)
    with pytest.raises(click.UsageError, match="--baseline: cannot read"):
        baseline_reasons(base, str(tmp_path / "nope.json"), "high", None)
    assert baseline_reasons(base, None, None, None) == []


# --- the diff command ----------------------------------------------------------------------------

def test_diff_command_with_archive_references(tmp_path):
    archive = tmp_path / "arc"
    old = homelab_report(started_at="2025-03-01T02:00:00Z", overall=70.0)
    new = _with(copy.deepcopy(old), "workloads.run-as-non-root",
                finding("Deployment", "media", "plex", "kubernetes/apps/media/plex/app/deployment.yaml", 9))
    new["scan"]["started_at"] = "2025-03-02T02:00:00Z"
    new["score"]["overall"] = 65.0
    arc.store(archive, old)
    arc.store(archive, new)
    runner = CliRunner()
    res = runner.invoke(diff_cmd, [f"archive:{archive}@-1", f"archive:{archive}@latest"])
    assert res.exit_code == 0, res.output
    assert "20250301T020000Z-homelab.json" in res.output and "-5.0" in res.output
    assert "New findings (1):" in res.output
    res = runner.invoke(diff_cmd, [f"archive:{archive}@2025-03-01", str(archive / "snapshots" /
                                   "20250302T020000Z-homelab.json"), "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.output)["summary"]["new"] == 1
    res = runner.invoke(diff_cmd, [f"archive:{archive}@-1", f"archive:{archive}", "--format", "markdown"])
    assert res.exit_code == 0 and res.output.startswith("### Posture diff")
    res = runner.invoke(diff_cmd, [f"archive:{archive}@-5", f"archive:{archive}"])
    assert res.exit_code == 2 and "only 2 snapshot" in res.output


# --- real reports from the engine ----------------------------------------------------------------

def _copy(dst: Path) -> Path:
    shutil.copytree(EXAMPLE, dst, ignore=shutil.ignore_patterns(".git"))
    return dst


def _shift_every_file(root: Path) -> None:
    for p in root.rglob("*.y*ml"):
        p.write_text("# two header lines push\n# every document down\n" + p.read_text())


def _reverse_kustomize_resources(root: Path) -> None:
    for p in root.rglob("kustomization.yaml"):
        docs = list(yaml.safe_load_all(p.read_text()))
        if len(docs) == 1 and isinstance(docs[0], dict) and isinstance(docs[0].get("resources"), list):
            docs[0]["resources"].reverse()
            p.write_text(yaml.safe_dump(docs[0], sort_keys=False))


def _move_file_within_app(root: Path, app: str, name: str) -> None:
    directory = next(root.rglob(f"apps/*/{app}/app"))
    (directory / "nested").mkdir()
    (directory / name).rename(directory / "nested" / f"moved-{name}")
    k = directory / "kustomization.yaml"
    k.write_text(k.read_text().replace(f"./{name}", f"./nested/moved-{name}"))


def _move_tree(root: Path, new: str) -> None:
    (root / "kubernetes").rename(root / new)
    for p in list(root.rglob("*.y*ml")) + list(root.glob(".sops.yaml")):
        t = p.read_text()
        t2 = re.sub(r"(^|[\s\"'])(\./)?kubernetes/", rf"\1\2{new}/", t, flags=re.M)
        if t2 != t:
            p.write_text(t2)


@pytest.fixture(scope="module")
def engine_pair(tmp_path_factory):
    api = pytest.importorskip("scanner.engine.pipeline")
    if not EXAMPLE.is_dir():
        pytest.skip("examples/homelab not present")
    tmp = tmp_path_factory.mktemp("real")
    before = run_scan(str(_copy(tmp / "before"))).to_json_dict()
    after_root = _copy(tmp / "after")
    _shift_every_file(after_root)
    _reverse_kustomize_resources(after_root)
    secret_app = next((p.parent.parent.name for p in after_root.rglob("apps/*/*/app/secret.yaml")), None)
    if secret_app:
        _move_file_within_app(after_root, secret_app, "secret.yaml")
    _move_tree(after_root, "k8s")
    after = run_scan(str(after_root)).to_json_dict()
    return before, after, after_root, api


def test_real_scans_lines_shifted_files_moved_show_no_churn(engine_pair):
    before, after, _, _ = engine_pair
    assert before["score"]["overall"] == after["score"]["overall"]
    assert sum(1 for _, f in all_findings(before) if f["status"] in ("fail", "warn")) > 0
    # the engine's own fingerprints do change for some open findings (their subjects name the file)
    fps = {f["fingerprint"] for _, f in all_findings(after)}
    assert any(f["fingerprint"] not in fps for _, f in all_findings(before) if f["status"] in ("fail", "warn"))
    d = diff_reports(before, after)
    assert no_churn(d), (d["new_findings"][:5], d["resolved_findings"][:5])
    # ... and without fingerprints at all (older reports) the diff is just as quiet
    stripped = [copy.deepcopy(r) for r in (before, after)]
    for r in stripped:
        for _, f in all_findings(r):
            f.pop("fingerprint", None)
    assert no_churn(diff_reports(*stripped))


def test_real_scans_a_genuine_change_is_reported(engine_pair, tmp_path):
    before, _, _, api = engine_pair
    root = _copy(tmp_path / "changed")
    app = next(root.rglob("apps/media/*/app/kustomization.yaml")).parent
    (app / "leaked-secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leaked-secret\n  namespace: media\n"
        "stringData:\n  password: hunter2hunter2\n")
    k = app / "kustomization.yaml"
    k.write_text(k.read_text().replace("resources:\n", "resources:\n  - ./leaked-secret.yaml\n", 1))
    changed = run_scan(str(root)).to_json_dict()
    d = diff_reports(before, changed)
    assert d["summary"]["new"] >= 1
    assert any(i["resource"] and "leaked-secret" in i["resource"] for i in d["new_findings"])
    assert d["summary"]["resolved"] == 0
    assert baseline_gate(before, changed, "low", None)
