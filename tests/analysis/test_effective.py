"""Effective posture: what the cluster does to an object beyond its manifest (scanner.analysis.effective).

Each test scans a small fixture repo and asserts the exact subjects and statuses: node defaults (Talos
seccomp), admission mutation (Kyverno) and rejection (Pod Security Admission), cluster-wide network
policy, routes nobody serves, Gateway-level auth; and how mitigated findings show in the report."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reports import junit, markdown, sarif
from scanner.engine.report_schema import SCHEMA_PATH
from tests.support.scanning import scan

KYVERNO = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: kyverno, namespace: kyverno}
spec:
  chart: {spec: {chart: kyverno, version: 3.3.0, sourceRef: {kind: HelmRepository, name: kyverno}}}
"""


def deploy(name: str, ns: str, pod_sc: str = "{}", sc: str = "{}", extra: str = "") -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      securityContext: {pod_sc}
      containers:
        - name: app
          image: ghcr.io/example/{name}:1.0
          securityContext: {sc}
{extra}"""


def write(root: Path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return str(root)


def statuses(report: dict, check_id: str) -> dict[str, str]:
    check = next(c for c in report["checks"] if c["id"] == check_id)
    return {f["subject"]: f["status"] for f in check["findings"]}


def finding(report: dict, check_id: str, subject: str) -> dict:
    check = next(c for c in report["checks"] if c["id"] == check_id)
    return next(f for f in check["findings"] if f["subject"] == subject)


# ---- node defaults: the Talos kubelet seccomp default ------------------------------------------------

MACHINE = """version: v1alpha1
machine:
  type: {role}
  kubelet:
    image: ghcr.io/siderolabs/kubelet:v1.34.1
    defaultRuntimeSeccompProfileEnabled: {value}
  install: {{disk: /dev/sda}}
cluster:
  clusterName: home
  controlPlane: {{endpoint: "https://10.0.0.10:6443"}}
"""
TALCONFIG = """talosVersion: {version}
kubernetesVersion: v1.34.1
clusterName: home
endpoint: https://10.0.0.10:6443
nodes:
  - {{hostname: cp-1, ipAddress: 10.0.0.11, controlPlane: true, installDisk: /dev/sda}}
  - {{hostname: w-1, ipAddress: 10.0.0.21, controlPlane: false, installDisk: /dev/sda}}
{patches}"""
OFF_PATCH = "machine:\n  kubelet:\n    defaultRuntimeSeccompProfileEnabled: false\n"


def _seccomp(tmp_path, files) -> tuple[dict, dict]:
    root = write(tmp_path / "repo", dict(files, **{"apps/worker.yaml": deploy("worker", "demo", "{runAsNonRoot: true}")}))
    report = scan(root, only=["workloads.seccomp-profile", "nodes.kubelet-settings"]).report.to_json_dict()
    return statuses(report, "workloads.seccomp-profile"), finding(report, "workloads.seccomp-profile", "Deployment demo/worker")


def test_seccomp_default_explicit_in_machine_config(tmp_path):
    got, f = _seccomp(tmp_path, {"talos/controlplane.yaml": MACHINE.format(role="controlplane", value="true")})
    assert got == {"Deployment demo/worker": "mitigated"}
    by = f["mitigated_by"][0]
    assert by["layer"] == "nodes" and by["path"] == "talos/controlplane.yaml" and by["line"] == 6


def test_seccomp_default_by_talhelper_generator_default(tmp_path):
    got, f = _seccomp(tmp_path, {"talos/talconfig.yaml": TALCONFIG.format(version="v1.9.0", patches="")})
    assert got == {"Deployment demo/worker": "mitigated"}
    assert "generator's default" in f["mitigated_by"][0]["detail"] and f["mitigated_by"][0]["path"] == "talos/talconfig.yaml"


def test_seccomp_default_off_explicit_and_by_worker_patch(tmp_path):
    got, f = _seccomp(tmp_path / "a", {"talos/controlplane.yaml": MACHINE.format(role="controlplane", value="false")})
    assert got == {"Deployment demo/worker": "fail"}
    assert f["severity"] == "medium" and "kubelet default is off" in f["message"]
    # talhelper: workers patched off, control planes on (and unschedulable): pods land on the workers
    patches = "worker:\n  patches: ['@./patches/seccomp-off.yaml']\n"
    got, f = _seccomp(tmp_path / "b", {"talos/talconfig.yaml": TALCONFIG.format(version="v1.9.0", patches=patches),
                                       "talos/patches/seccomp-off.yaml": OFF_PATCH})
    assert got == {"Deployment demo/worker": "fail"}
    assert "talos/patches/seccomp-off.yaml" in f["message"]


def test_seccomp_default_off_is_a_node_finding_of_its_own(tmp_path):
    root = write(tmp_path / "repo", {"talos/controlplane.yaml": MACHINE.format(role="controlplane", value="false")})
    report = scan(root, only=["nodes.kubelet-settings"]).report.to_json_dict()
    (f,) = next(c for c in report["checks"] if c["id"] == "nodes.kubelet-settings")["findings"]
    assert f["status"] == "fail" and "defaultRuntimeSeccompProfileEnabled=false" in f["message"]


def test_seccomp_default_unknown_without_talos(tmp_path):
    got, f = _seccomp(tmp_path, {})
    assert got == {"Deployment demo/worker": "fail"} and f["severity"] == "low"


# ---- admission mutation: Kyverno ----------------------------------------------------------------------

MUTATE = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: secure-defaults}
spec:
  rules:
    - name: harden
      match: {any: [{resources: {kinds: [Pod]}}]}
      exclude: {any: [{resources: {namespaces: [legacy]}}]}
      mutate:
        patchStrategicMerge:
          spec:
            securityContext:
              +(runAsNonRoot): true
            containers:
              - (name): "*"
                securityContext:
                  capabilities:
                    drop: [ALL]
"""


def test_kyverno_mutate_run_as_non_root_and_drop_all_with_exclude(tmp_path):
    root = write(tmp_path / "repo", {
        "kyverno.yaml": KYVERNO, "policy.yaml": MUTATE,
        "apps.yaml": deploy("web", "apps"),
        "legacy.yaml": deploy("old", "legacy"),
        "explicit.yaml": deploy("root", "apps", "{runAsNonRoot: false}"),  # add-if-absent leaves it
    })
    report = scan(root, only=["workloads.run-as-non-root", "workloads.capabilities", "policy.weakening-mutations"]).report.to_json_dict()
    assert statuses(report, "workloads.run-as-non-root") == {
        "Deployment apps/web": "mitigated", "Deployment legacy/old": "fail", "Deployment apps/root": "fail"}
    assert statuses(report, "workloads.capabilities") == {
        "Deployment apps/web": "mitigated", "Deployment legacy/old": "fail", "Deployment apps/root": "mitigated"}
    by = finding(report, "workloads.run-as-non-root", "Deployment apps/web")["mitigated_by"]
    assert by == [{"layer": "policy", "mechanism": "kyverno-mutate", "path": "policy.yaml", "line": 6,
                   "detail": "ClusterPolicy secure-defaults rule harden: sets runAsNonRoot at admission"}]
    assert statuses(report, "policy.weakening-mutations") == {"ClusterPolicy secure-defaults rule harden": "pass"}


def test_kyverno_mutate_is_not_credited_without_the_engine(tmp_path):
    root = write(tmp_path / "repo", {"policy.yaml": MUTATE, "apps.yaml": deploy("web", "apps")})
    report = scan(root, only=["workloads.run-as-non-root"]).report.to_json_dict()
    assert statuses(report, "workloads.run-as-non-root") == {"Deployment apps/web": "fail"}


WEAKEN = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: debug-tools}
spec:
  rules:
    - name: privileged-debug
      match: {any: [{resources: {kinds: [Pod], namespaces: [tools]}}]}
      mutate:
        patchesJson6902: |-
          - op: add
            path: /spec/containers/0/securityContext/privileged
            value: true
"""


def test_mutation_that_adds_privileges_fails_pass_by_default_subjects(tmp_path):
    root = write(tmp_path / "repo", {"kyverno.yaml": KYVERNO, "weaken.yaml": WEAKEN,
                                     "tools.yaml": deploy("shell", "tools"), "apps.yaml": deploy("web", "apps")})
    report = scan(root, only=["workloads.no-privileged-containers", "policy.weakening-mutations"]).report.to_json_dict()
    assert statuses(report, "workloads.no-privileged-containers") == {
        "Deployment tools/shell": "fail", "Deployment apps/web": "pass"}
    f = finding(report, "workloads.no-privileged-containers", "Deployment tools/shell")
    assert "set at admission by ClusterPolicy debug-tools rule privileged-debug" in f["message"]
    assert statuses(report, "policy.weakening-mutations") == {"ClusterPolicy debug-tools rule privileged-debug": "fail"}
    w = finding(report, "policy.weakening-mutations", "ClusterPolicy debug-tools rule privileged-debug")
    assert w["evidence"]["workloads"] == ["Deployment tools/shell"]


# ---- admission rejection: Pod Security Admission ---------------------------------------------------------

RESTRICTED_NS = """apiVersion: v1
kind: Namespace
metadata:
  name: secure
  labels:
    pod-security.kubernetes.io/enforce: restricted
"""
COMPLIANT = ("{runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}",
             "{allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}")


def test_psa_restricted_namespace_rejects_a_privileged_pod(tmp_path):
    root = write(tmp_path / "repo", {
        "ns.yaml": RESTRICTED_NS,
        "bad.yaml": deploy("priv", "secure", sc="{privileged: true}"),
        "good.yaml": deploy("fine", "secure", *COMPLIANT),
    })
    report = scan(root, only=["workloads.no-privileged-containers", "workloads.admission-rejected"]).report.to_json_dict()
    assert statuses(report, "workloads.admission-rejected") == {
        "Deployment secure/priv": "fail", "Deployment secure/fine": "pass"}
    rej = finding(report, "workloads.admission-rejected", "Deployment secure/priv")
    assert "will be rejected at admission" in rej["message"] and "B3" in " ".join(rej["evidence"]["reasons"])
    assert rej["evidence"]["rejected_by"]["path"] == "ns.yaml" and rej["evidence"]["rejected_by"]["line"] == 6
    # not a privileged workload: it never runs
    assert statuses(report, "workloads.no-privileged-containers") == {
        "Deployment secure/priv": "mitigated", "Deployment secure/fine": "pass"}
    assert finding(report, "workloads.no-privileged-containers", "Deployment secure/priv")["mitigated_by"][0][
        "mechanism"] == "pod-security-admission"


def test_talos_default_baseline_rejects_host_network_in_unlabelled_namespace(tmp_path):
    root = write(tmp_path / "repo", {
        "talos/talconfig.yaml": TALCONFIG.format(version="v1.9.0", patches=""),
        "a.yaml": deploy("net", "apps", extra="      hostNetwork: true\n"),
        "b.yaml": deploy("sys", "kube-system", extra="      hostNetwork: true\n"),  # exempt by Talos
    })
    report = scan(root, only=["workloads.admission-rejected"]).report.to_json_dict()
    assert statuses(report, "workloads.admission-rejected") == {
        "Deployment apps/net": "fail", "Deployment kube-system/sys": "pass"}


# ---- cluster-wide network policy ---------------------------------------------------------------------------

CCNP = """apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: default-deny}
spec:
  endpointSelector:
    matchExpressions: [{key: io.kubernetes.pod.namespace, operator: NotIn, values: [kube-system]}]
  ingress: [{}]
  egress: [{}]
"""
OWN = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: own}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
"""


def test_clusterwide_default_deny_credited_to_the_namespaces_it_selects(tmp_path):
    root = write(tmp_path / "repo", {"ccnp.yaml": CCNP, "own.yaml": OWN,
                                     "a.yaml": deploy("a", "apps"), "b.yaml": deploy("b", "own"),
                                     "c.yaml": deploy("c", "kube-system")})
    report = scan(root, only=["segmentation"]).report.to_json_dict()
    expected = {"namespace apps": "mitigated", "namespace own": "pass", "namespace kube-system": "fail"}
    for cid in ("segmentation.default-deny-ingress", "segmentation.egress-control",
                "segmentation.networkpolicy-per-namespace"):
        assert statuses(report, cid) == expected, cid
    by = finding(report, "segmentation.default-deny-ingress", "namespace apps")["mitigated_by"][0]
    assert by["mechanism"] == "clusterwide-network-policy" and by["path"] == "ccnp.yaml"


# ---- routes nobody serves, Gateway-level auth ---------------------------------------------------------------

def ingress(name: str, cls: str) -> str:
    return f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: apps}}
spec:
  ingressClassName: {cls}
  rules: [{{host: {name}.example.org, http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: x, port: {{number: 80}}}}}}}}]}}}}]
"""


def test_ingress_with_an_unserved_class_is_dead_not_exposed(tmp_path):
    root = write(tmp_path / "repo", {
        "ic.yaml": "apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {name: internal}\n"
                   "spec: {controller: k8s.io/ingress-nginx}\n",
        "ghost.yaml": ingress("ghost", "nothing-serves-this"), "live.yaml": ingress("live", "internal")})
    report = scan(root, only=["gitops.dead-routes", "authentication.authentik-fronted-routes",
                              "perimeter.external-routes-tls"]).report.to_json_dict()
    assert statuses(report, "gitops.dead-routes") == {"Ingress apps/ghost": "fail", "Ingress apps/live": "pass"}
    dead = finding(report, "gitops.dead-routes", "Ingress apps/ghost")
    assert dead["severity"] == "low" and "nothing-serves-this" in dead["message"]
    # the unserved Ingress is no exposed route: only a low warning that it would be exposed unguarded
    assert statuses(report, "authentication.authentik-fronted-routes") == {"Ingress apps/live": "fail",
                                                                           "Ingress apps/ghost": "warn"}


GATEWAY = """apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: internal, namespace: network}
spec:
  gatewayClassName: envoy
  listeners:
    - {name: https, protocol: HTTPS, port: 443, allowedRoutes: {namespaces: {from: All}}}
    - {name: admin, protocol: HTTPS, port: 8443, allowedRoutes: {namespaces: {from: All}}}
"""
GW_POLICY = """apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {name: gw-auth, namespace: network}
spec:
  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: internal, sectionName: https}]
  extAuth:
    http: {backendRefs: [{name: ak-outpost-authentik-embedded-outpost, namespace: security, port: 9000}], path: /outpost.goauthentik.io/auth/envoy}
"""
AUTHENTIK = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: authentik, namespace: security}
spec:
  chart: {spec: {chart: authentik, sourceRef: {kind: HelmRepository, name: x}}}
"""


def route(name: str, parent: str) -> str:
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: apps}}
spec:
  parentRefs: [{parent}]
  hostnames: [{name}.example.org]
  rules: [{{backendRefs: [{{name: {name}, port: 80}}]}}]
"""


def test_gateway_listener_level_auth_covers_the_routes_attached_to_it(tmp_path):
    root = write(tmp_path / "repo", {
        "gw.yaml": GATEWAY, "sp.yaml": GW_POLICY, "ak.yaml": AUTHENTIK,
        "on.yaml": route("onlistener", "{name: internal, namespace: network, sectionName: https}"),
        "admin.yaml": route("admin", "{name: internal, namespace: network, sectionName: admin}"),
        "nogw.yaml": route("orphan", "{name: missing, namespace: network}"),
    })
    report = scan(root, only=["authentication.authentik-fronted-routes", "gitops.dead-routes"]).report.to_json_dict()
    assert statuses(report, "authentication.authentik-fronted-routes") == {
        "HTTPRoute apps/onlistener": "mitigated", "HTTPRoute apps/admin": "fail", "HTTPRoute apps/orphan": "warn"}
    by = finding(report, "authentication.authentik-fronted-routes", "HTTPRoute apps/onlistener")["mitigated_by"][0]
    assert by["layer"] == "perimeter" and by["path"] == "sp.yaml"
    assert statuses(report, "gitops.dead-routes") == {
        "HTTPRoute apps/onlistener": "pass", "HTTPRoute apps/admin": "pass", "HTTPRoute apps/orphan": "fail"}


# ---- the report: score without mitigations, every format ---------------------------------------------------

def test_mitigated_findings_in_every_format(tmp_path):
    root = write(tmp_path / "repo", {"talos/controlplane.yaml": MACHINE.format(role="controlplane", value="true"),
                                     "apps/worker.yaml": deploy("worker", "demo", "{runAsNonRoot: true}")})
    model = scan(root, only=["workloads.seccomp-profile"]).report
    report = model.to_json_dict()
    check = report["checks"][0]
    assert check["subjects"]["mitigated"] == 1 and check["score"] == 100.0
    assert check["score_without_mitigations"] == 0.0 and check["mitigated_by"] == ["nodes", "policy"]
    bare = report["score"]["without_mitigations"]
    assert bare["mitigated_findings"] == 1 and bare["layers"]["workloads"] == 0.0
    assert report["score"]["layers"]["workloads"]["score"] == 100.0
    log = sarif.build(model)
    (res,) = log["runs"][0]["results"]
    assert res["kind"] == "pass" and res["level"] == "none" and res["message"]["text"].startswith("Mitigated:")
    case = junit.build(model)._elem.find(".//testcase")
    assert case.find("failure") is None and case.find("system-out").text.startswith("MITIGATED:")
    md = markdown.render(model)
    assert "Mitigated by another layer (1)" in md and "nodes:" in md
    assert json.loads(json.dumps(report))["checks"][0]["findings"][0]["status"] == "mitigated"


def test_schema_accepts_mitigated(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    root = write(tmp_path / "repo", {"talos/controlplane.yaml": MACHINE.format(role="controlplane", value="true"),
                                     "apps/worker.yaml": deploy("worker", "demo", "{runAsNonRoot: true}")})
    model = scan(root, only=["workloads"]).report
    report = model.to_json_dict()
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validate(report, schema)
    ET.fromstring(junit.render(model).split("\n", 1)[1])
