"""The scanner's own deployment passes the scanner's own checks: `posture scan deploy/base` and
`posture scan deploy/` show no finding against the scanner's manifests (no waiver involved), and
the shipped manifests hold the properties the issue names (no Secret grant, DNS and API-server
egress only, digest-pinned, non-root, read-only root filesystem, seccomp RuntimeDefault)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.paths import ROOT
from tests.support.scanning import scan

DEPLOY = ROOT / "deploy"
OPEN = ("fail", "warn", "waived")


def _own(report: dict) -> list[tuple[str, str, str]]:
    """Open findings against a file of the scanned folder or an object of the scanner's own."""
    out = []
    for c in report["checks"]:
        for f in c["findings"]:
            if f["status"] not in OPEN:
                continue
            path = (f.get("location") or {}).get("path") or ""
            res = f.get("resource") or {}
            own = (path not in ("", ".") and not path.startswith("cluster://")) or res.get("namespace") == "posture" \
                or str(res.get("name") or "").startswith(("posture", "gitops-posture"))
            if own:
                out.append((c["id"], f["status"], f"{path}: {f['message']}"))
    return out


def test_deploy_base_passes_its_own_checks():
    report = scan(str(DEPLOY / "base")).report.to_json_dict()
    assert not report["waivers"], "no waiver: the manifests pass on their own"
    assert _own(report) == []
    checks = {c["id"]: c for c in report["checks"]}
    # The checks that matter for it ran and passed on its objects (not "not applicable").
    for cid in ("workloads.no-privileged-containers", "workloads.image-digest", "workloads.service-account-token",
                "workloads.rbac-secrets-access", "segmentation.egress-control", "segmentation.default-deny-ingress"):
        assert checks[cid]["status"] == "pass", (cid, checks[cid]["status"])


def test_deploy_folder_passes_its_own_checks():
    report = scan(str(DEPLOY)).report.to_json_dict()
    assert _own(report) == []


def _rendered(folder: Path) -> list[dict]:
    kubectl = shutil.which("kubectl") or str(ROOT / ".venv" / "bin" / "kubectl")
    if not Path(kubectl).exists():
        pytest.skip("no kubectl to build the kustomization")
    out = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=120, check=True)
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def test_rendered_base_grants_no_secret_access_and_egress_is_dns_and_api_server_only():
    docs = _rendered(DEPLOY / "base")
    for d in docs:
        if d["kind"] in ("ClusterRole", "Role"):
            for rule in d.get("rules") or []:
                assert not {"secrets", "*"} & set(rule.get("resources") or []), rule
    [np] = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert set(np["spec"]["policyTypes"]) == {"Ingress", "Egress"} and np["spec"]["ingress"] == []
    dns, api = np["spec"]["egress"]
    assert {p["port"] for p in dns["ports"]} == {53} and dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
    assert {p["port"] for p in api["ports"]} == {443, 6443}
    assert all("ipBlock" in t and t["ipBlock"]["cidr"] != "0.0.0.0/0" for t in api["to"])  # not "anywhere"
    [cj] = [d for d in docs if d["kind"] == "CronJob"]
    pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [c] = pod["containers"]
    assert "@sha256:" in c["image"]
    assert pod["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_overlays_build_and_signed_adds_the_key():
    signed = _rendered(DEPLOY / "overlays" / "signed")
    [cj] = [d for d in signed if d["kind"] == "CronJob"]
    c = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert c["args"][-2:] == ["--sign-key", "/keys/posture.key"]
    secret_meta = _rendered(DEPLOY / "overlays" / "secret-metadata")
    assert any(d["kind"] == "ClusterRole" and d["metadata"]["name"] == "posture-scanner-secret-metadata" for d in secret_meta)
    cilium = _rendered(DEPLOY / "overlays" / "cilium")
    [cnp] = [d for d in cilium if d["kind"] == "CiliumNetworkPolicy"]
    assert cnp["spec"]["egress"][0]["toEntities"] == ["kube-apiserver"]
