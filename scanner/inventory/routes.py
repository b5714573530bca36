"""Derive HTTP routes from Ingress/HTTPRoute/GRPCRoute manifests and from HelmRelease values."""
from __future__ import annotations

import re

from scanner.inventory.helm import release_name
from scanner.core.model import Resource, Route

ROUTE_KINDS = ("HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def _release_template(text, release: str):
    if isinstance(text, str) and "{{" in text:
        return (text.replace("{{ .Release.Name }}", release).replace("{{.Release.Name}}", release))
    return text


def _parents(refs, default_ns) -> list[dict]:
    out = []
    for p in _l(refs):
        if isinstance(p, dict) and p.get("name"):
            out.append({"name": str(p["name"]), "namespace": p.get("namespace") or default_ns,
                        "sectionName": p.get("sectionName"), "kind": p.get("kind") or "Gateway"})
    return out


_TRAEFIK_HOST = re.compile(r"Host(?:SNI)?\(([^)]*)\)")
_BACKTICKED = re.compile(r"[`\"']([^`\"']+)[`\"']")
TRAEFIK_GROUPS = ("traefik.io", "traefik.containo.us")


def _ingressroute(res: Resource) -> Route:
    """Traefik's IngressRoute CRD: hosts from `match: Host(`a`) || Host(`b`)`, middlewares as the
    ExtensionRef filters the auth analysis already understands (namespace kept: IngressRoutes may
    point across namespaces)."""
    spec = res.spec
    hosts, filters, backends = [], [], []
    for r in _l(spec.get("routes")):
        r = _d(r)
        for m in _TRAEFIK_HOST.finditer(str(r.get("match") or "")):
            hosts.extend(h for h in _BACKTICKED.findall(m.group(1)) if h not in hosts)
        for mw in _l(r.get("middlewares")):
            if isinstance(mw, dict) and mw.get("name"):
                filters.append({"type": "ExtensionRef", "extensionRef": {
                    "group": "traefik.io", "kind": "Middleware", "name": str(mw["name"]),
                    "namespace": mw.get("namespace") or res.namespace}})
        for svc in _l(r.get("services")):
            if isinstance(svc, dict) and svc.get("name"):
                backends.append({"name": svc["name"], "port": svc.get("port"), "namespace": svc.get("namespace")})
    cls = res.annotations.get("kubernetes.io/ingress.class") or spec.get("ingressClassName")
    return Route(name=res.name, namespace=res.namespace, kind="IngressRoute", resource=res, hosts=hosts,
                 annotations=dict(res.annotations), source="manifest", ingress_class=cls,
                 tls=isinstance(spec.get("tls"), dict), filters=filters, backends=backends)


def from_manifest(res: Resource) -> Route | None:
    if res.kind == "IngressRoute" and res.group in TRAEFIK_GROUPS:
        return _ingressroute(res)
    if res.kind == "Ingress" and res.group in ("networking.k8s.io", "extensions"):
        spec = res.spec
        hosts = [str(r.get("host")) for r in _l(spec.get("rules")) if isinstance(r, dict) and r.get("host")]
        backends = []
        for r in _l(spec.get("rules")):
            for p in _l(_d(_d(r).get("http")).get("paths")):
                svc = _d(_d(_d(p).get("backend")).get("service"))
                if svc.get("name"):
                    backends.append({"name": svc["name"], "port": _d(svc.get("port")).get("number") or _d(svc.get("port")).get("name")})
        cls = spec.get("ingressClassName") or res.annotations.get("kubernetes.io/ingress.class")
        return Route(name=res.name, namespace=res.namespace, kind="Ingress", resource=res, hosts=hosts,
                     annotations=dict(res.annotations), source="manifest", ingress_class=cls,
                     tls=bool(_l(spec.get("tls"))), backends=backends)
    if res.kind in ROUTE_KINDS and res.group == "gateway.networking.k8s.io":
        spec = res.spec
        filters, backends = [], []
        for rule in _l(spec.get("rules")):
            filters.extend(f for f in _l(_d(rule).get("filters")) if isinstance(f, dict))
            for b in _l(_d(rule).get("backendRefs")):
                if isinstance(b, dict) and b.get("name"):
                    backends.append({"name": b["name"], "port": b.get("port"), "namespace": b.get("namespace")})
        return Route(name=res.name, namespace=res.namespace, kind=res.kind, resource=res,
                     hosts=[str(h) for h in _l(spec.get("hostnames"))], annotations=dict(res.annotations),
                     source="manifest", parent_refs=_parents(spec.get("parentRefs"), res.namespace),
                     filters=filters, backends=backends)
    return None


def from_values(hr: Resource, app_template: bool) -> list[Route]:
    """app-template `route:`/`ingress:` blocks, and the generic `ingress:` of other charts."""
    values = _d(hr.spec.get("values"))
    release = release_name(hr)
    base = ("spec", "values")
    out: list[Route] = []
    if app_template:
        routes = {k: v for k, v in _d(values.get("route")).items() if isinstance(v, dict) and v.get("enabled", True) is not False}
        for rid, r in routes.items():
            filters, backends = [], []
            for rule in _l(r.get("rules")):
                filters.extend(f for f in _l(_d(rule).get("filters")) if isinstance(f, dict))
                for b in _l(_d(rule).get("backendRefs")):
                    if isinstance(b, dict):
                        backends.append({"name": b.get("name") or f"{release}{'-' + str(b['identifier']) if b.get('identifier') else ''}",
                                         "port": b.get("port")})
            if not backends:
                backends = [{"name": release, "port": None}]
            name = r.get("nameOverride") or (release if len(routes) == 1 else f"{release}-{rid}")
            out.append(Route(name=str(name), namespace=hr.namespace, kind=str(r.get("kind") or "HTTPRoute"), resource=hr,
                             hosts=[str(_release_template(h, release)) for h in _l(r.get("hostnames"))],
                             annotations=dict(_d(r.get("annotations"))), source="app-template",
                             parent_refs=_parents(r.get("parentRefs"), hr.namespace), filters=filters,
                             backends=backends, path=base + ("route", rid),
                             aliases=(release, f"{release}-{rid}")))
        ingresses = {k: v for k, v in _d(values.get("ingress")).items() if isinstance(v, dict) and v.get("enabled", True) is not False}
        for iid, ing in ingresses.items():
            hosts = [str(_release_template(h.get("host"), release)) for h in _l(ing.get("hosts")) if isinstance(h, dict) and h.get("host")]
            name = ing.get("nameOverride") or (release if len(ingresses) == 1 else f"{release}-{iid}")
            out.append(Route(name=str(name), namespace=hr.namespace, kind="Ingress", resource=hr, hosts=hosts,
                             annotations=dict(_d(ing.get("annotations"))), source="app-template",
                             ingress_class=ing.get("className") or ing.get("ingressClassName"),
                             tls=bool(_l(ing.get("tls"))), path=base + ("ingress", iid),
                             backends=[{"name": release, "port": None}], aliases=(release, f"{release}-{iid}")))
        return out
    # Other charts: an `ingress` block with enabled: true at the top or one level down.
    for path, block in _generic_ingress_blocks(values):
        raw_hosts = _l(block.get("hosts")) or ([block.get("hostname")] if block.get("hostname") else [])
        hosts = [str(h.get("host") if isinstance(h, dict) else h) for h in raw_hosts if h]
        out.append(Route(name=release, namespace=hr.namespace, kind="Ingress", resource=hr, hosts=hosts,
                         annotations=dict(_d(block.get("annotations"))), source="chart-values",
                         ingress_class=block.get("ingressClassName") or block.get("className"),
                         tls=bool(block.get("tls")), path=base + path, backends=[{"name": release, "port": None}]))
    return out


def _generic_ingress_blocks(values: dict):
    for key, v in values.items():
        if key == "ingress" and isinstance(v, dict) and v.get("enabled") is True:
            yield (key,), v
        elif isinstance(v, dict):
            ing = v.get("ingress")
            if isinstance(ing, dict) and ing.get("enabled") is True:
                yield (key, "ingress"), ing
