"""NetworkPolicy / Cilium selection semantics and the segmentation checks."""
from __future__ import annotations

import pytest

from tests.support.paths import CORPUS
from tests.support.scanning import scan


def deploy(name, ns, labels="{app: %s}"):
    return f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {labels % name}}}
    spec: {{containers: [{{name: c, image: "x/{name}:1"}}]}}
"""


def checks_of(tmp_path, docs: list[str], config: str | None = None):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "all.yaml").write_text("---\n".join(docs))
    if config:
        (root / "posture.yaml").write_text(config)
    r = scan(str(root), only=["segmentation"]).report.to_json_dict()
    return {c["id"]: c for c in r["checks"]}


def by_ns(check):
    return {f["namespace"]: f for f in check["findings"]}


def test_namespaced_policy_selection(tmp_path):
    docs = [deploy("a", "one"), deploy("b", "one"), deploy("c", "two"), deploy("d", "three"),
            """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-a, namespace: one}
spec: {podSelector: {matchLabels: {app: a}}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {matchLabels: {app: b}}}]}]}
""",
            """apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: c-pol, namespace: two}
spec:
  endpointSelector: {matchLabels: {app: c}}
  egress: [{toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system}}]}]
"""]
    c = checks_of(tmp_path, docs)
    np = by_ns(c["segmentation.networkpolicy-per-namespace"])
    assert np["one"]["status"] == "fail" and "1 of 2" in np["one"]["message"]  # b is not selected
    assert np["two"]["status"] == "pass" and "CiliumNetworkPolicy two/c-pol" in np["two"]["message"]
    assert np["three"]["status"] == "fail"
    eg = by_ns(c["segmentation.egress-control"])
    assert eg["two"]["status"] == "pass" and eg["one"]["status"] == "fail"


def test_ccnp_namespace_selector_and_default_deny(tmp_path):
    docs = [deploy("a", "one"), deploy("b", "two"),
            """apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: baseline}
spec:
  endpointSelector: {matchLabels: {io.kubernetes.pod.namespace: one}}
  ingress: [{fromEndpoints: [{matchLabels: {app: x}}]}]
"""]
    c = checks_of(tmp_path, docs)
    np = by_ns(c["segmentation.networkpolicy-per-namespace"])
    # covered only by the cluster-wide policy: mitigated, naming it (namespace two is not selected)
    assert np["one"]["status"] == "mitigated" and np["two"]["status"] == "fail"
    assert np["one"]["mitigated_by"][0]["detail"].startswith("CiliumClusterwideNetworkPolicy baseline")
    dd = by_ns(c["segmentation.default-deny-ingress"])
    assert dd["one"]["status"] == "mitigated" and dd["two"]["status"] == "fail"
    assert dd["one"]["mitigated_by"][0]["layer"] == "segmentation"


def test_allow_all_counts_as_no_policy(tmp_path):
    docs = [deploy("a", "one"),
            """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: one}
spec: {podSelector: {}, policyTypes: [Ingress], ingress: [{}]}
""",
            deploy("b", "two"),
            """apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: world, namespace: two}
spec: {endpointSelector: {}, egress: [{toEntities: [world]}]}
"""]
    c = checks_of(tmp_path, docs)
    np = by_ns(c["segmentation.networkpolicy-per-namespace"])
    assert np["one"]["status"] == "fail" and "allow-all" in np["one"]["message"]
    assert np["two"]["status"] == "fail"


def test_default_deny_and_helmrelease_pods(tmp_path):
    docs = ["""apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: redis, namespace: db}
spec: {chart: {spec: {chart: redis, sourceRef: {kind: HelmRepository, name: x}}}}
""", """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny, namespace: db}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
""", deploy("k", "kube-system")]
    c = checks_of(tmp_path, docs)
    np = by_ns(c["segmentation.networkpolicy-per-namespace"])
    assert np["db"]["status"] == "pass"  # a chart release deploys pods; the default deny selects them
    assert np["kube-system"]["status"] == "fail"  # kube-system is scored by default
    assert by_ns(c["segmentation.default-deny-ingress"])["db"]["status"] == "pass"
    c2 = checks_of(tmp_path / "x", docs, "exempt_namespaces: [kube-system]\n") if (tmp_path / "x").mkdir() is None else None
    assert "kube-system" not in by_ns(c2["segmentation.networkpolicy-per-namespace"])


def test_host_policy_selects_no_pods(tmp_path):
    docs = [deploy("a", "one"), """apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: host}
spec: {nodeSelector: {}, ingress: [{fromEntities: [cluster]}]}
"""]
    c = checks_of(tmp_path, docs)
    assert by_ns(c["segmentation.networkpolicy-per-namespace"])["one"]["status"] == "fail"


@pytest.mark.skipif(not (CORPUS / "dapperdivers__dapper-cluster").is_dir(), reason="corpus not present")
def test_target_has_no_policies():
    r = scan(str(CORPUS / "dapperdivers__dapper-cluster"), only=["segmentation.networkpolicy-per-namespace"]).report.to_json_dict()
    c = r["checks"][0]
    assert c["score"] == 0 and c["subjects"]["total"] >= 15
    assert any(f["namespace"] == "kube-system" for f in c["findings"])
