"""A repository with two clusters (two Flux roots) keeps them apart: each cluster's namespaces are judged
on their own (a NetworkPolicy in one cluster's `media` does not cover the other's), subjects and
fingerprints name the cluster, each cluster is scored, and a verdict about the repository itself is
given once."""
from __future__ import annotations

from tests.support.repos import write
from tests.support.scanning import scan

NETPOL = """
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: default-deny}
    spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
    """
DEPLOY = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: jellyfin}
    spec:
      selector: {matchLabels: {app: jellyfin}}
      template:
        metadata: {labels: {app: jellyfin}}
        spec: {containers: [{name: app, image: "ghcr.io/example/jellyfin:1.0"}]}
    """


def _cluster(root, name: str, with_policy: bool) -> None:
    write(root, f"clusters/{name}/flux/instance.yaml", f"""
        apiVersion: fluxcd.controlplane.io/v1
        kind: FluxInstance
        metadata: {{name: flux, namespace: flux-system}}
        spec:
          distribution: {{version: "2.6.0", registry: ghcr.io/fluxcd}}
          sync: {{kind: GitRepository, url: "https://github.com/example/ops", path: clusters/{name}/sync}}
        """)
    write(root, f"clusters/{name}/sync/media.yaml", f"""
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {{name: media, namespace: flux-system}}
        spec:
          interval: 30m
          path: ./clusters/{name}/media
          targetNamespace: media
          prune: true
          sourceRef: {{kind: GitRepository, name: flux-system}}
        """)
    write(root, f"clusters/{name}/media/deploy.yaml", DEPLOY)
    if with_policy:
        write(root, f"clusters/{name}/media/netpol.yaml", NETPOL)


def test_two_clusters_are_judged_and_scored_apart(tmp_path):
    _cluster(tmp_path, "main", with_policy=True)
    _cluster(tmp_path, "utility", with_policy=False)
    write(tmp_path, "leaked.env", "GH_TOKEN=ghp_Zq7mW2xR9kT4vB8nL3pY6sD1fH5jC0aE2gUx\n")
    report = scan(tmp_path, only=["segmentation.networkpolicy-per-namespace", "secrets.no-plaintext-credentials"]).report
    seg = next(c for c in report.checks if c.id == "segmentation.networkpolicy-per-namespace")
    media = {f.subject: (f.status, f.cluster) for f in seg.findings if "media" in f.subject}
    assert media == {"main: namespace media": ("pass", "main"), "utility: namespace media": ("fail", "utility")}
    fps = [f.fingerprint for f in seg.findings if "media" in f.subject]
    assert len(set(fps)) == 2
    assert set(report.score.clusters) == {"main", "utility"}
    assert report.score.clusters["main"].layers["segmentation"].score > report.score.clusters["utility"].layers["segmentation"].score
    leaks = next(c for c in report.checks if c.id == "secrets.no-plaintext-credentials")
    token = [f for f in leaks.findings if "leaked.env" in (f.location.path if f.location else "")]
    assert len(token) == 1 and token[0].cluster is None  # about the repository: once, in no cluster
