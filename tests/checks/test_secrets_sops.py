"""SOPS checks with the real sops binary and throwaway age keys."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from scanner.analysis import sops as sops_mod
from tests.support.scanning import scan
from tests.support.sops import (APP_DIR, AgeKey, add_app_file, encrypt, make_repo, rule, sops_binary,
                                write_sops_config)

pytestmark = pytest.mark.skipif(sops_binary() is None, reason="sops binary not available")

SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData:\n  {key}: {value}\n"


def _check(report, cid):
    return next(c for c in report["checks"] if c["id"] == cid)


def _findings(report, cid, status=None):
    c = _check(report, cid)
    return [f for f in c["findings"] if status is None or f["status"] == status]


@pytest.fixture
def key(tmp_path):
    return AgeKey.create(tmp_path / "keys")


@pytest.fixture
def repo(tmp_path, key):
    r = make_repo(tmp_path / "repo")
    write_sops_config(r, [rule(r"kubernetes/.*\.sops\.ya?ml", key.recipient)])
    return r


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch):
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)


def test_plaintext_partial_and_encrypted(repo, key):
    add_app_file(repo, "plain.yaml", SECRET.format(name="plain", key="PASSWORD", value="s3cr3t-plain-value"))
    rel_good = add_app_file(repo, "good.sops.yaml", SECRET.format(name="good", key="TOKEN", value="tok-value-1234"))
    rel_part = add_app_file(repo, "part.sops.yaml", SECRET.format(name="part", key="KEY", value="key-value-5678"))
    encrypt(repo, rel_good, key)
    encrypt(repo, rel_part, key)
    p = repo / rel_part
    p.write_text(p.read_text().replace("stringData:\n", "stringData:\n    EXTRA: added-later-value\n", 1))
    report = scan(str(repo), only=["secrets.sops-encrypted"]).report.to_json_dict()
    fails = {f["location"]["path"]: f for f in _findings(report, "secrets.sops-encrypted", "fail")}
    assert f"{APP_DIR}/plain.yaml" in fails
    assert fails[f"{APP_DIR}/plain.yaml"]["severity"] == "critical"
    assert "stringData.PASSWORD" in fails[f"{APP_DIR}/plain.yaml"]["message"]
    assert rel_part in fails and "EXTRA" in fails[rel_part]["message"]
    assert rel_good not in fails
    passes = {f["location"]["path"] for f in _findings(report, "secrets.sops-encrypted", "pass")}
    assert rel_good in passes
    assert "added-later-value" not in str(report) and "s3cr3t-plain-value" not in str(report)


def test_benign_values_pass(repo):
    add_app_file(repo, "subst.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: subst}\n"
                                     "stringData:\n  A: ${SECRET_A}\n  B: ''\n  C: op://vault/item/field\n")
    report = scan(str(repo), only=["secrets.sops-encrypted"]).report.to_json_dict()
    assert not _findings(report, "secrets.sops-encrypted", "fail")


def test_sops_named_file_with_block_but_nothing_encrypted(repo, key):
    rel = add_app_file(repo, "values.sops.yaml", "controllers:\n  main:\n    password: hunter2hunter2\n", listed=False)
    encrypt(repo, rel, key)  # encrypted_regex ^(data|stringData)$ matches nothing in Helm values
    report = scan(str(repo), only=["secrets.sops-encrypted"]).report.to_json_dict()
    fails = [f for f in _findings(report, "secrets.sops-encrypted", "fail") if f["location"]["path"] == rel]
    assert fails and "not one encrypted value" in fails[0]["message"]
    assert "controllers.main.password" in fails[0]["message"]


def test_sops_named_json_and_env_without_metadata(repo):
    (repo / "kubernetes/talos.sops.json").write_text('{"token": "plain-json-token"}')
    (repo / "kubernetes/app.sops.env").write_text("TOKEN=plain-env-token\n")
    report = scan(str(repo), only=["secrets.sops-encrypted"]).report.to_json_dict()
    paths = {f["location"]["path"] for f in _findings(report, "secrets.sops-encrypted", "fail")}
    assert {"kubernetes/talos.sops.json", "kubernetes/app.sops.env"} <= paths


def test_rotated_recipient_is_a_finding(repo, key, tmp_path):
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="rot-value-123"))
    encrypt(repo, rel, key)
    new = AgeKey.create(tmp_path / "new")
    write_sops_config(repo, [rule(r"kubernetes/.*\.sops\.ya?ml", new.recipient)])
    report = scan(str(repo), only=["secrets.sops-creation-rules"]).report.to_json_dict()
    fails = _findings(report, "secrets.sops-creation-rules", "fail")
    assert len(fails) == 1 and fails[0]["severity"] == "high"
    assert key.recipient in fails[0]["message"] and "rotated-out" in fails[0]["message"]


def test_no_matching_rule_and_unencryptable_secret(repo, key):
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="norule-value-1"))
    encrypt(repo, rel, key)
    add_app_file(repo, "plain.yaml", SECRET.format(name="plain", key="TOKEN", value="plain-value-2"))
    write_sops_config(repo, [rule(r"talos/.*\.sops\.ya?ml", key.recipient)])
    report = scan(str(repo), only=["secrets.sops-creation-rules"]).report.to_json_dict()
    msgs = {f["location"]["path"]: f["message"] for f in _findings(report, "secrets.sops-creation-rules", "fail")}
    assert "no creation rule" in msgs[rel]
    assert "no SOPS rule would encrypt" in msgs[f"{APP_DIR}/plain.yaml"]


def test_rule_matching_and_encrypted_regex_drift(repo, key):
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="drift-value-1"))
    encrypt(repo, rel, key)
    report = scan(str(repo), only=["secrets.sops-creation-rules"]).report.to_json_dict()
    assert [f["status"] for f in _findings(report, "secrets.sops-creation-rules")] == ["pass"]
    write_sops_config(repo, [rule(r"kubernetes/.*\.sops\.ya?ml", key.recipient, encrypted_regex="^(data)$")])
    report = scan(str(repo), only=["secrets.sops-creation-rules"]).report.to_json_dict()
    f = _findings(report, "secrets.sops-creation-rules", "fail")
    assert f and "encrypted_regex" in f[0]["message"]


def test_first_matching_rule_wins_relative_to_config_dir(tmp_path, key):
    other = AgeKey.create(tmp_path / "other")
    cfg = sops_mod.parse_sops_config("sub/.sops.yaml", (
        "creation_rules:\n"
        f"  - path_regex: ^kubernetes/.*\\.sops\\.yaml$\n    age: {key.recipient}\n"
        f"  - path_regex: .*\n    age: {other.recipient}\n"))
    assert cfg.match("sub/kubernetes/a.sops.yaml").index == 0
    assert cfg.match("sub/talos/a.sops.yaml").index == 1
    assert not cfg.covers("kubernetes/a.sops.yaml")


def test_rotation_age(repo, key):
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="rot-value-9"))
    encrypt(repo, rel, key)
    p = repo / rel
    p.write_text(re.sub(r"lastmodified: .*", 'lastmodified: "2020-01-01T00:00:00Z"', p.read_text()))
    report = scan(str(repo), only=["secrets.sops-rotation"]).report.to_json_dict()
    f = _findings(report, "secrets.sops-rotation")
    assert f[0]["status"] == "fail" and f[0]["severity"] == "low" and f[0]["evidence"]["age_days"] > 365


def test_flux_kustomization_without_decryption(tmp_path, key):
    repo = make_repo(tmp_path / "r", decryption=False)
    write_sops_config(repo, [rule(r"kubernetes/.*\.sops\.ya?ml", key.recipient)])
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="flux-value-1"))
    encrypt(repo, rel, key)
    report = scan(str(repo), only=["secrets.flux-decryption"]).report.to_json_dict()
    fails = _findings(report, "secrets.flux-decryption", "fail")
    assert len(fails) == 1 and "Kustomization demo/demo" == fails[0]["subject"]
    assert fails[0]["location"]["path"] == "kubernetes/apps/demo/ks.yaml"


def test_flux_decryption_from_parent_patch_with_set_selector(tmp_path, key):
    repo = make_repo(tmp_path / "r", decryption=False)
    ks = repo / "kubernetes/flux/cluster/ks.yaml"
    ks.write_text(ks.read_text() + (
        "  patches:\n    - patch: |-\n        apiVersion: kustomize.toolkit.fluxcd.io/v1\n        kind: Kustomization\n"
        "        metadata: {name: not-used}\n        spec:\n          decryption: {provider: sops, secretRef: {name: sops-age}}\n"
        "      target:\n        group: kustomize.toolkit.fluxcd.io\n        kind: Kustomization\n"
        "        labelSelector: substitution.flux.home.arpa/disabled notin (true)\n"))
    write_sops_config(repo, [rule(r"kubernetes/.*\.sops\.ya?ml", key.recipient)])
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="flux-value-2"))
    encrypt(repo, rel, key)
    report = scan(str(repo), only=["secrets.flux-decryption"]).report.to_json_dict()
    assert [f["status"] for f in _findings(report, "secrets.flux-decryption")] == ["pass"]


# ---- MAC verification with the binary --------------------------------------------------------------

def _tamper(repo: Path, rel: str) -> None:
    p = repo / rel
    text = p.read_text()
    p.write_text(text.replace("name: s\n", "name: s-renamed\n", 1).replace("{name: s}", "{name: s-renamed}", 1))


def test_mac_verified_and_tampered_with_key(repo, key, monkeypatch):
    good = add_app_file(repo, "good.sops.yaml", SECRET.format(name="g", key="TOKEN", value="mac-value-1"))
    bad = add_app_file(repo, "bad.sops.yaml", SECRET.format(name="s", key="TOKEN", value="mac-value-2"))
    encrypt(repo, good, key)
    encrypt(repo, bad, key)
    _tamper(repo, bad)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", "/nonexistent")  # the environment is not read: the key is an option
    run = scan(str(repo), only=["secrets.sops-mac-verified"], age_key_file=str(key.key_file))
    by_path = {f["location"]["path"]: f for f in _findings(run.report.to_json_dict(), "secrets.sops-mac-verified")}
    assert by_path[good]["status"] == "pass"
    assert by_path[bad]["status"] == "fail" and "MAC" in by_path[bad]["message"]
    assert by_path[bad]["evidence"]["exit_code"] == 51
    assert "mac-value" not in str(run.report.to_json_dict())


def test_tampered_without_key_gives_one_notice(repo, key):
    bad = add_app_file(repo, "bad.sops.yaml", SECRET.format(name="s", key="TOKEN", value="mac-value-3"))
    encrypt(repo, bad, key)
    _tamper(repo, bad)
    run = scan(str(repo), only=["secrets.sops-mac-verified"])
    notices = [e for e in run.report.errors if e.code == "sops-mac-unverified"]
    assert len(notices) == 1
    found = _findings(run.report.to_json_dict(), "secrets.sops-mac-verified")
    assert found and all(f["evidence"]["mac_verified"] is False for f in found)
    assert all("MAC not verified" in f["message"] for f in found)


def test_missing_binary_degrades_with_notice(repo, key, monkeypatch):
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="nobin-value"))
    encrypt(repo, rel, key)
    monkeypatch.setattr(sops_mod, "find_binary", lambda explicit=None: None)
    run = scan(str(repo), only=["secrets"])
    c = _check(run.report.to_json_dict(), "secrets.sops-mac-verified")
    assert c["status"] == "not_applicable" and c["error"] is None
    assert [e for e in run.report.errors if e.code == "sops-binary-missing"]
    assert _check(run.report.to_json_dict(), "secrets.sops-encrypted")["status"] == "pass"


def test_hanging_binary_is_a_recorded_error(repo, key, tmp_path, monkeypatch):
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="hang-value"))
    rel2 = add_app_file(repo, "t.sops.yaml", SECRET.format(name="t", key="TOKEN", value="hang-value-2"))
    encrypt(repo, rel, key)
    encrypt(repo, rel2, key)
    fake = tmp_path / "fake-sops"
    fake.write_text("#!/bin/sh\nsleep 30\n")
    fake.chmod(0o755)
    (repo / "posture.yaml").write_text("checks:\n  secrets.sops-mac-verified:\n    timeout: 0.5\n")
    run = scan(str(repo), only=["secrets.sops-mac-verified"], sops_bin=str(fake))
    c = _check(run.report.to_json_dict(), "secrets.sops-mac-verified")
    assert c["error"] is None
    assert "sops-unavailable" in [e.code for e in run.report.errors]


def test_crashing_binary_is_a_recorded_error(repo, key, tmp_path):
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="crash-value"))
    encrypt(repo, rel, key)
    fake = tmp_path / "crash-sops"
    fake.write_text("#!/bin/sh\nkill -SEGV $$\n")
    fake.chmod(0o755)
    run = scan(str(repo), only=["secrets.sops-mac-verified"], sops_bin=str(fake))
    assert _check(run.report.to_json_dict(), "secrets.sops-mac-verified")["error"] is None
    assert [e for e in run.report.errors if e.code == "sops-unavailable"]


def test_filestatus_disagreement(repo, key):
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="fs-value"))
    encrypt(repo, rel, key)
    p = repo / rel
    p.write_text(re.sub(r"\n\s*version: .*", "\n", p.read_text()))  # sops needs version to call it encrypted
    run = scan(str(repo), only=["secrets.sops-mac-verified"])
    f = _findings(run.report.to_json_dict(), "secrets.sops-mac-verified", "fail")
    assert f and "filestatus" in f[0]["message"]


def test_dotenv_metadata_parsing(tmp_path, key):
    repo = make_repo(tmp_path / "r")
    write_sops_config(repo, [rule(r".*\.sops\.env$", key.recipient, encrypted_regex=None)])
    (repo / "kubernetes/app.sops.env").write_text("TOKEN=env-secret-value\nOTHER=x1\n")
    encrypt(repo, "kubernetes/app.sops.env", key)
    sf = sops_mod.sops_file_from_text("kubernetes/app.sops.env", (repo / "kubernetes/app.sops.env").read_text())
    assert sf.meta and sf.meta.mac and sf.meta.recipients == [f"age:{key.recipient}"]
    assert sf.encrypted_leaves == 2 and not sf.plaintext
    report = scan(str(repo), only=["secrets.sops-encrypted", "secrets.sops-creation-rules"]).report.to_json_dict()
    assert not _findings(report, "secrets.sops-encrypted", "fail")
    assert not _findings(report, "secrets.sops-creation-rules", "fail")
