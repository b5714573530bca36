"""GitOps integrity layer: the Flux graph resolves and is acyclic."""
from __future__ import annotations

from scanner.registry import check
from scanner.results import failed, passed

FLUX_KINDS = ("Kustomization", "HelmRelease")


def flux_objects(inv):
    return [r for r in inv.of_kind(*FLUX_KINDS)
            if r.api_version.startswith(("kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"))]


@check(
    id="gitops.dependson-resolves",
    title="Every Flux dependsOn points at an object that exists",
    severity="medium",
    rationale="""
        Flux waits forever for a dependency that does not exist: the dependent Kustomization or HelmRelease
        never reconciles, so a security fix merged to Git silently never reaches the cluster.""",
    remediation="""
        Fix the `dependsOn` name/namespace, or remove the entry when the dependency was retired.""",
    references=["https://fluxcd.io/flux/components/kustomize/kustomizations/#dependencies",
                "https://fluxcd.io/flux/components/helm/helmreleases/#dependencies"],
)
def dependson_resolves(inv, options):
    objs = flux_objects(inv)
    index = {(r.kind, r.namespace, r.name) for r in objs}
    for r in objs:
        for i, dep in enumerate(r.spec.get("dependsOn") or []):
            if not isinstance(dep, dict) or not dep.get("name"):
                continue
            ns = dep.get("namespace") or r.namespace
            name = str(dep["name"])
            subject = f"{r.kind} {r.namespace}/{r.name} dependsOn {ns}/{name}"
            if (r.kind, ns, name) in index:
                yield passed(inv, subject, f"dependency {ns}/{name} exists", r, ("spec", "dependsOn", i))
            else:
                yield failed(inv, subject, f"{r.kind} {r.namespace}/{r.name} depends on {r.kind} {ns}/{name}, "
                             "which no deployed Flux object defines", r, ("spec", "dependsOn", i))
