"""The secrets layer on the development corpus (skipped when ../shared/corpus is absent)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import CORPUS
from tests.support.scanning import scan


def _repo(name: str) -> Path:
    p = CORPUS / name
    if not p.is_dir():
        pytest.skip(f"corpus repo {name} not available")
    return p


def _check(report, cid):
    return next(c for c in report["checks"] if c["id"] == cid)


def _fails(report, cid):
    return [f for f in _check(report, cid)["findings"] if f["status"] == "fail"]


def test_dapper_all_secrets_encrypted_and_covered():
    report = scan(str(_repo("dapperdivers__dapper-cluster")), only=["secrets"]).report.to_json_dict()
    enc = _check(report, "secrets.sops-encrypted")
    assert enc["subjects"]["total"] >= 14 and not _fails(report, "secrets.sops-encrypted")
    assert not _fails(report, "secrets.flux-decryption")  # decryption injected by cluster-apps patches
    assert not _fails(report, "secrets.externalsecret-coverage")
    cov = _check(report, "secrets.externalsecret-coverage")
    assert cov["subjects"]["passing"] >= 60


def test_xunholy_plaintext_shapes():
    report = scan(str(_repo("xunholy__k8s-gitops")), only=["secrets.sops-encrypted",
                                                            "secrets.no-plaintext-credentials"]).report.to_json_dict()
    fails = _fails(report, "secrets.sops-encrypted")
    paths = {f["location"]["path"] for f in fails}
    assert "talos/integrations/cilium/cilium.yaml" in paths  # rendered Secrets with private keys
    assert any(p.endswith("values.enc.age.yaml") for p in paths)  # sops block, nothing encrypted
    assert not any(p.endswith("zigbee2mqtt/app/secret.yaml") for p in paths)  # ${VAR} only
    keys = [f for f in _fails(report, "secrets.no-plaintext-credentials") if f["severity"] == "critical"]
    assert len(keys) == 3 and all("PRIVATE KEY" in f["message"] for f in keys)


def test_j0sh3rs_empty_values_are_not_leaks():
    report = scan(str(_repo("j0sh3rs__home-ops")), only=["secrets.sops-encrypted"]).report.to_json_dict()
    assert not _fails(report, "secrets.sops-encrypted")
    assert _check(report, "secrets.sops-encrypted")["subjects"]["total"] >= 63


def test_bjw_s_op_references_pass():
    report = scan(str(_repo("bjw-s-labs__home-ops")), only=["secrets.sops-encrypted"]).report.to_json_dict()
    assert not _fails(report, "secrets.sops-encrypted")
