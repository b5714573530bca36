"""The one table of Kubernetes resource types the live source reads.

Everything that talks about "what the scanner reads" derives from `RESOURCE_TYPES`: the list calls,
discovery, the absent-kind report and the test that holds `deploy/base/clusterrole.yaml` to exactly
these resources. Add a row here and the RBAC test tells you to grant it.

Deliberately NOT read:
- configmaps: applications keep credentials in them (connection strings, API keys in config files),
  and unlike Secrets there is no metadata-only habit that would make reading them safe to grant.
- replicasets: a pod's ReplicaSet owner is mapped to its Deployment by name (`<deploy>-<hash>`).
- policies.kyverno.io (CEL ValidatingPolicy and friends): not used by the checks yet.
- nodes, events, endpoints: no check reads them.
"""
from __future__ import annotations

from typing import NamedTuple


class ResourceType(NamedTuple):
    group: str  # "" for the core API
    version: str  # the version the scanner knows; discovery may choose the cluster's preferred one
    plural: str
    kind: str

    @property
    def builtin(self) -> bool:
        """Served by every API server (not CRD-backed): a missing one is an error, not "absent"."""
        return self.group in BUILTIN_GROUPS


BUILTIN_GROUPS = frozenset({"", "apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"})

RESOURCE_TYPES: tuple[ResourceType, ...] = (
    # core
    ResourceType("", "v1", "namespaces", "Namespace"),
    ResourceType("", "v1", "pods", "Pod"),
    ResourceType("", "v1", "services", "Service"),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount"),
    ResourceType("", "v1", "secrets", "Secret"),  # metadata only, see SECRETS
    ResourceType("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
    # workloads
    ResourceType("apps", "v1", "deployments", "Deployment"),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet"),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet"),
    ResourceType("batch", "v1", "jobs", "Job"),
    ResourceType("batch", "v1", "cronjobs", "CronJob"),
    # network
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress"),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
    ResourceType("gateway.networking.k8s.io", "v1", "gateways", "Gateway"),
    ResourceType("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute"),
    ResourceType("gateway.networking.k8s.io", "v1", "grpcroutes", "GRPCRoute"),
    ResourceType("cilium.io", "v2", "ciliumnetworkpolicies", "CiliumNetworkPolicy"),
    ResourceType("cilium.io", "v2", "ciliumclusterwidenetworkpolicies", "CiliumClusterwideNetworkPolicy"),
    ResourceType("gateway.envoyproxy.io", "v1alpha1", "securitypolicies", "SecurityPolicy"),
    ResourceType("traefik.io", "v1alpha1", "middlewares", "Middleware"),
    # RBAC
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole"),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding"),
    # policy engines and their reports
    ResourceType("kyverno.io", "v1", "clusterpolicies", "ClusterPolicy"),
    ResourceType("kyverno.io", "v1", "policies", "Policy"),
    ResourceType("kyverno.io", "v2", "policyexceptions", "PolicyException"),
    ResourceType("wgpolicyk8s.io", "v1alpha2", "policyreports", "PolicyReport"),
    ResourceType("wgpolicyk8s.io", "v1alpha2", "clusterpolicyreports", "ClusterPolicyReport"),
    # Kyverno >= 1.15 can write its reports to the OpenReports API instead of wgpolicyk8s.io.
    ResourceType("openreports.io", "v1alpha1", "reports", "Report"),
    ResourceType("openreports.io", "v1alpha1", "clusterreports", "ClusterReport"),
    # secrets management (the ExternalSecret objects, never the Secrets they produce)
    ResourceType("external-secrets.io", "v1", "externalsecrets", "ExternalSecret"),
    ResourceType("external-secrets.io", "v1", "secretstores", "SecretStore"),
    ResourceType("external-secrets.io", "v1", "clustersecretstores", "ClusterSecretStore"),
    ResourceType("external-secrets.io", "v1", "clusterexternalsecrets", "ClusterExternalSecret"),
    ResourceType("cert-manager.io", "v1", "certificates", "Certificate"),
    # GitOps
    ResourceType("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization"),
    ResourceType("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease"),
    ResourceType("source.toolkit.fluxcd.io", "v1", "gitrepositories", "GitRepository"),
    ResourceType("source.toolkit.fluxcd.io", "v1", "ocirepositories", "OCIRepository"),
    ResourceType("source.toolkit.fluxcd.io", "v1", "helmrepositories", "HelmRepository"),
    # backups and monitoring
    ResourceType("volsync.backube", "v1alpha1", "replicationsources", "ReplicationSource"),
    ResourceType("monitoring.coreos.com", "v1", "servicemonitors", "ServiceMonitor"),
    ResourceType("monitoring.coreos.com", "v1", "podmonitors", "PodMonitor"),
)

# The one type listed as metadata only. It is read only where granted: `list` on Secrets returns every
# Secret's data to whoever holds the token, whatever form the client asks for, so the default deploy
# grants nothing on Secrets (deploy/overlays/secret-metadata opts in). Without it a Secret's presence
# is derived from the ExternalSecrets that produce it (status and owner), see cluster.derived_secrets.
SECRETS = ResourceType("", "v1", "secrets", "Secret")
OPT_IN = frozenset({SECRETS})  # a 403 on these is the default deployment, not an error

# Ask for the PartialObjectMetadata form: the API server then strips data/stringData server-side.
METADATA_ACCEPT = (
    "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,"
    "application/json;as=PartialObjectMetadataList;v=v1beta1;g=meta.k8s.io"
)
