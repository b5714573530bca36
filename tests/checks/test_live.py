"""checks/live.py on live data read from the fake API server, with a stand-in for the engine's inventory."""
from __future__ import annotations

import datetime as dt

import pytest

from checks import live
from scanner.core.model import Result
from scanner.sources.cluster import cluster_resources, fetch_cluster
from tests.fakekube.fixtures import StandInInventory, cluster_objects, git_resources
from tests.fakekube.server import FakeKube
from tests.fakekube.tlsutil import make_tls_pair

pytestmark = pytest.mark.timeout(120)

CHECKS = [live.externalsecret_synced, live.flux_ready, live.policyreport_failures,
          live.undeclared_privileged_pods, live.tls_certificates, live.cluster_drift]


def _read(tmp_path, **fake_opts):
    objects = fake_opts.pop("objects", None) or cluster_objects(drift=fake_opts.pop("drift", False))
    with FakeKube(objects, workdir=tmp_path, **fake_opts) as fake:
        return fetch_cluster(str(fake.write_kubeconfig()))


def _inv(data, sources=("git", "cluster")):
    res = cluster_resources(data) if "cluster" in sources else []
    if "git" in sources:
        res += git_resources()
    return StandInInventory(res, sources, data if "cluster" in sources else None)


def _run(fn, inv) -> list[Result]:
    spec = fn.__posture_check__
    out = list(spec.run(inv, {}))
    for r in out:
        assert isinstance(r, Result) and r.status in ("pass", "fail", "warn")
    return out


def _by_subject(results) -> dict[str, Result]:
    return {r.subject: r for r in results}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return _read(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def drifted(tmp_path_factory):
    return _read(tmp_path_factory.mktemp("drift"), drift=True)


def test_checks_are_registered_with_ids_and_inputs():
    ids = {fn.__posture_check__.id for fn in CHECKS}
    assert ids == {"secrets.externalsecret-synced", "gitops.flux-ready", "policy.policyreport-failures",
                   "workloads.undeclared-privileged-pods", "perimeter.tls-certificates", "gitops.cluster-drift"}
    assert all(fn.__posture_check__.needs for fn in CHECKS)


def test_nothing_without_a_cluster_and_no_drift_without_git(clean):
    git_only = _inv(None, sources=("git",))
    for fn in CHECKS:
        assert _run(fn, git_only) == []
    cluster_only = _inv(clean, sources=("cluster",))
    assert _run(live.cluster_drift, cluster_only) == []
    assert _run(live.tls_certificates, cluster_only) == []  # read without --inspect-tls
    for fn in CHECKS[:-2]:
        assert _run(fn, cluster_only)


def test_externalsecrets(clean):
    res = _by_subject(_run(live.externalsecret_synced, _inv(clean)))
    assert res["ExternalSecret media/jellyfin"].status == "pass"
    bad = res["ExternalSecret security/authelia"]
    assert bad.status == "fail" and "SecretSyncedError" in bad.message
    assert bad.resource["origin"] == "cluster" and bad.location.path == "cluster://ExternalSecret/security/authelia"
    assert bad.location.line is None and bad.namespace == "security"


def test_flux_ready(clean):
    res = _by_subject(_run(live.flux_ready, _inv(clean)))
    assert res["Kustomization flux-system/cluster-apps"].status == "pass"
    assert res["Kustomization flux-system/media"].status == "warn"
    assert "suspended" in res["Kustomization flux-system/media"].message
    hr = res["HelmRelease kube-system/cilium"]
    assert hr.status == "fail" and "UpgradeFailed" in hr.message
    assert res["GitRepository flux-system/flux-system"].status == "pass"
    assert res["HelmRepository flux-system/bjw-s"].status == "pass"  # OCI: no conditions by design


def test_policyreports_summarised_per_policy(clean):
    res = _by_subject(_run(live.policyreport_failures, _inv(clean)))
    nonroot = res["policy require-run-as-non-root"]
    assert nonroot.status == "fail" and nonroot.severity == "high"
    assert nonroot.evidence["results"]["fail"] == 2
    assert nonroot.evidence["namespaces"] == {"media": 1, "network": 1}
    assert nonroot.resource["kind"] == "ClusterPolicy" and nonroot.resource["name"] == "require-run-as-non-root"
    assert res["policy disallow-latest-tag"].status == "pass"


def test_undeclared_privileged_pods(clean, drifted):
    res = _by_subject(_run(live.undeclared_privileged_pods, _inv(clean)))
    cilium = res["DaemonSet kube-system/cilium"]
    assert cilium.status == "pass" and "HelmRelease kube-system/cilium (in Git)" in cilium.message
    assert res["StaticPod kube-system/kube-apiserver-node1"].status == "pass"
    assert "Pod default/old-debug" not in res  # finished
    assert not [r for r in res.values() if r.status == "fail"]
    res = _by_subject(_run(live.undeclared_privileged_pods, _inv(drifted)))
    dbg = res["Pod default/node-debugger-node1-abcde"]
    assert dbg.status == "fail" and "hostPID" in dbg.evidence["privileged"]
    assert dbg.resource["kind"] == "Pod" and dbg.location.path.startswith("cluster://Pod/default/")


def test_privileged_deployment_declared_in_git_passes_and_owner_chain_is_followed(tmp_path):
    objs = cluster_objects()
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "jellyfin-7d9f8c-zzzzz", "namespace": "media",
                        "labels": {"pod-template-hash": "7d9f8c"},
                        "ownerReferences": [{"kind": "ReplicaSet", "name": "jellyfin-7d9f8c", "controller": True}]},
           "spec": {"hostNetwork": True, "containers": [{"name": "a", "image": "x"}]}, "status": {"phase": "Running"}}
    hand = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "miner", "namespace": "default"},
            "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "x"}]}}}}
    hand_pod = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "miner-6c9d-abc", "namespace": "default", "labels": {"pod-template-hash": "6c9d"},
                             "ownerReferences": [{"kind": "ReplicaSet", "name": "miner-6c9d", "controller": True}]},
                "spec": {"containers": [{"name": "m", "image": "x", "securityContext": {"privileged": True}}]},
                "status": {"phase": "Running"}}
    data = _read(tmp_path, objects=objs + [pod, hand, hand_pod])
    res = _by_subject(_run(live.undeclared_privileged_pods, _inv(data)))
    assert res["Deployment media/jellyfin"].status == "pass"
    assert "in Git" in res["Deployment media/jellyfin"].message
    miner = res["Deployment default/miner"]
    assert miner.status == "fail" and miner.resource["kind"] == "Deployment"
    assert miner.evidence["pods"] == ["miner-6c9d-abc"]


def test_no_drift_on_the_matching_fixture(clean):
    results = _run(live.cluster_drift, _inv(clean))
    assert [r for r in results if r.status != "pass"] == [], [r.message for r in results if r.status != "pass"]
    subjects = {r.subject for r in results}
    assert "NetworkPolicy network/allow-ingress (Git)" in subjects  # security kinds confirmed present
    assert not any("kustomization.yaml" in (r.location.path if r.location else "") for r in results)


def test_drift_both_directions(drifted):
    results = _run(live.cluster_drift, _inv(drifted))
    fails = {r.subject: r for r in results if r.status == "fail"}
    assert set(fails) == {"NetworkPolicy network/allow-ingress (Git)", "ClusterRoleBinding debug-admin (cluster)",
                          "NetworkPolicy media/allow-all (cluster)"}
    missing = fails["NetworkPolicy network/allow-ingress (Git)"]
    assert missing.evidence["direction"] == "git-only" and missing.location.path == "kubernetes/apps/network/allow-ingress.yaml"
    assert missing.location.line == 1
    crb = fails["ClusterRoleBinding debug-admin (cluster)"]
    assert crb.evidence["applied_with"] == "kubectl apply" and crb.location.line is None
    # defaults, Flux- and Helm-managed objects are not drift
    for quiet in ("cluster-admin", "system:basic-user", "cluster-reconciler-flux-system", "cilium-operator"):
        assert not any(quiet in r.subject for r in results if r.status != "pass")


def test_drift_skips_kinds_that_could_not_be_read_and_flags_missing_crds(tmp_path):
    data = _read(tmp_path, forbidden={"networkpolicies"}, missing_groups={"kyverno.io"})
    results = _run(live.cluster_drift, _inv(data))
    assert not any(r.subject.startswith("NetworkPolicy") for r in results)  # 403: no verdict
    crd = {r.subject: r for r in results if r.subject.startswith("ClusterPolicy")}
    assert crd["ClusterPolicy require-run-as-non-root (Git)"].status == "fail"
    assert "CRD not installed" in crd["ClusterPolicy require-run-as-non-root (Git)"].message
    assert live.absent(_inv(data), "ClusterPolicy") and not live.absent(_inv(data), "NetworkPolicy")
    assert not live.absent(_inv(None, sources=("git",)), "ClusterPolicy")


def test_tls_certificates_with_inspect_tls(tmp_path):
    import base64

    def tls_secret(name, **kw):
        crt, key = make_tls_pair(f"{name}.example.org", **kw)
        return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                "metadata": {"name": name, "namespace": "network"},
                "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(key).decode()}}

    objs = cluster_objects() + [tls_secret("fresh", days=90), tls_secret("soon", days=15),
                                tls_secret("urgent", days=3), tls_secret("weak", days=90, rsa_bits=1024),
                                tls_secret("ec", days=90, rsa_bits=None)]
    with FakeKube(objs, workdir=tmp_path) as fake:
        data = fetch_cluster(str(fake.write_kubeconfig()), inspect_tls=True)
    res = _by_subject(_run(live.tls_certificates, _inv(data, sources=("cluster",))))
    status = {k.split("/")[-1]: v.status for k, v in res.items()}
    assert status == {"fresh": "pass", "soon": "warn", "urgent": "fail", "weak": "fail", "ec": "pass"}
    assert "weak key: RSA 1024 bits" in res["TLS Secret network/weak"].message
    assert res["TLS Secret network/urgent"].resource["kind"] == "Secret"
    assert res["TLS Secret network/urgent"].location.path == "cluster://Secret/network/urgent"


def test_certificate_expiry_from_cert_manager_status_without_reading_secrets(tmp_path):
    """Expiry and key come from each Certificate's status and spec; the TLS Secrets (which hold the
    private keys) are never read: the fake server forbids them."""
    today = dt.date.today()

    def cert(name, days, ready="True", key=None):
        return {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                "metadata": {"name": name, "namespace": "network", "uid": f"uid-{name}"},
                "spec": {"secretName": f"{name}-tls", "dnsNames": [f"{name}.example.org"],
                         **({"privateKey": key} if key else {})},
                "status": {"notAfter": f"{today + dt.timedelta(days=days)}T00:00:00Z",
                           "conditions": [{"type": "Ready", "status": ready, "reason": "Ready" if ready == "True"
                                           else "Failed", "message": "issuer unreachable" if ready != "True" else ""}]}}

    objs = cluster_objects() + [cert("fresh", 80), cert("soon", 15), cert("urgent", 3), cert("gone", -2),
                                cert("weak", 80, key={"algorithm": "RSA", "size": 1024}),
                                cert("ec", 80, key={"algorithm": "ECDSA", "size": 384}),
                                cert("stuck", 80, ready="False")]
    with FakeKube(objs, workdir=tmp_path, forbidden={"secrets"}) as fake:
        data = fetch_cluster(str(fake.write_kubeconfig()))
        assert not fake.log("/secrets/")
    res = _by_subject(_run(live.tls_certificates, _inv(data, sources=("cluster",))))
    status = {k.split("/")[-1]: v.status for k, v in res.items() if k.startswith("Certificate ")}
    assert status == {"fresh": "pass", "soon": "warn", "urgent": "fail", "gone": "fail", "weak": "fail",
                      "ec": "pass", "stuck": "fail"}
    assert "expired 2 day(s) ago" in res["Certificate network/gone"].message
    assert "weak key: RSA 1024 bits" in res["Certificate network/weak"].message
    assert "not Ready: Failed issuer unreachable" in res["Certificate network/stuck"].message
    assert res["Certificate network/fresh"].evidence["secret"] == "fresh-tls"
    assert res["Certificate network/fresh"].location.path == "cluster://Certificate/network/fresh"
