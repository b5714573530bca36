"""The node checks never contradict each other or the policy layer: one Talos model, one verdict per
cluster for the API server's settings, templates read as far as they are YAML."""
from __future__ import annotations

from pathlib import Path

from tests.support.scanning import scan
from tests.support.repos import write as write_file

TALCONFIG = """
talosVersion: v1.12.1
kubernetesVersion: v1.35.0
clusterName: demo
endpoint: https://10.0.0.10:6443
nodes:
  - {hostname: cp-1, ipAddress: 10.0.0.11, controlPlane: true}
controlPlane:
  patches:
    - "@./patches/controller.yaml"
"""


def write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        write_file(root, rel, text)
    return root


def findings(root: Path, *ids):
    report = scan(str(root), only=list(ids)).report.to_json_dict()
    return {c["id"]: c["findings"] for c in report["checks"]}


def test_an_unreferenced_patch_is_not_a_second_cluster(tmp_path):
    # talos/patches/old.yaml is applied to no node: judging it as a cluster of its own gave a pass
    # (Talos defaults + that patch) beside the talconfig's fail.
    write(tmp_path, {
        "talos/talconfig.yaml": TALCONFIG,
        "talos/patches/controller.yaml": "- op: remove\n  path: /cluster/apiServer/admissionControl\n",
        "talos/patches/old.yaml": "cluster:\n  apiServer:\n    extraArgs: {feature-gates: X=true}\n",
    })
    got = findings(tmp_path, "nodes.pod-security-admission", "nodes.apiserver-audit-policy")
    assert [(f["status"], f["subject"]) for f in got["nodes.pod-security-admission"]] == [
        ("fail", "Talos controlplane nodes (talos/talconfig.yaml)")]
    assert len(got["nodes.apiserver-audit-policy"]) == 1


def test_node_and_policy_layers_read_the_same_pod_security_default(tmp_path):
    write(tmp_path, {
        "talos/talconfig.yaml": TALCONFIG.replace('    - "@./patches/controller.yaml"',
                                                  '    - "@./patches/reset.yaml"\n    - "@./patches/controller.yaml"'),
        "talos/patches/reset.yaml": "cluster:\n  apiServer:\n    admissionControl: []\n",
        "talos/patches/controller.yaml": """
            cluster:
              apiServer:
                admissionControl:
                  - name: PodSecurity
                    configuration:
                      defaults: {enforce: restricted}
            """,
    })
    got = findings(tmp_path, "nodes.pod-security-admission", "policy.pod-security-coverage")
    [node] = got["nodes.pod-security-admission"]
    assert node["status"] == "pass" and "enforce=restricted" in node["message"]
    default = got["policy.pod-security-coverage"][0]["evidence"]["psa"]["cluster_default"]
    assert (default["enforce"], default["audit"], default["warn"]) == ("restricted", "restricted", "restricted")
    assert default["from"] == "talos/patches/controller.yaml:3"


def test_a_level_set_by_a_template_expression_is_not_read_as_a_level(tmp_path):
    write(tmp_path, {
        "talos/talconfig.yaml.j2": TALCONFIG,
        "talos/patches/controller.yaml.j2": """
            cluster:
              apiServer:
                admissionControl:
                  - name: PodSecurity
                    configuration:
                      defaults:
                        enforce: {{ pss_level }}
            """,
    })
    got = findings(tmp_path, "nodes.pod-security-admission", "policy.pod-security-coverage")
    [node] = got["nodes.pod-security-admission"]
    assert node["status"] == "warn" and "template expression ({{ pss_level }}" in node["message"]
    assert node["location"] == {"path": "talos/patches/controller.yaml.j2", "line": 3}
    assert node["evidence"]["read_from_templates"] == ["talos/patches/controller.yaml.j2", "talos/talconfig.yaml.j2"]
    default = got["policy.pod-security-coverage"][0]["evidence"]["psa"]["cluster_default"]
    assert default["enforce"] == "privileged"  # unknown is never credited as enforcement
