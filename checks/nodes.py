"""Node layer: Talos machine configuration (talhelper talconfig and patches)."""
from __future__ import annotations

from scanner.model import Location
from scanner.registry import check
from scanner.results import failed, passed

DANGEROUS_TALOS_ROLES = {"os:admin", "os:operator", "os:etcd:backup"}


def talos_documents(inv):
    """Talos machine-config documents (patches, generated configs, talconfig inline patches)."""
    for doc in inv.documents:
        body = doc.body
        if doc.origin == "git" and isinstance(body, dict) and not doc.is_manifest and (
                isinstance(body.get("machine"), dict) or isinstance(body.get("cluster"), dict)):
            yield doc, body
    for doc in inv.documents:
        body = doc.body
        if doc.origin == "git" and isinstance(body, dict) and "talosVersion" in body:
            for section in ("controlPlane", "worker"):
                for i, patch in enumerate(((body.get(section) or {}).get("patches") or [])
                                          if isinstance(body.get(section), dict) else []):
                    if isinstance(patch, dict):
                        yield doc, patch


@check(
    id="nodes.talos-api-access",
    title="Kubernetes workloads get no admin access to the Talos API",
    severity="high",
    rationale="""
        `machine.features.kubernetesTalosAPIAccess` lets pods in the listed namespaces talk to the Talos API.
        With `os:admin` a compromised pod there can reset nodes, read machine secrets (etcd keys, CA) and
        replace the OS: a direct path from a workload to full cluster compromise.""",
    remediation="""
        Grant the narrowest role the tool needs (`os:reader`, or `os:etcd:backup` only for backup jobs), limit
        `allowedKubernetesNamespaces` to a dedicated namespace, or disable the feature.""",
    references=["https://www.talos.dev/latest/advanced/talos-api-access-from-k8s/",
                "https://www.talos.dev/latest/learn-more/talos-network-connectivity/"],
)
def talos_api_access(inv, options):
    seen = False
    for doc, body in talos_documents(inv):
        machine = body.get("machine") if isinstance(body.get("machine"), dict) else {}
        access = ((machine.get("features") or {}).get("kubernetesTalosAPIAccess")
                  if isinstance(machine.get("features"), dict) else None)
        if not isinstance(access, dict) or access.get("enabled") is False:
            continue
        seen = True
        roles = [str(r) for r in access.get("allowedRoles") or []]
        namespaces = [str(n) for n in access.get("allowedKubernetesNamespaces") or []]
        risky = sorted(set(roles) & DANGEROUS_TALOS_ROLES)
        subject = f"Talos config {doc.path}"
        loc = Location(doc.path, inv.line_of(doc, ("machine", "features", "kubernetesTalosAPIAccess", "allowedRoles")))
        if risky:
            yield failed(inv, subject, f"kubernetesTalosAPIAccess grants {', '.join(risky)} to namespaces "
                         f"{', '.join(namespaces) or '(none listed)'}", location=loc,
                         resource={"apiVersion": "v1alpha1", "kind": "TalosMachineConfig", "namespace": None,
                                   "name": doc.path, "origin": "git"},
                         evidence={"roles": roles, "namespaces": namespaces})
        else:
            yield passed(inv, subject, f"kubernetesTalosAPIAccess limited to {', '.join(roles) or 'no roles'}",
                         location=loc, evidence={"roles": roles, "namespaces": namespaces})
    if not seen:
        talconfigs = [d for d in inv.documents if isinstance(d.body, dict) and "talosVersion" in d.body]
        if talconfigs:
            d = talconfigs[0]
            yield passed(inv, f"Talos config {d.path}", "Talos API access from Kubernetes is not enabled",
                         location=Location(d.path, d.line))
