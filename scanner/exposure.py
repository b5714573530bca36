"""What is reachable from the internet: classify each route as external or internal.

A route is external when its Gateway or ingress class is internet-facing: named so in config, named
external/public, carrying an external-dns target, or the target of a cloudflared tunnel rule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Route

_EXTERNAL_NAME = re.compile(r"(^|[-_.])(external|public|wan|internet)([-_.]|$)", re.I)
_INTERNAL_NAME = re.compile(r"(^|[-_.])(internal|private|lan|local)([-_.]|$)", re.I)


@dataclass(slots=True)
class Exposure:
    external: bool
    via: str  # gateway "ns/name" or ingress class
    reason: str


def _gateway_is_external(inv, ns: str | None, name: str, options: dict) -> tuple[bool, str]:
    configured_ext = set(options.get("external_gateways") or [])
    configured_int = set(options.get("internal_gateways") or [])
    key = f"{ns}/{name}"
    if name in configured_int or key in configured_int:
        return False, "listed as internal in posture.yaml"
    if name in configured_ext or key in configured_ext:
        return True, "listed as external in posture.yaml"
    for gw in inv.find("Gateway", name, ns) or inv.find("Gateway", name):
        labels, ann = gw.labels, gw.annotations
        target = str(ann.get("external-dns.alpha.kubernetes.io/target", ""))
        if "cfargotunnel.com" in target or "tunnel" in target.lower():
            return True, f"Gateway {gw.name} has an external-dns target on a Cloudflare tunnel ({gw.path}:{gw.line})"
    if _EXTERNAL_NAME.search(name):
        return True, f"Gateway name {name!r} marks it internet-facing"
    return False, "no sign that the Gateway is internet-facing"


def _class_is_external(name: str | None, options: dict) -> tuple[bool, str]:
    if not name:
        return False, "no ingress class"
    if name in set(options.get("internal_classes") or []):
        return False, "listed as internal in posture.yaml"
    if name in set(options.get("external_classes") or []):
        return True, "listed as external in posture.yaml"
    if _EXTERNAL_NAME.search(name):
        return True, f"ingress class {name!r} marks it internet-facing"
    return False, f"ingress class {name!r} is not internet-facing"


def classify(inv, route: Route, options: dict | None = None) -> Exposure:
    options = options or {}
    if route.kind == "Ingress":
        ext, why = _class_is_external(route.ingress_class, options)
        return Exposure(ext, f"class {route.ingress_class or '-'}", why)
    for p in route.parent_refs:
        ext, why = _gateway_is_external(inv, p.get("namespace"), p["name"], options)
        if ext:
            return Exposure(True, f"gateway {p.get('namespace') or '-'}/{p['name']}", why)
    via = ", ".join(f"gateway {p.get('namespace') or '-'}/{p['name']}" for p in route.parent_refs) or "no parent"
    return Exposure(False, via, "no internet-facing parent")


def exposure_map(inv, options: dict | None = None) -> list[dict]:
    out = []
    for r in inv.routes:
        if not r.resource.deployed:
            continue
        e = classify(inv, r, options)
        for host in r.hosts or ["(no host)"]:
            out.append({"host": host, "kind": r.kind, "name": r.name, "namespace": r.namespace,
                        "exposure": "external" if e.external else "internal", "via": e.via, "reason": e.reason,
                        "backend": ", ".join(str(b.get("name")) for b in r.backends) or None, "auth": None,
                        "location": {"path": r.resource.path, "line": inv.line_of(r.resource, r.path)}})
    return out
