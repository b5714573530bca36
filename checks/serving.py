"""Routes nobody serves (GitOps layer): declared and applied, published nowhere.

Kept apart from checks/gitops.py (the Flux objects themselves): this judges what a route's class or
parent Gateway makes of it (scanner.analysis.routeserve). A dead route is a broken deployment, so it is
never judged as an exposed one by the perimeter and authentication checks."""
from __future__ import annotations

from scanner.analysis.routeserve import serving
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed
from scanner.inventory.substitute import substitute


@check(
    id="gitops.dead-routes",
    title="Every route is served (its ingress class or parent Gateway exists and accepts it)",
    severity="low",
    rationale="""
        An Ingress whose class no IngressClass or controller serves, or an HTTPRoute whose parent Gateway
        does not exist or accepts no route like it, is published nowhere: a broken deployment, not an
        open door. It misleads reviewers (the host looks exposed) and becomes live, unreviewed, the day a
        controller for that class or a Gateway of that name appears.""",
    remediation="""
        Point the route at a class or Gateway the cluster runs (`ingressClassName`, `parentRefs` with the
        Gateway's namespace and listener `sectionName`; the listener's `allowedRoutes` must admit the route's
        namespace and kind, its `hostname` must match), or delete the route.""",
    references=["https://kubernetes.io/docs/concepts/services-networking/ingress/#ingress-class",
                "https://gateway-api.sigs.k8s.io/api-types/gateway/#listeners"],
)
def dead_routes(inv, options):
    for route in inv.routes:
        if not route.resource.deployed or route.kind in ("TCPRoute", "UDPRoute"):
            continue
        s = serving(inv, route)
        subject = f"{route.kind} {route.namespace}/{route.name}"
        hosts = ", ".join(substitute(h, route.resource.variables) for h in route.hosts) or "(no host)"
        ev = {"served_by": s.detail, "declared_at": f"{s.path}:{s.line}" if s.path else None}
        if s.served is False:
            yield failed(inv, subject, f"{hosts}: dead route, nothing serves it: {s.detail}", route.resource, route.path,
                         evidence=ev)
        elif s.served:
            yield passed(inv, subject, f"{hosts}: served by {s.detail}", route.resource, route.path, evidence=ev)
        else:
            yield passed(inv, subject, f"{hosts}: no sign that it is unserved ({s.detail})", route.resource, route.path,
                         evidence=ev)
