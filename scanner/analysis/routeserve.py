"""Does anything serve a route? An Ingress needs an IngressClass or a controller for its class; a
Gateway API route needs a parent Gateway that exists and has a listener accepting it (sectionName,
port, allowedRoutes namespaces and kinds, hostname). A route nobody serves is dead: broken, not exposed.

Conservative: a class a deployed chart's values or a controller's arguments name counts as served,
and whatever the repository cannot decide (no class and no default, a parent of another kind, a
namespace selector over unknown labels) is `served=None`, never dead.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from scanner.analysis.exposure import controllers
from scanner.core.memo import memo
from scanner.core.model import Route
from scanner.inventory.substitute import substitute

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
KINDS_BY_PROTOCOL = {"HTTP": {"HTTPRoute", "GRPCRoute"}, "HTTPS": {"HTTPRoute", "GRPCRoute"},
                     "TLS": {"TLSRoute"}, "TCP": {"TCPRoute"}, "UDP": {"UDPRoute"}}


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


@dataclass(slots=True)
class Serving:
    """Who serves a route (or why nobody does), with where that is declared."""

    served: bool | None
    detail: str
    path: str | None = None
    line: int | None = None
    listeners: list = field(default_factory=list)  # [(gateway resource, listener name)] accepting a Gateway API route


def gateways_with_listeners(inv, parent: dict) -> list:
    """Gateway docs, or Gateways a chart renders from values (`gateway: {name, listeners}`, e.g. Traefik)."""
    found = [(gw, gw.spec.get("listeners") or []) for gw in inv.find("Gateway", parent["name"], parent.get("namespace"))]
    if found:
        return found
    name = parent["name"]
    if not isinstance(name, str):
        return found
    by_name = memo(inv, "perimeter.values_gateways", lambda: _values_gateways(inv))
    return list(by_name.get(name, ()))


def _values_gateways(inv) -> dict:
    """values.gateway.name -> [(HelmRelease, listeners as the Gateway would have them)], inventory order."""
    out: dict = {}
    for hr in inv.of_kind("HelmRelease"):
        gwv = (hr.spec.get("values") or {}).get("gateway") if isinstance(hr.spec.get("values"), dict) else None
        if isinstance(gwv, dict):
            lst = gwv.get("listeners")
            if isinstance(lst, dict):
                lst = [dict(v, name=k) for k, v in lst.items() if isinstance(v, dict)]
            redirect = "redirections" in str(hr.spec.get("values")) or "redirectTo" in str(hr.spec.get("values"))
            listeners = [dict(x, allowedRoutes={"namespaces": _d(x.get("namespacePolicy")) or
                                                ({"from": x["namespacePolicy"]} if isinstance(x.get("namespacePolicy"), str) else {})},
                              protocol="HTTP-REDIRECT" if redirect and str(x.get("protocol")).upper() == "HTTP" else x.get("protocol"))
                         for x in (lst or []) if isinstance(x, dict)]
            out.setdefault(str(gwv.get("name") or ""), []).append((hr, listeners))
    return out


# ---- Ingress --------------------------------------------------------------------------------------

def _class_named_in(values, cls: str, depth: int = 0) -> bool:
    """Does a values tree name `cls` under a key about classes (ingressClass, className, ...)?"""
    if depth > 8:
        return False
    if isinstance(values, dict):
        for k, v in values.items():
            if "class" in str(k).lower() and (v == cls or (isinstance(v, dict) and v.get("name") == cls)):
                return True
            if isinstance(v, (dict, list)) and _class_named_in(v, cls, depth + 1):
                return True
    elif isinstance(values, list):
        return any(_class_named_in(v, cls, depth + 1) for v in values)
    return False


def _controller_of_class(inv, cls: str) -> Serving | None:
    for ic in inv.of_kind("IngressClass"):
        if ic.name == cls:
            return Serving(True, f"IngressClass {cls}", ic.path, ic.line)
    for c in controllers(inv):
        if cls in c.classes:
            return Serving(True, f"the {c.kind} controller {c.release.namespace}/{c.release.name} serves class {cls}",
                           c.release.path, c.release.line)
    for hr in inv.of_kind("HelmRelease"):
        values = hr.spec.get("values")
        chart = (inv.chart(hr).name or "").lower()
        if chart == "cilium" and cls == "cilium" and _d(_d(values).get("ingressController")).get("enabled") is True:
            return Serving(True, f"Cilium's ingress controller (HelmRelease {hr.namespace}/{hr.name})", hr.path, hr.line)
        if _class_named_in(values, cls):
            return Serving(True, f"HelmRelease {hr.namespace}/{hr.name} configures class {cls}", hr.path, hr.line)
    for w in inv.workloads:
        if not w.resource.deployed:
            continue
        for c in w.containers:
            args = [str(a) for a in _l(c.spec.get("args")) + _l(c.spec.get("command"))]
            if any(a.endswith(("=" + cls, "/" + cls)) and "class" in a for a in args):
                return Serving(True, f"{w.kind} {w.namespace}/{w.name} runs an ingress controller for class {cls}",
                               w.resource.path, w.resource.line)
    return None


def _ingress(inv, route: Route) -> Serving:
    if route.kind == "IngressRoute":
        return Serving(None, "Traefik IngressRoute: served by the Traefik that installed its CRD")
    cls = route.ingress_class or route.annotations.get(LEGACY_CLASS_ANNOTATION)
    if not cls:
        for ic in inv.of_kind("IngressClass"):
            if str(ic.annotations.get(DEFAULT_CLASS_ANNOTATION)).lower() == "true":
                return Serving(True, f"the default IngressClass {ic.name}", ic.path, ic.line)
        return Serving(None, "no ingress class and no default IngressClass in the repository")
    cls = substitute(str(cls), route.resource.variables)
    if "${" in cls:
        return Serving(None, f"ingress class {cls} is not resolved")
    hit = _controller_of_class(inv, cls)
    if hit is not None:
        return hit
    unseen = unseen_producers(inv, route.resource.cluster)
    if unseen:
        return Serving(None, f"no IngressClass {cls!r} among the objects seen; {unseen} may create it")
    return Serving(False, f"no IngressClass {cls!r} and no deployed ingress controller serves that class")


# ---- Gateway API ---------------------------------------------------------------------------------

def _host_ok(listener_host: str | None, route_hosts: list[str]) -> bool | None:
    if not listener_host or not route_hosts:
        return True
    if "${" in listener_host or any("${" in h for h in route_hosts):
        return None
    for h in route_hosts:
        if fnmatch.fnmatchcase(h, listener_host) or fnmatch.fnmatchcase(listener_host, h) or h == listener_host:
            return True
    return False


def _listener_accepts(inv, gw, lst: dict, parent: dict, route: Route) -> bool | None:
    if parent.get("sectionName") not in (None, lst.get("name")):
        return False
    if parent.get("port") not in (None, lst.get("port")):
        return False
    allowed = _d(lst.get("allowedRoutes"))
    kinds = [str(_d(k).get("kind")) for k in _l(allowed.get("kinds"))]
    proto = str(lst.get("protocol") or "").upper().replace("HTTP-REDIRECT", "HTTP")
    if kinds and route.kind not in kinds:
        return False
    if not kinds and proto in KINDS_BY_PROTOCOL and route.kind not in KINDS_BY_PROTOCOL[proto]:
        return False
    ns = _d(allowed.get("namespaces"))
    frm = str(ns.get("from") or "Same")
    gw_ns = gw.namespace if gw.kind == "Gateway" else (gw.spec.get("targetNamespace") or gw.namespace)
    if frm == "Same" and route.namespace != gw_ns:
        return False
    if frm == "Selector":
        from scanner.analysis.netpol import namespace_labels, selector_matches
        labels = memo(inv, "netpol.namespace_labels", lambda: namespace_labels(inv)).get(route.namespace or "")
        if labels is None:
            return None
        if not selector_matches(_d(ns.get("selector")), labels):
            return False
    lh = substitute(str(lst["hostname"]), gw.variables) if lst.get("hostname") else None
    hosts = [substitute(h, route.resource.variables) for h in route.hosts]
    return _host_ok(lh, hosts)


def _gateway_route(inv, route: Route) -> Serving:
    if not route.parent_refs:
        return Serving(None, "no parentRefs")
    accepting, reasons, unknown = [], [], False
    for p in route.parent_refs:
        if str(p.get("kind") or "Gateway") != "Gateway" or "${" in str(p.get("name")):
            unknown = True
            continue
        gws = gateways_with_listeners(inv, p)
        if not gws:
            if not inv.of_kind("Gateway") and not memo(inv, "perimeter.values_gateways", lambda: _values_gateways(inv)):
                unknown = True  # the repository declares no Gateway at all: they are installed outside it
            elif unseen_producers(inv, route.resource.cluster):
                unknown = True  # a chart or build the scan could not see may create it
            reasons.append(f"parent Gateway {p.get('namespace') or '-'}/{p['name']} does not exist")
            continue
        for gw, listeners in gws:
            if gw.kind != "Gateway":  # rendered by a chart from values: taken as accepting
                accepting.append((gw, p.get("sectionName") or "*"))
                continue
            got = [(lst, _listener_accepts(inv, gw, lst, p, route)) for lst in listeners if isinstance(lst, dict)]
            ok = [lst for lst, a in got if a]
            if ok:
                accepting.extend((gw, str(lst.get("name"))) for lst in ok)
            elif any(a is None for _, a in got):
                unknown = True
            else:
                reasons.append(f"no listener of Gateway {gw.namespace}/{gw.name} accepts it (sectionName, port, "
                               "allowedRoutes namespaces/kinds or hostname)")
    if accepting:
        gw, name = accepting[0]
        return Serving(True, f"Gateway {gw.namespace}/{gw.name} listener {name}", gw.path, gw.line, accepting)
    if unknown:
        return Serving(None, "; ".join(reasons) or "a parent the repository cannot judge")
    return Serving(False, "; ".join(dict.fromkeys(reasons)))


def unseen_producers(inv, cluster: str | None) -> str:
    """What in this cluster could create an IngressClass or Gateway the scan did not see: a HelmRelease
    whose chart was not rendered (other than app-template, which makes neither), a build that failed or
    a source outside the scan. "" when the cluster was seen whole."""
    releases = getattr(inv, "releases", {}) or {}
    opaque = sorted(f"HelmRelease {ns}/{name}" for (c, ns, name), info in releases.items()
                    if c == cluster and info.how != "helm" and info.derivation != "app-template")
    unbuilt = sorted(k.key for k in getattr(inv, "kustomizations", []) or []
                     if k.cluster == cluster and (k.how in ("failed", "external", "not-found") or k.degraded))
    parts = []
    if opaque:
        parts.append(f"{len(opaque)} unrendered chart(s) ({opaque[0]}{', ...' if len(opaque) > 1 else ''})")
    if unbuilt:
        parts.append(f"{len(unbuilt)} unbuilt Flux Kustomization(s) ({unbuilt[0]}{', ...' if len(unbuilt) > 1 else ''})")
    return " and ".join(parts)


def serving(inv, route: Route) -> Serving:
    cache = memo(inv, "routeserve.serving", dict)
    hit = cache.get(id(route))
    if hit is None or hit[0] is not route:
        out = _ingress(inv, route) if route.kind in ("Ingress", "IngressRoute") else _gateway_route(inv, route)
        hit = cache[id(route)] = (route, out)
    return hit[1]


def is_dead(inv, route: Route) -> bool:
    return serving(inv, route).served is False
