"""Routes that operators create from their custom resources, as the operator would write them.

- grafana-operator (grafana.integreatly.org) `Grafana`: `spec.ingress` gives the Ingress
  `<name>-ingress` (v5: `{metadata, spec}` merged over a default rule to `<name>-service`; v4:
  `{enabled, hostname, path, tlsEnabled, ...}`), `spec.httpRoute` the HTTPRoute `<name>-httproute`,
  `spec.route` the OpenShift Route `<name>-route` (created on OpenShift only).
- litellm-operator (litellm.home-operations.com) `LiteLLMProxy`: `spec.route` gives the HTTPRoute
  `<name>` to the Service `<name>`.
Objects keep the custom resource's namespace (unset when it has none: the caller fills it)."""
from __future__ import annotations

import copy

GRAFANA_GROUP = "grafana.integreatly.org"
LITELLM_GROUP = "litellm.home-operations.com"


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def _merge(base: dict, over: dict) -> dict:
    """The operator's merge of the user's object over its default: maps merged, lists replaced."""
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def _meta(cr: dict, name: str, extra: dict) -> dict:
    md = {"name": name}
    ns = _d(cr.get("metadata")).get("namespace")
    if ns:
        md["namespace"] = ns
    md = _merge(md, {k: v for k, v in _d(extra).items() if k in ("labels", "annotations")})
    md["ownerReferences"] = [{"apiVersion": cr.get("apiVersion"), "kind": cr.get("kind"),
                              "name": _d(cr.get("metadata")).get("name"), "controller": True}]
    return md


def _grafana_port(spec: dict) -> int:
    port = _d(_d(spec.get("config")).get("server")).get("http_port")
    try:
        return int(port)
    except (TypeError, ValueError):
        return 3000


def _grafana(cr: dict) -> list[dict]:
    spec = _d(cr.get("spec"))
    name = str(_d(cr.get("metadata")).get("name") or "grafana")
    service = f"{name}-service"
    port = _grafana_port(spec)
    out = []
    ing = spec.get("ingress")
    if isinstance(ing, dict):
        if "hostname" in ing or "enabled" in ing:  # v4 (v1alpha1) form
            if ing.get("enabled") is True:
                rule: dict = {"http": {"paths": [{"path": ing.get("path") or "/",
                                                  "pathType": ing.get("pathType") or "Prefix",
                                                  "backend": {"service": {"name": service, "port": {"number": port}}}}]}}
                if ing.get("hostname"):
                    rule = {"host": ing["hostname"], **rule}
                ispec: dict = {"rules": [rule]}
                if ing.get("ingressClassName"):
                    ispec["ingressClassName"] = ing["ingressClassName"]
                if ing.get("tlsEnabled"):
                    ispec["tls"] = [{"hosts": [ing.get("hostname")], "secretName": ing.get("tlsSecretName")}]
                out.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                            "metadata": _meta(cr, f"{name}-ingress", {"labels": ing.get("labels"),
                                                                        "annotations": ing.get("annotations")}),
                            "spec": ispec})
        elif _l(_d(ing.get("spec")).get("rules")):  # v5: created only when rules are given
            default = {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                "service": {"name": service, "port": {"number": port}}}}]}}]}
            out.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "metadata": _meta(cr, f"{name}-ingress", _d(ing.get("metadata"))),
                        "spec": _merge(default, _d(ing.get("spec")))})
    route = spec.get("httpRoute")
    if isinstance(route, dict):
        default = {"parentRefs": [], "hostnames": [],
                   "rules": [{"backendRefs": [{"name": service, "port": port}]}]}
        out.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                    "metadata": _meta(cr, f"{name}-httproute", _d(route.get("metadata"))),
                    "spec": _merge(default, _d(route.get("spec")))})
    osroute = spec.get("route")
    if isinstance(osroute, dict) and isinstance(osroute.get("spec"), dict):
        default = {"to": {"kind": "Service", "name": service}, "port": {"targetPort": port},
                   "tls": {}, "wildcardPolicy": "None"}
        out.append({"apiVersion": "route.openshift.io/v1", "kind": "Route",
                    "metadata": _meta(cr, f"{name}-route", _d(osroute.get("metadata"))),
                    "spec": _merge(default, osroute["spec"])})
    return out


def _litellm_proxy(cr: dict) -> list[dict]:
    spec = _d(cr.get("spec"))
    route = spec.get("route")
    if not isinstance(route, dict):
        return []
    name = str(_d(cr.get("metadata")).get("name") or "litellm")
    port = _d(spec.get("service")).get("port") or 4000
    parents = []
    for p in _l(route.get("parentRefs")):
        if isinstance(p, dict) and p.get("name"):
            parents.append({k: p[k] for k in ("name", "namespace", "sectionName") if p.get(k)})
    return [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": _meta(cr, name, {"labels": {"app.kubernetes.io/name": "litellm",
                                                     "app.kubernetes.io/instance": name,
                                                     "app.kubernetes.io/managed-by": "litellm-operator"}}),
             "spec": {"parentRefs": parents, "hostnames": [str(h) for h in _l(route.get("hostnames"))],
                      "rules": [{"backendRefs": [{"name": name, "port": port}]}]}}]


_HANDLERS = {(GRAFANA_GROUP, "Grafana"): _grafana, (LITELLM_GROUP, "LiteLLMProxy"): _litellm_proxy}


def understood(obj: dict) -> bool:
    """True for the custom resources whose routes `cr_routes` knows."""
    group = str(obj.get("apiVersion") or "").split("/", 1)[0] if isinstance(obj, dict) else ""
    return (group, obj.get("kind") if isinstance(obj, dict) else None) in _HANDLERS


def cr_routes(obj: dict) -> list[dict]:
    """The Ingress/HTTPRoute (or OpenShift Route) objects the operator creates for `obj`; [] for
    anything else."""
    if not isinstance(obj, dict):
        return []
    group = str(obj.get("apiVersion") or "").split("/", 1)[0]
    handler = _HANDLERS.get((group, obj.get("kind")))
    return handler(obj) if handler else []
