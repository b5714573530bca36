"""Workload least-privilege and RBAC checks over raw manifests and app-template values, at exact lines."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.support.paths import TARGET
from tests.support.scanning import scan


def repo(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    return root


def verdicts(root: Path, check_id: str) -> dict[str, dict]:
    r = scan(str(root), only=[check_id]).report.to_json_dict()
    c = next(c for c in r["checks"] if c["id"] == check_id)
    return {f["subject"]: f for f in c["findings"]}


RAW = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: raw, namespace: demo}
spec:
  selector: {matchLabels: {app: raw}}
  template:
    metadata: {labels: {app: raw}}
    spec:
      hostPID: true
      securityContext:
        runAsUser: 0
      containers:
        - name: app
          image: ghcr.io/example/app
          securityContext:
            allowPrivilegeEscalation: true
            capabilities:
              add: [SYS_PTRACE]
      volumes:
        - name: root
          hostPath: {path: /}
        - name: data
          hostPath: {path: /mnt/data}
"""
# line numbers inside RAW (1-based)
RAW_LINES = {"hostPID": 9, "runAsUser": 11, "image": 14, "ape": 16, "add": 18, "hostPath_root": 21}

V3 = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: legacy, namespace: media}
spec:
  chart: {spec: {chart: app-template, version: 3.7.3, sourceRef: {kind: HelmRepository, name: bjw-s}}}
  values:
    controllers:
      main:
        containers:
          main:
            image: {repository: ghcr.io/example/legacy, tag: latest}
            securityContext:
              privileged: true
    persistence:
      dev:
        type: hostPath
        hostPath: /dev/dri
"""

V4_HARDENED = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: hard, namespace: media}
spec:
  chart: {spec: {chart: app-template, version: 4.4.0, sourceRef: {kind: HelmRepository, name: bjw-s}}}
  values:
    defaultPodOptions:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        runAsUser: 568
        seccompProfile: {type: RuntimeDefault}
    controllers:
      hard:
        defaultContainerOptions:
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources: {limits: {memory: 128Mi}}
        containers:
          app:
            image: {repository: ghcr.io/example/hard, tag: 1.0.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}
          sidecar:
            image: {repository: ghcr.io/example/side, tag: 2.0.0}
            securityContext: {privileged: false}
"""


def test_raw_manifest_findings_at_exact_lines(tmp_path):
    root = repo(tmp_path, {"raw.yaml": RAW})
    subj = "Deployment demo/raw"
    cases = {
        "workloads.no-host-namespaces": RAW_LINES["hostPID"],
        "workloads.run-as-non-root": RAW_LINES["runAsUser"],
        "workloads.no-privilege-escalation": RAW_LINES["ape"],
        "workloads.capabilities": RAW_LINES["add"],
        "workloads.no-host-path": RAW_LINES["hostPath_root"],
        "workloads.image-tag": RAW_LINES["image"],
    }
    for cid, line in cases.items():
        f = verdicts(root, cid)[subj]
        assert f["status"] == "fail", cid
        assert f["location"] == {"path": "raw.yaml", "line": line}, (cid, f["location"])
    hp = verdicts(root, "workloads.no-host-path")[subj]
    assert hp["severity"] == "critical" and len(hp["evidence"]["host_paths"]) == 2
    assert verdicts(root, "workloads.run-as-non-root")[subj]["severity"] == "high"
    assert verdicts(root, "workloads.service-account-token")[subj]["status"] == "fail"  # default SA, k8s default


def test_app_template_v3_main_main_shape(tmp_path):
    root = repo(tmp_path, {"hr.yaml": V3})
    subj = "Deployment media/legacy"
    f = verdicts(root, "workloads.no-privileged-containers")[subj]
    assert f["status"] == "fail" and f["location"]["line"] == 13
    f = verdicts(root, "workloads.image-tag")[subj]
    assert f["status"] == "fail" and f["location"]["line"] == 11 and "latest" in f["message"]
    f = verdicts(root, "workloads.no-host-path")[subj]
    assert f["status"] == "fail" and f["severity"] == "critical" and f["location"]["line"] == 17  # /dev/dri
    f = verdicts(root, "workloads.service-account-token")[subj]
    assert f["status"] == "fail" and "3.7.3 chart default" in f["message"]


def test_app_template_v4_hardened_with_default_container_options(tmp_path):
    root = repo(tmp_path, {"hr.yaml": V4_HARDENED})
    subj = "Deployment media/hard"
    for cid in ("workloads.no-privileged-containers", "workloads.run-as-non-root",
                "workloads.seccomp-profile", "workloads.no-host-namespaces", "workloads.no-host-path",
                "workloads.service-account-token", "workloads.image-tag", "workloads.resource-limits"):
        assert verdicts(root, cid)[subj]["status"] == "pass", cid
    # `overwrite` (default strategy): the sidecar's own securityContext replaces the default one entirely
    for cid in ("workloads.no-privilege-escalation", "workloads.read-only-root-filesystem", "workloads.capabilities"):
        f = verdicts(root, cid)[subj]
        assert f["status"] == "fail" and "sidecar" in f["message"] and "app" not in f["evidence"]["findings"][0].split()[1], cid
        assert f["location"]["line"] == 26, cid  # the sidecar's securityContext
    merged = V4_HARDENED.replace("        defaultContainerOptions:", "        defaultContainerOptionsStrategy: merge\n"
                                                                     "        defaultContainerOptions:")
    root2 = repo(tmp_path / "merged", {"hr.yaml": merged})
    for cid in ("workloads.no-privilege-escalation", "workloads.read-only-root-filesystem", "workloads.capabilities"):
        assert verdicts(root2, cid)[subj]["status"] == "pass", cid
    f = verdicts(root, "workloads.image-digest")[subj]
    assert f["status"] == "fail" and "side" in f["message"] and f["location"]["line"] == 25


@pytest.mark.parametrize("version,status", [("3.7.3", "fail"), ("4.4.0", "fail"), ("5.1.0", "pass")])
def test_service_account_token_chart_defaults(tmp_path, version, status):
    hr = V3.replace("3.7.3", version)
    f = verdicts(repo(tmp_path, {"hr.yaml": hr}), "workloads.service-account-token")["Deployment media/legacy"]
    assert f["status"] == status
    assert f["evidence"]["decided_by"].startswith(f"app-template {version}")


def test_service_account_token_from_serviceaccount_object(tmp_path):
    sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: default, namespace: demo}\nautomountServiceAccountToken: false\n"
    f = verdicts(repo(tmp_path, {"raw.yaml": RAW, "sa.yaml": sa}), "workloads.service-account-token")["Deployment demo/raw"]
    assert f["status"] == "pass" and f["evidence"]["decided_by"] == "ServiceAccount default"


def test_explicit_token_for_dedicated_account_is_a_warning(tmp_path):
    hr = V3.replace("    controllers:\n", "    defaultPodOptions:\n      automountServiceAccountToken: true\n"
                                          "      serviceAccountName: legacy-api\n    controllers:\n")
    f = verdicts(repo(tmp_path, {"hr.yaml": hr}), "workloads.service-account-token")["Deployment media/legacy"]
    assert f["status"] == "warn"


def test_capabilities_levels(tmp_path):
    def caps(add, drop):
        return RAW.replace("add: [SYS_PTRACE]", f"add: {add}\n              drop: {drop}")
    assert verdicts(repo(tmp_path / "a", {"r.yaml": caps("[NET_BIND_SERVICE]", "[ALL]")}),
                    "workloads.capabilities")["Deployment demo/raw"]["status"] == "pass"
    f = verdicts(repo(tmp_path / "b", {"r.yaml": caps("[CHOWN]", "[NET_RAW]")}), "workloads.capabilities")["Deployment demo/raw"]
    assert f["status"] == "fail" and f["severity"] == "medium" and "drop ALL" in f["message"]
    f = verdicts(repo(tmp_path / "c", {"r.yaml": caps("[CAP_NET_ADMIN]", "[ALL]")}), "workloads.capabilities")["Deployment demo/raw"]
    assert f["severity"] == "high" and "NET_ADMIN" in f["message"]


def test_seccomp_pod_level_covers_containers_and_unconfined_fails(tmp_path):
    ok = RAW.replace("        runAsUser: 0\n", "        runAsUser: 0\n        seccompProfile: {type: RuntimeDefault}\n")
    assert verdicts(repo(tmp_path / "a", {"r.yaml": ok}), "workloads.seccomp-profile")["Deployment demo/raw"]["status"] == "pass"
    bad = ok.replace("            allowPrivilegeEscalation: true\n",
                     "            allowPrivilegeEscalation: true\n            seccompProfile: {type: Unconfined}\n")
    f = verdicts(repo(tmp_path / "b", {"r.yaml": bad}), "workloads.seccomp-profile")["Deployment demo/raw"]
    assert f["status"] == "fail" and f["severity"] == "high" and f["location"]["line"] == 18


def test_run_as_non_root_variants(tmp_path):
    uid = RAW.replace("runAsUser: 0", "runAsUser: 1000")
    assert verdicts(repo(tmp_path / "a", {"r.yaml": uid}), "workloads.run-as-non-root")["Deployment demo/raw"]["status"] == "pass"
    unset = RAW.replace("      securityContext:\n        runAsUser: 0\n", "")
    f = verdicts(repo(tmp_path / "b", {"r.yaml": unset}), "workloads.run-as-non-root")["Deployment demo/raw"]
    assert f["status"] == "fail" and f["severity"] == "medium"
    userns = RAW.replace("      hostPID: true\n", "      hostUsers: false\n")
    assert verdicts(repo(tmp_path / "c", {"r.yaml": userns}), "workloads.run-as-non-root")["Deployment demo/raw"]["status"] == "pass"


def test_undeployed_workloads_are_ignored(tmp_path):
    root = repo(tmp_path, {"archive/raw.yaml": RAW, "hr.yaml": V4_HARDENED})
    assert "Deployment demo/raw" not in verdicts(root, "workloads.no-host-namespaces")


# ---- RBAC ------------------------------------------------------------------------------------------------

RBAC = """
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: wild}
rules:
  - apiGroups: ["*"]
    resources: ["*"]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: impersonator}
rules:
  - apiGroups: [""]
    resources: [users, groups]
    verbs: [impersonate]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: wild}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: wild}
subjects: [{kind: ServiceAccount, name: scanner, namespace: tools}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: flux-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: kustomize-controller, namespace: flux-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: everyone-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: Group, name: "system:authenticated", apiGroup: rbac.authorization.k8s.io}]
"""


def test_rbac_checks(tmp_path):
    root = repo(tmp_path, {"rbac.yaml": RBAC})
    v = verdicts(root, "workloads.rbac-wildcards")
    assert v["ClusterRole wild"]["status"] == "fail" and v["ClusterRole wild"]["location"]["line"] == 5
    assert v["ClusterRole impersonator"]["status"] == "pass"
    v = verdicts(root, "workloads.rbac-secrets-access")
    assert v["ClusterRole wild"]["status"] == "fail" and "wild" in v["ClusterRole wild"]["message"]
    assert "scope" in v["ClusterRole wild"]["evidence"]
    v = verdicts(root, "workloads.rbac-escalation-verbs")
    assert v["ClusterRole impersonator"]["status"] == "fail" and v["ClusterRole impersonator"]["location"]["line"] == 15
    v = verdicts(root, "workloads.rbac-cluster-admin-bindings")
    assert v["ClusterRoleBinding flux-admin"]["status"] == "warn"
    assert v["ClusterRoleBinding everyone-admin"]["status"] == "fail"
    assert v["ClusterRoleBinding everyone-admin"]["severity"] == "critical"
    assert v["ClusterRoleBinding wild"]["status"] == "pass"


# ---- the target cluster --------------------------------------------------------------------------------------

@pytest.mark.skipif(not TARGET.is_dir(), reason="corpus not available")
def test_target_cluster_workloads():
    r = scan(str(TARGET), only=["workloads"]).report.to_json_dict()
    checks = {c["id"]: c for c in r["checks"]}
    priv = {f["subject"]: f for f in checks["workloads.no-privileged-containers"]["findings"] if f["status"] == "fail"}
    nut = priv["Deployment kube-system/nut-upsd"]
    assert nut["location"] == {"path": "kubernetes/apps/kube-system/nut-upsd/app/helmrelease.yaml", "line": 31}
    assert "Deployment observability/peanut" in priv
    dcgm = priv["DaemonSet observability/dcgm-exporter"]  # third-party chart values, derived from the known-chart table
    assert dcgm["location"] == {"path": "kubernetes/apps/observability/exporters/dcgm-exporter/app/helmrelease.yaml",
                                "line": 73}
    hn = {f["subject"] for f in checks["workloads.no-host-namespaces"]["findings"] if f["status"] == "fail"}
    assert "Deployment home-automation/home-assistant" in hn
    tags = " ".join(f["message"] for f in checks["workloads.image-tag"]["findings"] if f["status"] == "fail")
    assert "latest" in tags
