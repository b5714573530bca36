"""Perimeter layer: what the internet reaches, and how."""
from __future__ import annotations

from scanner.exposure import classify
from scanner.registry import check
from scanner.results import failed, passed


@check(
    id="perimeter.external-routes-tls",
    title="External routes are served over TLS",
    severity="high",
    rationale="""
        Credentials and session cookies sent over plain HTTP from the internet can be read and replayed by
        anyone on the path. Every internet-facing host must terminate TLS (on the Gateway listener, the
        Ingress `tls:` block, or the tunnel edge).""",
    remediation="""
        Attach the route to an HTTPS listener (Gateway `listeners[].tls` with a cert-manager certificate) or
        add `tls:` with a secret to the Ingress; for Cloudflare tunnels, TLS terminates at the edge.""",
    references=["https://gateway-api.sigs.k8s.io/guides/tls/", "https://cert-manager.io/docs/usage/ingress/"],
)
def external_routes_tls(inv, options):
    for route in inv.routes:
        if not route.resource.deployed:
            continue
        exp = classify(inv, route, options)
        if not exp.external:
            continue
        subject = f"{route.kind} {route.namespace}/{route.name}"
        hosts = ", ".join(route.hosts) or "(no host)"
        if route.kind == "Ingress":
            tunnel = "tunnel" in exp.reason.lower()
            ok = route.tls or tunnel
            yield (passed if ok else failed)(inv, subject, f"{hosts}: " + ("TLS configured" if route.tls else
                   "TLS terminated at the tunnel edge" if tunnel else "external Ingress without a tls: block"),
                   route.resource, route.path, evidence={"via": exp.via})
            continue
        tls_listeners = []
        for p in route.parent_refs:
            for gw in inv.find("Gateway", p["name"], p.get("namespace")):
                for lst in gw.spec.get("listeners") or []:
                    if isinstance(lst, dict) and (p.get("sectionName") in (None, lst.get("name"))):
                        if str(lst.get("protocol", "")).upper() in ("HTTPS", "TLS"):
                            tls_listeners.append(f"{gw.name}/{lst.get('name')}")
                        elif p.get("sectionName") == lst.get("name"):
                            tls_listeners = []
                            break
        tunnel = "tunnel" in exp.reason.lower()
        ok = bool(tls_listeners) or tunnel
        msg = (f"{hosts}: served by HTTPS listener {tls_listeners[0]}" if tls_listeners else
               f"{hosts}: TLS terminated at the Cloudflare tunnel edge" if tunnel else
               f"{hosts}: external route without an HTTPS listener")
        yield (passed if ok else failed)(inv, subject, msg, route.resource, route.path,
                                         evidence={"via": exp.via, "listeners": tls_listeners})
