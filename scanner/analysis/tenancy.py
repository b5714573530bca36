"""Is the repository multi-tenant? The decision, and the evidence it rests on.

Flux's tenancy controls (service-account impersonation, no cross-namespace references, a default
service account, admission policies over tenant sources) only mean something where several tenants
share the cluster. The decision is taken from what the repository shows, never from names:

- FluxInstance `cluster.multitenant: true` (the operator's multi-tenancy lockdown);
- Flux Kustomizations or HelmReleases that impersonate a ServiceAccount (`spec.serviceAccountName`);
- namespaces labelled `toolkit.fluxcd.io/tenant` (what `flux create tenant` writes);
- namespaced RBAC for Flux: RoleBindings whose subject is a `gotk:<namespace>:reconciler` user or a
  ServiceAccount a Flux object impersonates;
- a `tenants/` folder (the layout of Flux's multi-tenancy guide) holding deployed Flux objects.

Any one of them makes the repository multi-tenant; none makes it a single-tenant cluster, and the
evidence says what was looked for. Tenant namespaces are those the evidence points at; with the
operator's lockdown, every namespace outside the controllers' own that holds a Flux object. A Flux
object belongs to the tenant whose namespace it lives in (one in the controllers' namespace that
impersonates a ServiceAccount works for its `targetNamespace`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scanner.analysis import fluxinstance
from scanner.core.memo import memo

TENANT_LABEL = "toolkit.fluxcd.io/tenant"
FLUX_APPLIERS = ("Kustomization", "HelmRelease")
LOOKED_FOR = ("FluxInstance cluster.multitenant: true", "Flux Kustomizations/HelmReleases with serviceAccountName",
              f"namespaces labelled {TENANT_LABEL}", "RoleBindings for Flux reconcilers (gotk:<ns>:reconciler)",
              "a tenants/ folder with Flux objects")


def appliers(inv) -> list:
    """Deployed Flux Kustomizations and HelmReleases."""
    return [r for r in inv.of_kind(*FLUX_APPLIERS)
            if r.api_version.startswith(("kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"))]


@dataclass
class Tenancy:
    multi_tenant: bool
    evidence: list[str] = field(default_factory=list)  # "what (path:line)"
    tenant_namespaces: set[str] = field(default_factory=set)
    flux_namespace: str = fluxinstance.FLUX_NAMESPACE
    lockdown: str | None = None  # where FluxInstance cluster.multitenant: true is set

    def summary(self, limit: int = 4) -> str:
        if not self.multi_tenant:
            return "none of: " + "; ".join(LOOKED_FOR)
        more = f"; … {len(self.evidence) - limit} more" if len(self.evidence) > limit else ""
        return "; ".join(self.evidence[:limit]) + more

    def as_dict(self) -> dict:
        return {"multi_tenant": self.multi_tenant, "evidence": self.evidence[:50],
                "looked_for": list(LOOKED_FOR), "tenant_namespaces": sorted(self.tenant_namespaces),
                "flux_namespace": self.flux_namespace}


def _where(inv, res, path=()) -> str:
    line = inv.line_of(res, path) if res.origin == "git" else None
    return f"{res.path}:{line}" if line else res.path


def _decide(inv) -> Tenancy:
    t = Tenancy(False, flux_namespace=fluxinstance.flux_namespace(inv))
    for inst in fluxinstance.instance_specs(inv):
        if inst.get("cluster", "multitenant") is True:
            loc = inst.location(inv, "cluster", "multitenant")
            t.lockdown = f"{loc.path}:{loc.line}"
            t.evidence.append(f"{inst.subject} sets cluster.multitenant: true ({t.lockdown})")
    flux_objs = appliers(inv)
    impersonated: set[tuple[str, str]] = set()
    for r in flux_objs:
        sa = r.spec.get("serviceAccountName")
        if sa:
            ns = tenant_namespace_of(r, t.flux_namespace)
            impersonated.add((r.namespace or "", str(sa)))
            t.tenant_namespaces.add(ns)
            t.evidence.append(f"{r.kind} {r.namespace}/{r.name} impersonates ServiceAccount {sa} "
                              f"({_where(inv, r, ('spec', 'serviceAccountName'))})")
    for ns in inv.of_kind("Namespace"):
        if TENANT_LABEL in ns.labels:
            t.tenant_namespaces.add(ns.name)
            t.evidence.append(f"Namespace {ns.name} is labelled {TENANT_LABEL}={ns.labels[TENANT_LABEL]} "
                              f"({_where(inv, ns, ('metadata', 'labels'))})")
    for rb in inv.of_kind("RoleBinding"):
        for s in rb.body.get("subjects") or [] if isinstance(rb.body, dict) else []:
            if not isinstance(s, dict):
                continue
            name = str(s.get("name") or "")
            reconciler = s.get("kind") == "User" and name.startswith("gotk:") and name.endswith(":reconciler")
            bound_sa = s.get("kind") == "ServiceAccount" and (str(s.get("namespace") or rb.namespace or ""), name) in impersonated
            if reconciler or bound_sa:
                if rb.namespace:
                    t.tenant_namespaces.add(rb.namespace)
                t.evidence.append(f"RoleBinding {rb.namespace}/{rb.name} grants Flux reconciler {s.get('kind')} {name} "
                                  f"namespaced rights ({_where(inv, rb)})")
                break
    for r in flux_objs + inv.of_kind("GitRepository", "OCIRepository", "HelmRepository", "Bucket"):
        if r.origin == "git" and "tenants" in r.path.split("/")[:-1]:
            t.tenant_namespaces.add(tenant_namespace_of(r, t.flux_namespace))
            t.evidence.append(f"{r.kind} {r.namespace}/{r.name} is defined in a tenants/ folder ({_where(inv, r)})")
    t.multi_tenant = bool(t.evidence)
    if t.lockdown:  # the operator's lockdown applies to every namespace outside its own
        t.tenant_namespaces |= {r.namespace for r in flux_objs if r.namespace}
    t.tenant_namespaces.discard(t.flux_namespace)
    t.tenant_namespaces.discard("")
    return t


def tenant_namespace_of(r, flux_ns: str) -> str:
    """The tenant a Flux object works for: its namespace, or where it deploys when it sits in Flux's own."""
    if (r.namespace or flux_ns) == flux_ns and r.spec.get("targetNamespace"):
        return str(r.spec["targetNamespace"])
    return r.namespace or ""


def decide(inv) -> Tenancy:
    return memo(inv, "tenancy.decision", lambda: _decide(inv))
