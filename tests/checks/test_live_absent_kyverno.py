"""A live cluster without Kyverno's CRDs: the policy layer says so (absence is a finding)."""
from __future__ import annotations

import pytest

from tests.fakekube.server import FakeKube
from tests.support.scanning import scan

pytestmark = pytest.mark.timeout(120)


def test_cluster_without_kyverno_crds_fails_kyverno_deployed(tmp_path):
    fake = FakeKube(workdir=tmp_path, missing_groups=("kyverno.io",))
    fake.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}})
    with fake:
        report = scan(None, cluster=True, kubeconfig=str(fake.write_kubeconfig())).report.to_json_dict()
    check = next(c for c in report["checks"] if c["id"] == "policy.kyverno-deployed")
    assert check["status"] == "fail" and check["score"] == 0
    assert "CRDs not installed" in check["findings"][0]["message"]
