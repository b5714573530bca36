"""Talos node layer: talconfig + patches merged in order, findings on the deciding patch line."""
from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from tests.support.paths import CORPUS
from tests.support.scanning import scan


def write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip())
    return root


def run(root: Path, *ids):
    report = scan(str(root), only=list(ids) or None).report.to_json_dict()
    return {c["id"]: c for c in report["checks"]}


TALCONFIG = """
talosVersion: ${talosVersion}
kubernetesVersion: v1.35.1
clusterName: home
endpoint: https://10.0.0.10:6443
allowSchedulingOnControlPlanes: true
nodes:
  - hostname: cp-1
    ipAddress: 10.0.0.11
    controlPlane: true
  - hostname: gpu-1
    ipAddress: 10.0.0.21
    controlPlane: false
    patches:
      - "@./patches/gpu.yaml"
patches:
  - "@./patches/global/kubelet.yaml"
  - |-
    machine:
      sysctls:
        vm.max_map_count: "262144"
controlPlane:
  patches:
    - "@./patches/controller/admission-empty.yaml"
    - "@./patches/controller/cluster.yaml"
    - "@./patches/controller/api-access.yaml"
"""


@pytest.fixture()
def talos_repo(tmp_path):
    return write(tmp_path, {
        "talos/talconfig.yaml": TALCONFIG,
        "talos/talenv.yaml": "talosVersion: v1.12.4\n",
        "talos/patches/global/kubelet.yaml": """
            machine:
              kubelet:
                extraConfig:
                  readOnlyPort: 10255
            """,
        "talos/patches/gpu.yaml": "machine:\n  kernel:\n    modules:\n      - name: nvidia\n",
        "talos/patches/controller/admission-empty.yaml": "cluster:\n  apiServer:\n    admissionControl: []\n",
        "talos/patches/controller/cluster.yaml": """
            cluster:
              apiServer:
                admissionControl:
                  - name: PodSecurity
                    configuration:
                      apiVersion: pod-security.admission.config.k8s.io/v1beta1
                      kind: PodSecurityConfiguration
                      exemptions:
                        namespaces: [openebs-system]
              controllerManager:
                extraArgs:
                  bind-address: 0.0.0.0
              etcd:
                extraArgs:
                  listen-metrics-urls: http://0.0.0.0:2381
            """,
        "talos/patches/controller/api-access.yaml": """
            machine:
              features:
                kubernetesTalosAPIAccess:
                  enabled: true
                  allowedRoles: ["os:admin"]
                  allowedKubernetesNamespaces: ["actions-runner-system"]
            """,
        "talos/talsecret.sops.yaml": """
            cluster:
              id: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]
              secret: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]
            secrets:
              bootstraptoken: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]
            certs:
              os:
                key: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]
            sops:
              mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]
              version: 3.9.0
            """,
        "talos/clusterconfig/.gitignore": "home-cp-1.yaml\ntalosconfig\n",
    })


def fails(check):
    return [f for f in check["findings"] if f["status"] == "fail"]


def test_talconfig_patches_merge_and_point_at_the_deciding_line(talos_repo):
    c = run(talos_repo)
    api = fails(c["nodes.talos-api-access"])
    assert api and "os:admin" in api[0]["message"] and "kubernetesTalosAPIAccess" in api[0]["message"]
    assert api[0]["location"]["path"] == "talos/patches/controller/api-access.yaml"
    assert api[0]["location"]["line"] == 5

    # `admissionControl: []` in a strategic merge patch changes nothing (Talos merges the list by plugin
    # name): the later PodSecurity entry merges into Talos's default, baseline stays, the exemption is added.
    psa = c["nodes.pod-security-admission"]["findings"]
    assert [f["status"] for f in psa] == ["warn"]
    assert "enforce=baseline" in psa[0]["message"] and "openebs-system" in psa[0]["message"]
    assert "admissionControl: [] (a strategic merge patch cannot empty it" in psa[0]["message"]
    assert psa[0]["evidence"]["exempt_namespaces"] == ["kube-system", "openebs-system"]
    assert psa[0]["location"]["path"] == "talos/patches/controller/cluster.yaml"

    bind = fails(c["nodes.control-plane-bind-address"])
    assert [f["message"].split()[0] for f in bind] == ["controllerManager"]
    assert fails(c["nodes.etcd-exposure"])[0]["location"]["line"] == 15
    kubelet = fails(c["nodes.kubelet-settings"])
    assert kubelet and "readOnlyPort" in kubelet[0]["message"]
    # the global kubelet patch holds for controlplane, worker-less roles and the gpu node: one merged subject
    assert len(kubelet) == 1 and "node gpu-1" in kubelet[0]["subject"]
    sched = fails(c["nodes.control-plane-scheduling"])
    assert sched and sched[0]["location"]["path"] == "talos/talconfig.yaml"
    versions = {f["subject"].split()[0]: f for f in c["nodes.version-currency"]["findings"]}
    assert versions["Talos"]["status"] == "pass" and "v1.12.4" in versions["Talos"]["message"]  # from talenv
    assert c["nodes.talos-secrets-encrypted"]["status"] == "pass"
    assert c["nodes.clusterconfig-ignored"]["status"] == "pass"
    assert c["nodes.disk-encryption"]["status"] == "fail"
    assert c["nodes.apiserver-audit-policy"]["status"] == "pass"  # Talos default kept
    assert c["nodes.apiserver-anonymous-auth"]["status"] == "pass"


def test_json6902_remove_and_later_full_config(tmp_path):
    write(tmp_path, {
        "talos/talconfig.yaml": """
            talosVersion: v1.12.0
            kubernetesVersion: v1.35.0
            clusterName: c
            endpoint: https://1.2.3.4:6443
            nodes: [{hostname: a, ipAddress: 1.2.3.5, controlPlane: true}]
            controlPlane:
              patches: ["@./patches/psa.yaml"]
            """,
        "talos/patches/psa.yaml": "- op: remove\n  path: /cluster/apiServer/admissionControl\n",
        ".gitignore": "talos/clusterconfig/\n",
    })
    c = run(tmp_path, "nodes.pod-security-admission", "nodes.clusterconfig-ignored")
    f = fails(c["nodes.pod-security-admission"])
    assert f and "remove /cluster/apiServer/admissionControl" in f[0]["message"]
    cc = c["nodes.clusterconfig-ignored"]["findings"][0]
    assert cc["status"] == "pass" and cc["location"]["path"] == ".gitignore"


def test_plaintext_talsecret_and_committed_clusterconfig_fail(tmp_path):
    write(tmp_path, {
        "talos/talconfig.yaml": "talosVersion: v1.12.0\nclusterName: c\nendpoint: https://x:6443\nnodes: []\n",
        "talos/talsecret.yaml": "cluster:\n  id: abc\n  secret: plain\nsecrets:\n  bootstraptoken: a.b\ncerts:\n  os:\n    key: LS0t\n",
        "talos/clusterconfig/c-a.yaml": "version: v1alpha1\nmachine:\n  type: controlplane\n  token: abc.def\n  kubelet: {}\ncluster:\n  secret: s\n  apiServer: {}\n",
    })
    c = run(tmp_path, "nodes.talos-secrets-encrypted", "nodes.clusterconfig-ignored")
    msgs = " ".join(f["message"] for f in fails(c["nodes.talos-secrets-encrypted"]))
    assert "secrets bundle committed unencrypted" in msgs and "machine config committed unencrypted" in msgs
    assert fails(c["nodes.clusterconfig-ignored"])


def test_standalone_v1alpha1_docs_and_volume_encryption(tmp_path):
    write(tmp_path, {
        "talos/controlplane.yaml": """
            version: v1alpha1
            machine:
              type: controlplane
              kubelet:
                extraArgs:
                  rotate-server-certificates: "true"
              install:
                image: ghcr.io/siderolabs/installer:v1.11.2
            cluster:
              apiServer:
                image: registry.k8s.io/kube-apiserver:v1.34.1
                admissionControl:
                  - name: PodSecurity
                    configuration:
                      defaults: {enforce: baseline, audit: restricted, warn: restricted}
                      exemptions: {namespaces: [kube-system]}
                auditPolicy: {apiVersion: audit.k8s.io/v1, kind: Policy, rules: [{level: Metadata}]}
            sops:
              mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]
            ---
            apiVersion: v1alpha1
            kind: VolumeConfig
            name: STATE
            encryption:
              provider: luks2
              keys:
                - slot: 0
                  tpm: {}
            """,
    })
    c = run(tmp_path)
    for cid in ("nodes.pod-security-admission", "nodes.disk-encryption", "nodes.kubelet-settings",
                "nodes.version-currency", "nodes.apiserver-audit-policy"):
        assert c[cid]["status"] == "pass", (cid, c[cid]["findings"])


def test_no_talos_config_is_a_finding_not_na(tmp_path):
    write(tmp_path, {"kubernetes/apps/x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: d}\n"})
    c = run(tmp_path)
    for cid in ("nodes.pod-security-admission", "nodes.talos-api-access", "nodes.disk-encryption"):
        f = c[cid]["findings"]
        assert len(f) == 1 and f[0]["status"] == "fail" and "no Talos machine configuration" in f[0]["subject"]
    write(tmp_path, {"kubernetes/talos/schematic.yaml": "customization:\n  systemExtensions: {}\n"})
    c = run(tmp_path, "nodes.disk-encryption")
    assert c["nodes.disk-encryption"]["findings"][0]["status"] == "warn"


def test_helm_values_with_cluster_key_are_not_machine_configs(tmp_path):
    write(tmp_path, {"talos/values.yaml": "cluster:\n  name: home\n  id: 1\n"})
    c = run(tmp_path, "nodes.disk-encryption")
    assert "no Talos machine configuration" in c["nodes.disk-encryption"]["findings"][0]["subject"]


@pytest.mark.skipif(not (CORPUS / "dapperdivers__dapper-cluster").is_dir(), reason="corpus absent")
def test_corpus_target_os_admin_and_psa():
    c = run(CORPUS / "dapperdivers__dapper-cluster")
    api = fails(c["nodes.talos-api-access"])
    assert api and "os:admin" in api[0]["message"]
    assert "actions-runner-system" in api[0]["message"] and "system-upgrade" in api[0]["message"]
    psa = c["nodes.pod-security-admission"]["findings"]
    assert len(psa) == 1 and psa[0]["status"] == "warn" and "openebs-system" in psa[0]["message"]
    assert "admissionControl: []" in psa[0]["message"]
    assert c["nodes.talos-secrets-encrypted"]["status"] == "pass"
    assert c["nodes.clusterconfig-ignored"]["status"] == "pass"
    assert len(fails(c["nodes.control-plane-bind-address"])) == 2
    assert fails(c["nodes.etcd-exposure"])


@pytest.mark.skipif(not (CORPUS / "roblandry__home-ops").is_dir(), reason="corpus absent")
def test_corpus_old_talconfig_ignored_and_json_patch():
    c = run(CORPUS / "roblandry__home-ops", "nodes.pod-security-admission", "nodes.version-currency")
    subjects = " ".join(f["subject"] for f in c["nodes.version-currency"]["findings"])
    assert "talconfig_old" not in subjects
    assert "remove /cluster/apiServer/admissionControl" in fails(c["nodes.pod-security-admission"])[0]["message"]
