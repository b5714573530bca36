"""Policy enforcement layer: Kyverno deployed by Flux."""
from __future__ import annotations

from scanner.registry import check
from scanner.results import failed, passed


def kyverno_releases(inv, deployed_only=True):
    out = []
    for hr in inv.of_kind("HelmRelease", deployed_only=deployed_only):
        info = inv.chart(hr)
        if (info.name or "").lower() == "kyverno" or (info.url or "").rstrip("/").endswith("/kyverno"):
            out.append(hr)
    return out


@check(
    id="policy.kyverno-deployed",
    title="Kyverno is deployed by Flux",
    severity="high",
    rationale="""
        An admission controller is what turns security policy into something enforced: without one, nothing
        stops a privileged pod, a hostPath mount or an unauthenticated route from being applied. Kyverno is the
        policy engine of this cluster design; its absence leaves the policy layer empty.""",
    remediation="""
        Deploy the kyverno chart with a Flux HelmRelease (reachable from the Flux entry point, not suspended),
        with at least 3 admission controller replicas and webhook `failurePolicy: Fail` for the security policies.""",
    references=["https://kyverno.io/docs/installation/", "https://kyverno.io/policies/pod-security/",
                "NSA/CISA Kubernetes Hardening Guide v1.2, 'Pod security admission'"],
)
def kyverno_deployed(inv, options):
    releases = kyverno_releases(inv)
    if not releases:
        undeployed = kyverno_releases(inv, deployed_only=False)
        manifests = [r for r in inv.of_kind("Deployment") if "kyverno" in r.name and "admission" in r.name]
        if manifests:
            m = manifests[0]
            yield passed(inv, "Kyverno", f"Kyverno deployed from manifests ({m.kind} {m.name})", m)
            return
        extra = (f"; a HelmRelease exists in {undeployed[0].path} but no Flux Kustomization reached from the "
                 "entry point deploys it") if undeployed else ""
        yield failed(inv, "Kyverno", "Kyverno is not deployed" + extra, undeployed[0] if undeployed else None,
                     resource={"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "namespace": None,
                               "name": "kyverno", "origin": "git"} if not undeployed else None,
                     location=None if undeployed else None)
        return
    for hr in releases:
        info = inv.chart(hr)
        values = hr.spec.get("values") if isinstance(hr.spec.get("values"), dict) else {}
        replicas = ((values.get("admissionController") or {}).get("replicas")
                    if isinstance(values.get("admissionController"), dict) else None)
        evidence = {"chart_version": info.version, "admission_replicas": replicas or 1}
        if hr.spec.get("suspend") is True:
            yield failed(inv, f"HelmRelease {hr.namespace}/{hr.name}", "Kyverno HelmRelease is suspended", hr,
                         ("spec", "suspend"), evidence=evidence)
        else:
            yield passed(inv, f"HelmRelease {hr.namespace}/{hr.name}",
                         f"Kyverno {info.version or ''} deployed by Flux ({replicas or 1} admission controller replica(s))",
                         hr, evidence=evidence)
