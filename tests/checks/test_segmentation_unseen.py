"""A namespace verdict that depends on what the scan could not see says so instead of passing: pods an
unrendered chart may run are selected by no label-selecting policy the scan can vouch for."""
from __future__ import annotations

from tests.support.repos import flux_repo
from tests.support.scanning import scan

APP_POLICY = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-only}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress, Egress]
"""
SELECT_ALL = APP_POLICY.replace("{matchLabels: {app: web}}", "{}").replace("web-only", "default-deny")
WEB = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: "ghcr.io/example/web:1.0"}]}
"""
OPAQUE = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: cache}
spec: {chart: {spec: {chart: some-cache, version: 1.0.0, sourceRef: {kind: HelmRepository, name: x}}}}
"""


def _verdict(tmp_path, policy: str):
    repo = flux_repo(tmp_path, {"media": {"web.yaml": WEB, "netpol.yaml": policy, "hr.yaml": OPAQUE}})
    report = scan(repo, only=["segmentation.networkpolicy-per-namespace"]).report
    [f] = [f for c in report.checks for f in c.findings if f.subject == "namespace media"]
    return f


def test_a_label_selecting_policy_cannot_vouch_for_an_unrendered_charts_pods(tmp_path):
    # the unrendered release's pods (labels unknown) count as a workload no label selector covers
    f = _verdict(tmp_path, APP_POLICY)
    assert f.status == "fail" and "(cache)" in f.message


def test_pods_of_a_kustomization_that_did_not_build_turn_a_pass_into_a_warning(tmp_path):
    repo = flux_repo(tmp_path, {"media": {"web.yaml": WEB, "netpol.yaml": APP_POLICY}})
    # a second Flux Kustomization deploying into media whose generator file is missing: not fully built
    (repo / "kubernetes/apps/media/extra").mkdir()
    (repo / "kubernetes/apps/media/extra/kustomization.yaml").write_text(
        "configMapGenerator:\n  - name: cfg\n    files: [missing.conf]\n")
    ks = repo / "kubernetes/apps/media/app/ks.yaml"
    ks.write_text(ks.read_text() + "---\n" + ks.read_text().replace("media-app", "media-extra")
                  .replace("./kubernetes/apps/media/app/resources", "./kubernetes/apps/media/extra"))
    report = scan(repo, only=["segmentation.networkpolicy-per-namespace"]).report
    [f] = [f for c in report.checks for f in c.findings if f.subject == "namespace media"]
    assert f.status == "warn" and "not all of media was seen" in f.message
    assert f.evidence["unseen"] == ["Flux Kustomization media/media-extra (not fully built)"]


def test_a_policy_selecting_every_pod_covers_unseen_pods_too(tmp_path):
    f = _verdict(tmp_path, SELECT_ALL)
    assert f.status == "pass" and "not all" not in f.message
