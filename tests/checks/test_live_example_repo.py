"""The bundled example repo against a fake cluster that runs exactly what it declares: no drift.

The cluster is built from the engine's own inventory of examples/homelab (every deployed object, as
Flux would have applied it), served by the fake API server, read back through the live source, and
compared by the live checks: the whole Git -> API -> inventory -> drift round trip.
"""
from __future__ import annotations

import copy

import pytest

from tests.fakekube.server import FakeKube
from tests.support.paths import EXAMPLE

api = pytest.importorskip("scanner.engine.pipeline")
from tests.support.scanning import scan  # noqa: E402

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(not EXAMPLE.is_dir(), reason="examples/homelab not present")]


def _as_applied(res) -> dict:
    """A deployed Git resource as the API server would hold it after Flux applied it."""
    body = copy.deepcopy(res.body)
    md = {"name": res.name, "uid": f"uid-{res.kind}-{res.namespace}-{res.name}", "generation": 1,
          "labels": dict((body.get("metadata") or {}).get("labels") or {})}
    if res.namespace:
        md["namespace"] = res.namespace
    body["metadata"] = md
    body.pop("sops", None)
    ready = {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "ok"}
    if res.kind in ("Kustomization", "HelmRelease", "GitRepository", "OCIRepository", "HelmRepository"):
        body["status"] = {"conditions": [ready], "observedGeneration": 1}
    if res.kind == "ExternalSecret":
        body["status"] = {"conditions": [dict(ready, reason="SecretSynced")]}
    return body


def _pod_of(w) -> dict:
    owner = ("ReplicaSet", f"{w.name}-5d8f7c9b6") if w.kind == "Deployment" else (w.kind, w.name)
    labels = dict(w.labels or {}, **({"pod-template-hash": "5d8f7c9b6"} if w.kind == "Deployment" else {}))
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{owner[1]}-abcde", "namespace": w.namespace, "labels": labels,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1],
                                              "uid": "u", "controller": True}]},
            "spec": dict(copy.deepcopy(w.pod), containers=[dict(copy.deepcopy(c.spec), name=c.name) for c in w.containers]),
            "status": {"phase": "Running"}}


@pytest.fixture(scope="module")
def example_cluster(tmp_path_factory):
    git_only = scan(EXAMPLE)
    deployed = [r for r in git_only.inventory.resources
                if r.deployed and r.origin == "git" and r.api_version and "${" not in r.name]
    fake = FakeKube(workdir=tmp_path_factory.mktemp("example"))
    served = 0
    for res in deployed:
        if (res.group, res.kind) in fake._by_kind and res.kind != "ConfigMap":
            fake.add(_as_applied(res))
            served += 1
    assert served > 20, "the example repo should deploy a few dozen objects"
    # and one running pod per workload Git declares (app-template ones included), owned the usual way
    for w in git_only.inventory.workloads:
        if w.resource.deployed and w.namespace and w.kind in ("Deployment", "StatefulSet", "DaemonSet"):
            fake.add(_pod_of(w))
    with fake:
        run = scan(EXAMPLE, cluster=True, kubeconfig=str(fake.write_kubeconfig()))
    return run, fake


def test_example_cluster_has_no_drift(example_cluster):
    from checks import live

    run, fake = example_cluster
    inv = run.inventory
    assert {"git", "cluster"} <= inv.sources
    assert inv.cluster.errors == [] and inv.cluster.denied_kinds == []
    drift = list(live.cluster_drift.__posture_check__.run(inv, {}))
    assert drift, "drift compared nothing"
    bad = [f"{r.status} {r.subject}: {r.message}" for r in drift if r.status != "pass"]
    assert bad == []
    assert any(r.evidence.get("direction") == "both" for r in drift)  # security objects were compared
    for fn in (live.externalsecret_synced, live.flux_ready, live.undeclared_privileged_pods):
        results = list(fn.__posture_check__.run(inv, {}))
        assert results, fn.__name__
        assert not [r for r in results if r.status == "fail"], [r.message for r in results if r.status == "fail"]
    assert len(inv.of_kind("Pod", origin="cluster")) >= 5


def test_example_scan_requested_no_secret_data(example_cluster):
    from scanner.sources.kube_types import METADATA_ACCEPT

    _, fake = example_cluster
    secret_paths = [r for r in fake.requests if r["path"].startswith("/api/v1/") and "secrets" in r["path"].split("/")]
    assert secret_paths and all(r["accept"] == METADATA_ACCEPT and r["path"] == "/api/v1/secrets" for r in secret_paths)
