"""posture.yaml is hostile input: strict types, no NaN, ids checked against the catalogue, waivers
that cannot waive everything, errors that name the key and line and never quote the file."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scanner.core.errors import ConfigError, UsageError
from scanner.engine import config as config_mod
from tests.support.repos import PRIVILEGED_DEPLOYMENT, flux_repo
from tests.support.scanning import scan

PRIV_CHECK = "workloads.no-privileged-containers"


def posture(*args):
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, timeout=300)


def load(tmp_path, text: str):
    (tmp_path / "posture.yaml").write_text(text)
    return config_mod.load(None, str(tmp_path))


@pytest.mark.parametrize("text,where", [
    ("weights:\n  secrets: 1\nbogus: 2\n", "posture.yaml:3 bogus"),
    ("max_file_bytes: true\n", "posture.yaml:1 max_file_bytes"),
    ("max_file_bytes: '12'\n", "posture.yaml:1 max_file_bytes"),
    ("weights:\n  secrets: .nan\n", "posture.yaml:2 weights.secrets"),
    ("severity_weights:\n  high: .inf\n", "posture.yaml:2 severity_weights.high"),
    ("severity_weights:\n  urgent: 1\n", "posture.yaml:2 severity_weights"),
    ("stale_days: 1.5\n", "posture.yaml:1 stale_days"),
    ("waivers:\n  - check: '*'\n    resource: '*'\n    reason: all of it\n", "posture.yaml:2 waivers[0]"),
    ("waivers:\n  - check: workloads.*\n    reason: no resource\n", "waivers[0].resource"),
    ("waivers:\n  - check: x.y\n    resource: a\n    reason: r\n    expires: 2027-13-45\n",
     "posture.yaml:5 waivers[0].expires"),
    ("---\nweights: {}\n---\nweights: {}\n", "posture.yaml:4"),
    ("a: [1, 2\n", "posture.yaml"),
])
def test_invalid_settings_name_the_key_and_line(tmp_path, text, where):
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, text)
    assert where in str(exc.value)
    assert exc.value.code == "config-invalid"


def test_unknown_key_gets_a_suggestion(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'waivers'"):
        load(tmp_path, "waiver: []\n")


def test_a_link_out_of_the_repository_is_not_read_and_never_quoted(tmp_path):
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$SECRETHASHVALUE:19000:0:99999:7:::\nweights: nope\n")
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(secret, repo / "posture.yaml")
    with pytest.raises(ConfigError, match="outside the repository") as exc:
        config_mod.load(None, str(repo))
    assert "SECRETHASHVALUE" not in str(exc.value)
    p = posture("scan", str(repo), "-o", str(tmp_path / "o"))
    assert p.returncode == 2 and "SECRETHASHVALUE" not in p.stdout + p.stderr


def test_content_is_never_quoted_in_errors(tmp_path):
    # Key names are quoted only when they look like identifiers (the user needs to know which key).
    for text in ("weights:\n  secrets: SECRETHASHVALUE\n", "'$6$SECRETHASHVALUE/x=': 1\n", "- SECRETHASHVALUE\n",
                 "weights:\n  '$6$SECRETHASHVALUE/x=': 1\n",
                 "waivers:\n  - {check: x.y, resource: a, reason: r, expires: SECRETHASHVALUE}\n"):
        with pytest.raises(ConfigError) as exc:
            load(tmp_path, text)
        assert "SECRETHASHVALUE" not in str(exc.value), text


def test_a_special_file_or_a_huge_file_is_refused(tmp_path):
    os.mkfifo(tmp_path / "posture.yaml")
    with pytest.raises(ConfigError, match="not a regular file"):
        config_mod.load(None, str(tmp_path))
    big = tmp_path / "big"
    big.mkdir()
    (big / "posture.yaml").write_text("# " + "x" * (config_mod.MAX_CONFIG_BYTES + 10) + "\n")
    with pytest.raises(ConfigError, match="limit"):
        config_mod.load(None, str(big))


@pytest.mark.parametrize("text,message", [
    ("disabled: [workloads.no-privileged-container]\n", "did you mean 'workloads.no-privileged-containers'"),
    ("checks:\n  segmentaton.egress-control: {}\n", "no check 'segmentaton.egress-control'"),
    ("waivers:\n  - {check: workloads.no-priviledged-containers, resource: a, reason: r}\n", "did you mean"),
    ("waivers:\n  - {check: 'nope.*', resource: a, reason: r}\n", "matches no check"),
    ("checks:\n  perimeter.tls-certificates: {warn_dayz: 3}\n", "did you mean 'warn_days'"),
    ("checks:\n  perimeter.tls-certificates:\n    warn_days: soon\n", "posture.yaml:3 checks.perimeter.tls-certificates.warn_days"),
    ("checks:\n  perimeter.tls-certificates:\n    warn_days: true\n", "warn_days"),
    ("checks:\n  segmentation.egress-control:\n    exempt_namespaces: kube-system\n", "exempt_namespaces"),
])
def test_ids_and_check_options_are_checked_against_the_catalogue(tmp_path, text, message):
    flux_repo(tmp_path, {"media": {"ups.yaml": PRIVILEGED_DEPLOYMENT}})
    (tmp_path / "posture.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        scan(tmp_path, only=[PRIV_CHECK])


def test_typed_options_reach_the_check(tmp_path):
    flux_repo(tmp_path, {"media": {"ups.yaml": PRIVILEGED_DEPLOYMENT}})
    before = [f.subject for _, f in scan(tmp_path, only=["segmentation.egress-control"]).report.findings()]
    assert before == ["namespace media"]
    (tmp_path / "posture.yaml").write_text("checks:\n  segmentation.egress-control:\n    exempt_namespaces: [media]\n")
    after = [f.subject for _, f in scan(tmp_path, only=["segmentation.egress-control"]).report.findings()]
    assert after == []


@pytest.mark.parametrize("flags,message", [
    (["--only", "segmentaton"], "did you mean 'segmentation'"),
    (["--skip", "workloads.no-privileged"], "did you mean"),
    (["--fail-under", "nan"], "not a finite number"),
    (["--fail-under", "inf"], "not a finite number"),
    (["--baseline", "x.json", "--max-score-drop", "nan"], "not a finite number"),
])
def test_unknown_ids_and_nan_thresholds_exit_two(tmp_path, flags, message):
    repo = flux_repo(tmp_path / "repo", {"media": {"ups.yaml": PRIVILEGED_DEPLOYMENT}})
    p = posture("scan", str(repo), "-o", str(tmp_path / "o"), *flags)
    assert p.returncode == 2, p.stderr
    assert message in p.stderr


def test_unknown_selector_is_a_usage_error_in_the_library_too(tmp_path):
    flux_repo(tmp_path, {"media": {"ups.yaml": PRIVILEGED_DEPLOYMENT}})
    with pytest.raises(UsageError, match="did you mean 'segmentation'"):
        scan(tmp_path, only=["segmentaton"])


def test_a_waived_subject_is_waived_not_passed_and_both_scores_are_reported(tmp_path):
    flux_repo(tmp_path, {"media": {"ups.yaml": PRIVILEGED_DEPLOYMENT}})
    (tmp_path / "posture.yaml").write_text(
        "waivers:\n  - {check: workloads.no-privileged-containers, resource: 'Deployment/media/*', reason: UPS,"
        " owner: ops-team}\n")
    report = scan(tmp_path, only=[PRIV_CHECK]).report
    check = report.checks[0]
    assert check.subjects.waived == 1 and check.subjects.passing == 0
    assert [f.status for f in check.findings] == ["waived"]
    assert check.findings[0].waiver.owner == "ops-team" and check.findings[0].waiver.status == "fail"
    assert check.score == 100.0 and check.score_without_waivers == 0.0
    assert report.score.overall_without_waivers < report.score.overall
    assert report.waivers[0].owner == "ops-team" and report.waivers[0].matched == 1


def test_severity_weights_are_applied(tmp_path):
    flux_repo(tmp_path, {"media": {"ups.yaml": PRIVILEGED_DEPLOYMENT}})
    base = scan(tmp_path, only=["workloads"]).report.score.layers["workloads"].score
    (tmp_path / "posture.yaml").write_text("severity_weights: {critical: 0, high: 0, medium: 0, low: 0, info: 1}\n")
    weighted = scan(tmp_path, only=["workloads"]).report.score.layers["workloads"].score
    assert weighted != base


def test_a_baseline_with_nan_cannot_pass_a_score_drop_gate(tmp_path):
    import json

    repo = flux_repo(tmp_path / "repo", {"media": {"ups.yaml": PRIVILEGED_DEPLOYMENT}})
    out = tmp_path / "o"
    assert posture("scan", str(repo), "-o", str(out), "-q").returncode == 0
    base = json.loads((out / "posture-report.json").read_text())
    base["score"]["overall"] = float("nan")
    (tmp_path / "base.json").write_text(json.dumps(base))  # json writes NaN, and reads it back
    p = posture("scan", str(repo), "-o", str(tmp_path / "o2"), "--baseline", str(tmp_path / "base.json"),
                "--max-score-drop", "0")
    assert p.returncode == 2 and "NaN" in p.stderr
