"""A small homelab-like cluster, its Git side, and a stand-in for the engine's inventory.

`cluster_objects()` is what the fake API server serves; `git_documents()` is the repository that
declares it. With no arguments they match (no drift); `drift=True` adds what a hand at the
keyboard leaves behind and removes one object Flux failed to apply.
"""
from __future__ import annotations

import base64

from scanner.core.model import Document, Resource

PLANTED = "PLANTED-secret-value-7f3a"  # must never leave the fake server
PLANTED_B64 = base64.b64encode(PLANTED.encode()).decode()

FLUX_KS = {"kustomize.toolkit.fluxcd.io/name": "cluster-apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}
FLUX_HR_CILIUM = {"helm.toolkit.fluxcd.io/name": "cilium", "helm.toolkit.fluxcd.io/namespace": "kube-system",
                  "app.kubernetes.io/managed-by": "Helm"}


def _md(name, namespace=None, labels=None, annotations=None, **extra):
    md = {"name": name, "uid": f"uid-{namespace or '-'}-{name}", "resourceVersion": "1",
          "creationTimestamp": "2025-01-01T00:00:00Z",
          "managedFields": [{"manager": "kustomize-controller", "operation": "Apply"}]}
    if namespace:
        md["namespace"] = namespace
    if labels:
        md["labels"] = dict(labels)
    if annotations:
        md["annotations"] = dict(annotations)
    md.update(extra)
    return md


def _ready(status="True", reason="ReconciliationSucceeded", message="Applied revision: main@sha1:abc"):
    return {"conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message,
                            "lastTransitionTime": "2025-01-01T00:00:00Z"}]}


def _netpol(name, ns, labels=None):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _md(name, ns, labels),
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}


def _deploy(name, ns, labels=None, privileged=False):
    c = {"name": "app", "image": "ghcr.io/example/app:1.0.0"}
    if privileged:
        c["securityContext"] = {"privileged": True}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _md(name, ns, labels, generation=1),
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [c]}}}}


def _pod(name, ns, owner=None, labels=None, annotations=None, privileged=False, host=(), phase="Running"):
    c = {"name": "main", "image": "ghcr.io/example/app:1.0.0"}
    if privileged:
        c["securityContext"] = {"privileged": True}
    md = _md(name, ns, labels, annotations)
    if owner:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "uid": "x",
                                  "controller": True, "blockOwnerDeletion": True}]
    spec = {"containers": [c], **{h: True for h in host}}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec, "status": {"phase": phase}}


def cluster_objects(*, drift: bool = False, tls_pair: tuple[bytes, bytes] | None = None) -> list[dict]:
    ns = ["flux-system", "kube-system", "media", "network", "security", "default"]
    objs: list[dict] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": _md(n, labels=FLUX_KS)} for n in ns[2:5]]
    objs += [{"apiVersion": "v1", "kind": "Namespace", "metadata": _md(n)} for n in ns[:2] + ns[5:]]
    objs += [
        _deploy("jellyfin", "media", FLUX_KS),
        _deploy("echo", "network", FLUX_KS),
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _md("cilium", "kube-system", FLUX_HR_CILIUM),
         "spec": {"template": {"spec": {"hostNetwork": True, "containers": [{"name": "agent", "image": "cilium:1"}]}}}},
        _pod("jellyfin-7d9f8c-abcde", "media", ("ReplicaSet", "jellyfin-7d9f8c"), {"app": "jellyfin", "pod-template-hash": "7d9f8c"}),
        _pod("echo-55b7f-xyz12", "network", ("ReplicaSet", "echo-55b7f"), {"app": "echo", "pod-template-hash": "55b7f"}),
        _pod("cilium-x7k2p", "kube-system", ("DaemonSet", "cilium"), privileged=True, host=("hostNetwork",)),
        _pod("kube-apiserver-node1", "kube-system", ("Node", "node1"), host=("hostNetwork",),
             annotations={"kubernetes.io/config.mirror": "abc"}),
        _pod("old-debug", "default", privileged=True, phase="Succeeded"),
        {"apiVersion": "v1", "kind": "Service", "metadata": _md("jellyfin", "media", FLUX_KS),
         "spec": {"ports": [{"port": 8096}], "selector": {"app": "jellyfin"}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _md("default", "media")},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _md("app-config", "media"),
         "data": {"DATABASE_URL": f"postgres://app:{PLANTED}@db/app"}},  # must never be requested
        # Secrets: one applied with kubectl (its last-applied annotation carries the data), one TLS
        {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
         "metadata": _md("jellyfin-secret", "media", {"app": "jellyfin"},
                         {"kubectl.kubernetes.io/last-applied-configuration":
                          '{"apiVersion":"v1","data":{"API_KEY":"%s"},"kind":"Secret"}' % PLANTED_B64,
                          "reconcile.external-secrets.io/data-hash": "abc"}),
         "data": {"API_KEY": PLANTED_B64}},
        _netpol("default-deny", "media", FLUX_KS),
        _netpol("default-deny", "network", FLUX_KS),
        _netpol("allow-ingress", "network", FLUX_KS),
        # RBAC: defaults, Flux's own, one declared in Git
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": _md("cluster-admin", labels={"kubernetes.io/bootstrapping": "rbac-defaults"}),
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _md("system:basic-user"), "roleRef": {"kind": "ClusterRole", "name": "system:basic-user"},
         "subjects": [{"kind": "Group", "name": "system:authenticated"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _md("cluster-reconciler-flux-system", labels={
             "kustomize.toolkit.fluxcd.io/name": "flux-system", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}),
         "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "ServiceAccount", "name": "kustomize-controller", "namespace": "flux-system"}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": _md("cilium-operator", labels=FLUX_HR_CILIUM), "rules": []},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _md("media-readers", "media"), "roleRef": {"kind": "ClusterRole", "name": "view"},
         "subjects": [{"kind": "Group", "name": "media-team"}]},
        # Kyverno
        {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": _md("require-run-as-non-root"),
         "spec": {"validationFailureAction": "Audit", "rules": []}},
        {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": _md("disallow-latest-tag"),
         "spec": {"validationFailureAction": "Audit", "rules": []}},
        {"apiVersion": "kyverno.io/v2", "kind": "PolicyException", "metadata": _md("cilium-privileged", "kube-system"),
         "spec": {"exceptions": [{"policyName": "require-run-as-non-root", "ruleNames": ["run-as-non-root"]}]}},
        {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": _md("a1b2", "media"),
         "scope": {"apiVersion": "v1", "kind": "Pod", "name": "jellyfin-7d9f8c-abcde", "namespace": "media"},
         "results": [
             {"policy": "require-run-as-non-root", "rule": "run-as-non-root", "result": "fail", "severity": "high",
              "message": "Running as root is not allowed."},
             {"policy": "disallow-latest-tag", "rule": "require-image-tag", "result": "pass"}]},
        {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": _md("c3d4", "network"),
         "results": [
             {"policy": "require-run-as-non-root", "rule": "run-as-non-root", "result": "fail", "severity": "medium",
              "resources": [{"kind": "Pod", "name": "echo-55b7f-xyz12", "namespace": "network"}],
              "message": "Running as root is not allowed."},
             {"policy": "disallow-latest-tag", "rule": "require-image-tag", "result": "pass",
              "resources": [{"kind": "Pod", "name": "echo-55b7f-xyz12", "namespace": "network"}]}]},
        # ExternalSecrets
        {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": _md("jellyfin", "media", FLUX_KS),
         "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "onepassword"}},
         "status": _ready("True", "SecretSynced", "secret synced")},
        {"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", "metadata": _md("authelia", "security", FLUX_KS),
         "spec": {"secretStoreRef": {"kind": "ClusterSecretStore", "name": "onepassword"}},
         "status": _ready("False", "SecretSyncedError", "could not get secret data from provider")},
        {"apiVersion": "external-secrets.io/v1", "kind": "ClusterSecretStore", "metadata": _md("onepassword", labels=FLUX_KS),
         "spec": {}, "status": _ready("True", "Valid", "store validated")},
        # Flux
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": _md("cluster-apps", "flux-system", generation=3),
         "spec": {"path": "./kubernetes/apps", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
         "status": {**_ready(), "observedGeneration": 3, "lastAppliedRevision": "main@sha1:abc"}},
        {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
         "metadata": _md("media", "flux-system", generation=1),
         "spec": {"suspend": True, "path": "./kubernetes/apps/media", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
         "status": {**_ready(), "observedGeneration": 1}},
        {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": _md("cilium", "kube-system", generation=2),
         "spec": {"chart": {"spec": {"chart": "cilium"}}},
         "status": {**_ready("False", "UpgradeFailed", "Helm upgrade failed: timed out waiting for the condition"),
                    "observedGeneration": 2}},
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": _md("flux-system", "flux-system"),
         "spec": {"url": "ssh://git@github.com/example/home-ops"}, "status": _ready("True", "Succeeded", "stored artifact")},
        {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository", "metadata": _md("bjw-s", "flux-system"),
         "spec": {"type": "oci", "url": "oci://ghcr.io/bjw-s/helm"}},
    ]
    if tls_pair:
        crt, key = tls_pair
        objs.append({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                     "metadata": _md("wildcard-tls", "network", annotations={"cert-manager.io/certificate-name": "wildcard"}),
                     "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(key).decode()}})
    if drift:
        objs = [o for o in objs if not (o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "allow-ingress")]
        objs += [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": _md("debug-admin", annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"}),
             "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
             "subjects": [{"kind": "User", "name": "alice"}]},
            _netpol("allow-all", "media"),
            _pod("node-debugger-node1-abcde", "default", privileged=True, host=("hostPID", "hostNetwork")),
        ]
    return objs


def git_documents() -> list[Document]:
    """The repository side: what Flux would apply (paths are illustrative)."""
    docs = [
        ("kubernetes/apps/media/namespace.yaml", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "media"}}),
        ("kubernetes/apps/network/namespace.yaml", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "network"}}),
        ("kubernetes/apps/security/namespace.yaml", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "security"}}),
        ("kubernetes/apps/media/jellyfin/app/deployment.yaml", _strip(_deploy("jellyfin", "media"))),
        ("kubernetes/apps/network/echo/app/deployment.yaml", _strip(_deploy("echo", "network"))),
        ("kubernetes/apps/media/netpol.yaml", _strip(_netpol("default-deny", "media"))),
        ("kubernetes/apps/network/netpol.yaml", _strip(_netpol("default-deny", "network"))),
        ("kubernetes/apps/network/allow-ingress.yaml", _strip(_netpol("allow-ingress", "network"))),
        ("kubernetes/apps/media/rbac.yaml", {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                                            "metadata": {"name": "media-readers", "namespace": "media"}}),
        ("kubernetes/apps/kyverno/policies/non-root.yaml", {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                                                           "metadata": {"name": "require-run-as-non-root"}}),
        ("kubernetes/apps/kyverno/policies/latest.yaml", {"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy",
                                                         "metadata": {"name": "disallow-latest-tag"}}),
        ("kubernetes/apps/kube-system/cilium/app/helmrelease.yaml", {
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "cilium", "namespace": "kube-system"}, "spec": {"chart": {"spec": {"chart": "cilium"}}}}),
        ("kubernetes/flux/cluster/ks.yaml", {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
                                             "metadata": {"name": "cluster-apps", "namespace": "flux-system"}}),
        ("kubernetes/apps/media/jellyfin/app/externalsecret.yaml", {
            "apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
            "metadata": {"name": "jellyfin", "namespace": "media"}}),
        # the kustomize build file is not a cluster object and must never count as drift
        ("kubernetes/apps/media/kustomization.yaml", {"apiVersion": "kustomize.config.k8s.io/v1beta1",
                                                      "kind": "Kustomization", "resources": ["netpol.yaml"]}),
    ]
    return [Document(path=p, line=1, index=0, body=b, origin="git") for p, b in docs]


def _strip(obj: dict) -> dict:
    """A manifest as written in Git: no server-side metadata or status."""
    out = {k: v for k, v in obj.items() if k != "status"}
    out["metadata"] = {k: v for k, v in obj["metadata"].items() if k in ("name", "namespace", "labels", "annotations")}
    out["metadata"].pop("labels", None)
    return out


def git_resources() -> list[Resource]:
    out = []
    for d in git_documents():
        md = d.body["metadata"] if "metadata" in d.body else {}
        deployed = d.body.get("apiVersion") != "kustomize.config.k8s.io/v1beta1"
        out.append(Resource(doc=d, namespace=md.get("namespace"), name=md.get("name", ""), deployed=deployed))
    return out


class StandInInventory:
    """Exactly the members the live checks may use: resources, of_kind, sources, cluster."""

    def __init__(self, resources, sources, cluster=None):
        self.resources = list(resources)
        self.sources = set(sources)
        self.cluster = cluster

    def of_kind(self, *kinds, origin=None, deployed_only=True):
        return [r for r in self.resources if r.kind in kinds and (origin is None or r.origin == origin)
                and (r.deployed or not deployed_only)]
