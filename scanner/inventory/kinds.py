"""What the scan knows about kinds: which are cluster-scoped, and which it does not recognise at all.

Cluster-scoped kinds carry no namespace even where kustomize's namespace transformer (or a
targetNamespace) gave them one: the built-in ones, the well-known add-ons', and any kind whose
CustomResourceDefinition in the repository says `scope: Cluster`.
"""
from __future__ import annotations

from scanner.core.model import CLUSTER_SCOPED_KINDS, Document

# API groups whose kinds the scanner's checks and analyses recognise (built-in Kubernetes groups and
# the add-ons of the clusters it scans). Objects of other groups with no CRD in the repository are
# listed in the coverage section as "unknown kinds": the checks judge them only generically.
KNOWN_GROUPS = frozenset({
    "", "v1", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "rbac.authorization.k8s.io",
    "storage.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io", "scheduling.k8s.io",
    "coordination.k8s.io", "node.k8s.io", "discovery.k8s.io", "certificates.k8s.io", "apiregistration.k8s.io",
    "flowcontrol.apiserver.k8s.io", "snapshot.storage.k8s.io", "gateway.networking.k8s.io",
    "gateway.networking.x-k8s.io",
    "kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io", "source.toolkit.fluxcd.io",
    "notification.toolkit.fluxcd.io", "image.toolkit.fluxcd.io", "fluxcd.controlplane.io",
    "source.extensions.fluxcd.io",
    "cert-manager.io", "acme.cert-manager.io", "external-secrets.io", "generators.external-secrets.io",
    "cilium.io", "kyverno.io", "wgpolicyk8s.io", "policies.kyverno.io", "monitoring.coreos.com",
    "traefik.io", "traefik.containo.us", "volsync.backube", "postgresql.cnpg.io", "gateway.envoyproxy.io",
    "externaldns.k8s.io", "talos.dev", "grafana.integreatly.org", "networking.istio.io", "security.istio.io",
})


def group_of(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


class Kinds:
    """Scope and recognition of kinds for one repository (CRDs read from every document)."""

    def __init__(self, documents: list[Document]):
        self.cluster_scoped = set(CLUSTER_SCOPED_KINDS)
        self.namespaced_crds: set[str] = set()
        self.crd_groups: set[tuple[str, str]] = set()  # (group, kind) defined by a CRD in the repository
        for d in documents:
            if d.kind != "CustomResourceDefinition" or not isinstance(d.body, dict):
                continue
            spec = d.body.get("spec") if isinstance(d.body.get("spec"), dict) else {}
            names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
            kind = names.get("kind")
            if not isinstance(kind, str):
                continue
            self.crd_groups.add((str(spec.get("group") or ""), kind))
            if spec.get("scope") == "Cluster":
                self.cluster_scoped.add(kind)
            else:
                self.namespaced_crds.add(kind)

    def is_cluster_scoped(self, kind: str) -> bool:
        return kind in self.cluster_scoped

    def is_known(self, api_version: str, kind: str) -> bool:
        group = group_of(api_version)
        return group in KNOWN_GROUPS or (group, kind) in self.crd_groups
