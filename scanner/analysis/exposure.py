"""What is reachable from the internet: classify each route as external or internal, and list the
other entry points (LoadBalancer/NodePort Services, host-network pods, cloudflared tunnel rules).

A route is external when its Gateway or ingress class is internet-facing. The evidence, strongest
first: posture.yaml (`external_gateways`/`external_classes`/`internal_*`), a cloudflared tunnel rule
whose `service:` is the Gateway's or ingress controller's Service, an external-dns target on the
Gateway/controller pointing at a tunnel CNAME or a public-looking name, an OPNsense WAN port forward to
the entry point's address (when a config.xml is given), and finally the Gateway/class name.
Everything here reads shapes, never names of a particular repo.
"""
from __future__ import annotations

import os

import ipaddress
import re
from dataclasses import dataclass, field

from scanner.inventory.helm import release_name
from scanner.core.model import Resource, Route
from scanner.core.selectors import label_selector_matches
from scanner.inventory.substitute import substitute

_EXTERNAL_NAME = re.compile(r"(^|[-_.])(external|public|wan|internet|ext)([-_.]|$)", re.I)
_INTERNAL_NAME = re.compile(r"(^|[-_.])(internal|private|lan|local|int|home)([-_.]|$)", re.I)
_SVC_HOST = re.compile(r"^(?:[a-z0-9+.-]+://)?([^/:]+)(?::(\d+))?", re.I)

IP_ANNOTATIONS = ("lbipam.cilium.io/ips", "io.cilium/lb-ipam-ips", "metallb.universe.tf/loadBalancerIPs",
                  "metallb.io/loadBalancerIPs", "kube-vip.io/loadbalancerIPs", "kube-vip.io/loadbalancerIPs")
INTERNAL_LB_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": None,
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal",
    "service.beta.kubernetes.io/azure-load-balancer-internal": "true",
    "networking.gke.io/load-balancer-type": "internal",
    "cloud.google.com/load-balancer-type": "internal",
    "service.beta.kubernetes.io/oci-load-balancer-internal": "true",
    "service.beta.kubernetes.io/openstack-internal-load-balancer": "true",
    "service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type": "private",
    "service.beta.kubernetes.io/do-loadbalancer-internal": "true",
}
DNS_TARGET_KEYS = ("external-dns.alpha.kubernetes.io/target", "external-dns.alpha.kubernetes.io/hostname")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


@dataclass(slots=True)
class Exposure:
    """Whether a route is reachable from outside, through what, and why."""

    external: bool
    via: str  # gateway "ns/name" or ingress class
    reason: str


@dataclass(slots=True)
class TunnelRule:
    """One hostname rule of a tunnel (e.g. cloudflared) config and the service it forwards to."""

    hostname: str | None
    service: str
    svc_name: str | None
    svc_namespace: str | None
    doc_path: str
    line: int | None
    resource: Resource | None = None


@dataclass(slots=True, eq=False)
class ServiceExposure:
    """A LoadBalancer/NodePort Service, declared or implied (chart values, Gateway data planes)."""

    name: str
    namespace: str | None
    type: str  # LoadBalancer, NodePort
    resource: Resource
    path: tuple
    annotations: dict
    load_balancer_ip: str | None = None
    source_ranges: list = field(default_factory=list)
    external_ips: list = field(default_factory=list)
    ports: list = field(default_factory=list)
    source: str = "manifest"  # manifest, app-template, chart-values, gateway
    ips: list = field(default_factory=list)  # resolved addresses (strings)
    unresolved: list = field(default_factory=list)  # addresses still holding ${VARS}


def _public_name(value: str) -> tuple[bool | None, str]:
    """Does an external-dns target/hostname point at a public name? None when it says nothing."""
    v = str(value or "").strip().lower()
    if not v:
        return None, ""
    if "cfargotunnel.com" in v:
        return True, "a Cloudflare tunnel CNAME"
    first = v.split(",")[0].strip().split(".")[0]
    if _EXTERNAL_NAME.search(first):
        return True, f"the public name {value!r}"
    if _INTERNAL_NAME.search(first):
        return False, f"the internal name {value!r}"
    try:
        ip = ipaddress.ip_address(first if first.count(".") == 0 else v.split(",")[0].strip())
        return (not ip.is_private), f"the address {value}"
    except ValueError:
        return None, ""


def _svc_of(service_url: str) -> tuple[str | None, str | None]:
    m = _SVC_HOST.match(str(service_url or "").strip())
    if not m:
        return None, None
    host = m.group(1).lower()
    if host in ("localhost", "127.0.0.1") or re.match(r"^\d+\.\d+\.\d+\.\d+$", host):
        return host, None
    parts = host.split(".")
    if len(parts) == 1:
        return parts[0], None
    if len(parts) >= 2 and (len(parts) == 2 or parts[2] == "svc"):
        return parts[0], parts[1]
    return host, None


# ---- cloudflared rules ---------------------------------------------------------------------------

def _tunnel_lists(obj, depth=0):
    """Yield `ingress:` lists shaped like cloudflared rules anywhere in a data structure."""
    if depth > 8:
        return
    if isinstance(obj, dict):
        ing = obj.get("ingress")
        if isinstance(ing, list) and ing and all(isinstance(r, dict) for r in ing) and \
                any("service" in r for r in ing) and all(set(r) <= {"hostname", "service", "path", "originRequest"} for r in ing):
            yield ing
        for v in obj.values():
            if isinstance(v, (dict, list)):
                yield from _tunnel_lists(v, depth + 1)
            elif isinstance(v, str) and "ingress:" in v and "service:" in v:
                from scanner.sources.yamlload import load_documents

                docs, _ = load_documents(v)
                for d in docs:
                    yield from _tunnel_lists(d.body, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)):
                yield from _tunnel_lists(v, depth + 1)


def tunnel_rules(inv) -> list[TunnelRule]:
    cache = _cache(inv)
    if "tunnel" in cache:
        return cache["tunnel"]
    out: list[TunnelRule] = []
    seen = set()
    # A repository without a Flux root (read as one plain build): its config files count as applied.
    plain = bool(inv.roots) and all(r.implicit for r in inv.roots)
    for doc in inv.documents:
        if doc.origin != "git" or not isinstance(doc.body, dict):
            continue
        if doc.is_manifest:
            continue
        if not plain and inv.root is not None and doc.path not in inv.deployed_files:
            continue
        if inv.is_archived(doc.path):
            continue
        for rules in _tunnel_lists(doc.body):
            for i, r in enumerate(rules):
                key = (doc.path, id(rules), i)
                if key in seen:
                    continue
                seen.add(key)
                name, ns = _svc_of(r.get("service"))
                out.append(TunnelRule(r.get("hostname"), str(r.get("service")), name, ns, doc.path,
                                      inv.line_of(doc, ("ingress", i)) if "ingress" in doc.body else doc.line))
    for res in inv.of_kind("HelmRelease", "ConfigMap"):
        body = res.spec.get("values") if res.kind == "HelmRelease" else res.body.get("data")
        for rules in _tunnel_lists(body):
            for r in rules:
                name, ns = _svc_of(r.get("service"))
                out.append(TunnelRule(r.get("hostname"), str(r.get("service")), name, ns, res.path,
                                      res.line, res))
    cache["tunnel"] = out
    return out


def _cache(inv) -> dict:
    c = getattr(inv, "_posture_net_cache", None)
    if c is None:
        c = {}
        try:
            setattr(inv, "_posture_net_cache", c)
        except AttributeError:  # pragma: no cover - slots inventories
            pass
    return c


# ---- ingress controllers ------------------------------------------------------------------------

@dataclass(slots=True, eq=False)
class Controller:
    """An ingress controller release: its Services, ingress classes and DNS names."""

    release: Resource
    kind: str  # ingress-nginx, traefik, ...
    services: set
    classes: set
    dns_names: list  # external-dns hostnames/targets on its Service


def controllers(inv) -> list[Controller]:
    cache = _cache(inv)
    if "controllers" in cache:
        return cache["controllers"]
    out = []
    for hr in inv.of_kind("HelmRelease"):
        chart = (inv.chart(hr).name or "").lower()
        values = _d(hr.spec.get("values"))
        rel = release_name(hr)
        full = values.get("fullnameOverride")
        ctrl = _d(values.get("controller"))
        if "ingress-nginx" in chart or "nginx-ingress" in chart:
            base = str(full) if full else (rel if "ingress-nginx" in rel else f"{rel}-ingress-nginx")
            services = {f"{base}-controller", base}
            classes = {str(x) for x in (_d(ctrl.get("ingressClassResource")).get("name"), ctrl.get("ingressClass")) if x}
            classes = classes or {"nginx"}
            ann = _d(_d(ctrl.get("service")).get("annotations"))
            kind = "ingress-nginx"
        elif chart == "traefik":
            base = str(full) if full else rel
            services = {base, f"{base}-traefik"}
            ic = _d(values.get("ingressClass"))
            classes = {str(ic.get("name") or base)}
            ann = _d(_d(values.get("service")).get("annotations"))
            kind = "traefik"
        else:
            continue
        dns = [substitute(str(ann[k]), hr.variables) for k in DNS_TARGET_KEYS if ann.get(k)]
        out.append(Controller(hr, kind, services, classes, dns))
    cache["controllers"] = out
    return out


PUBLIC_DNS = re.compile(r"cloudflare|route53|aws|google|azure|digitalocean|linode|ovh|gandi|hetzner|porkbun|namecheap|"
                        r"dnsimple|ns1|vultr|scaleway|godaddy|desec|ionos|transip|akamai|oci|exoscale|civo|alibaba", re.I)


def dns_publishers(inv) -> list[dict]:
    """external-dns instances: provider, whether it is a public DNS, and the label filters it applies."""
    cache = _cache(inv)
    if "dns" in cache:
        return cache["dns"]
    out = []
    for hr in inv.of_kind("HelmRelease"):
        chart = (inv.chart(hr).name or "").lower()
        values = _d(hr.spec.get("values"))
        if "external-dns" not in chart:
            continue
        prov = values.get("provider")
        if isinstance(prov, dict):
            prov = " ".join(str(x) for x in (prov.get("name"), _d(_d(prov.get("webhook")).get("image")).get("repository")) if x)
        args = [str(a) for a in _l(values.get("extraArgs"))] + [str(a) for a in _l(values.get("args"))]
        label_filters = []
        for a in args:
            m = re.match(r"--(gateway-label-filter|label-filter)=(.+)", a)
            if m:
                label_filters.append((m.group(1), m.group(2).strip()))
        prov = str(prov or "")
        out.append({"release": hr, "provider": prov, "public": bool(PUBLIC_DNS.search(prov)) and not re.search(
                        r"unifi|pihole|adguard|mikrotik|opnsense|rfc2136|bind|coredns", prov, re.I),
                    "filters": label_filters})
    cache["dns"] = out
    return out


def _gateway_matches_service(gw: Resource, svc: str | None, svc_ns: str | None) -> bool:
    if not svc:
        return False
    if svc_ns and gw.namespace and svc_ns != gw.namespace and not svc.startswith("envoy-"):
        return False
    name, ns = gw.name, gw.namespace or ""
    if svc == name or svc.startswith(f"envoy-{ns}-{name}-") or svc == f"envoy-{ns}-{name}":
        return True
    return name.startswith(svc + "-")  # Traefik chart: service `traefik-external`, gateway `traefik-external-gateway`


def _tunnel_fronts_gateway(inv, gw: Resource) -> TunnelRule | None:
    for rule in tunnel_rules(inv):
        if _gateway_matches_service(gw, rule.svc_name, rule.svc_namespace):
            return rule
    return None


def _tunnel_fronts_class(inv, cls: str) -> tuple[TunnelRule, Controller] | None:
    for c in controllers(inv):
        if cls not in c.classes:
            continue
        for rule in tunnel_rules(inv):
            if rule.svc_name in c.services and (not rule.svc_namespace or rule.svc_namespace == c.release.namespace):
                return rule, c
    return None


# ---- classification ---------------------------------------------------------------------------

def _gateway_is_external(inv, ns: str | None, name: str, options: dict) -> tuple[bool, str]:
    configured_ext = set(options.get("external_gateways") or [])
    configured_int = set(options.get("internal_gateways") or [])
    key = f"{ns}/{name}"
    if name in configured_int or key in configured_int:
        return False, "listed as internal in posture.yaml"
    if name in configured_ext or key in configured_ext:
        return True, "listed as external in posture.yaml"
    gws = inv.find("Gateway", name, ns) or inv.find("Gateway", name)
    for gw in gws:
        rule = _tunnel_fronts_gateway(inv, gw)
        if rule:
            return True, (f"a cloudflared tunnel rule ({rule.doc_path}:{rule.line}) sends "
                          f"{rule.hostname or 'traffic'} to its Service {rule.svc_name}")
        anns = dict(_d(_d(gw.spec.get("infrastructure")).get("annotations")))
        anns.update(gw.annotations)
        for k in DNS_TARGET_KEYS:
            if anns.get(k):
                pub, what = _public_name(substitute(str(anns[k]), gw.variables))
                if pub:
                    return True, f"Gateway {gw.name} has an external-dns {k.rsplit('/', 1)[-1]} on {what} ({gw.path}:{gw.line})"
        for pub in dns_publishers(inv):
            for flag, expr in pub["filters"]:
                if pub["public"] and flag == "gateway-label-filter" and label_selector_matches(expr, gw.labels):
                    return True, (f"external-dns ({pub['provider']}, {pub['release'].path}) publishes its routes to public DNS "
                                  f"(--{flag}={expr} matches the Gateway's labels)")
        fwd = _port_forward_to(inv, gateway_addresses(inv, gw), options)
        if fwd:
            return True, f"an OPNsense WAN port forward targets its address ({fwd})"
    if _EXTERNAL_NAME.search(name):
        return True, f"Gateway name {name!r} marks it internet-facing"
    if not gws:
        return False, f"no Gateway {name!r} declared in the repository and the name does not say external"
    return False, "no sign that the Gateway is internet-facing"


def _class_is_external(inv, name: str | None, options: dict) -> tuple[bool, str]:
    if not name:
        return False, "no ingress class"
    if name in set(options.get("internal_classes") or []):
        return False, "listed as internal in posture.yaml"
    if name in set(options.get("external_classes") or []):
        return True, "listed as external in posture.yaml"
    hit = _tunnel_fronts_class(inv, name)
    if hit:
        rule, c = hit
        return True, (f"a cloudflared tunnel rule ({rule.doc_path}:{rule.line}) sends {rule.hostname or 'traffic'} "
                      f"to the {c.kind} controller {rule.svc_name} serving class {name}")
    for c in controllers(inv):
        if name in c.classes:
            for dns in c.dns_names:
                pub, what = _public_name(dns)
                if pub:
                    return True, f"the {c.kind} controller of class {name} is published by external-dns as {what}"
    if _EXTERNAL_NAME.search(name):
        return True, f"ingress class {name!r} marks it internet-facing"
    return False, f"ingress class {name!r} is not internet-facing"


def classify(inv, route: Route, options: dict | None = None) -> Exposure:
    options = options or {}
    cache = _cache(inv)
    key = ("classify", id(route), _opt_key(options))
    if key in cache:
        return cache[key]
    if route.kind in ("Ingress", "IngressRoute"):  # both pick their controller by class
        ext, why = _class_is_external(inv, route.ingress_class, options)
        exp = Exposure(ext, f"class {route.ingress_class or '-'}", why)
    else:
        exp = None
        reasons = []
        for p in route.parent_refs:
            ext, why = _gateway_is_external(inv, p.get("namespace"), p["name"], options)
            reasons.append(why)
            if ext:
                exp = Exposure(True, f"gateway {p.get('namespace') or '-'}/{p['name']}", why)
                break
        if exp is None:
            via = ", ".join(f"gateway {p.get('namespace') or '-'}/{p['name']}" for p in route.parent_refs) or "no parent"
            exp = Exposure(False, via, "; ".join(dict.fromkeys(reasons)) or "no internet-facing parent")
    if not exp.external and "posture.yaml" not in exp.reason and "not internet-facing" not in exp.reason:
        # Unknown entry point: a route-level external-dns target at a tunnel/public name publishes it.
        for k in DNS_TARGET_KEYS:
            if route.annotations.get(k):
                pub, what = _public_name(substitute(str(route.annotations[k]), route.resource.variables))
                if pub:
                    exp = Exposure(True, exp.via, f"the route's external-dns {k.rsplit('/', 1)[-1]} points at {what}")
                    break
    cache[key] = exp
    return exp


def _opt_key(options: dict) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in options.items()
                        if k in ("external_gateways", "internal_gateways", "external_classes", "internal_classes",
                                 "opnsense_config")))


# ---- addresses, LoadBalancers, host network ---------------------------------------------------------

def _split_ips(value, variables) -> tuple[list[str], list[str]]:
    ips, unresolved = [], []
    if value is None:
        return ips, unresolved
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    for raw in items:
        s = substitute(str(raw).strip(), variables)
        if not s:
            continue
        if "${" in s:
            unresolved.append(s)
            continue
        try:
            ipaddress.ip_address(s)
            ips.append(s)
        except ValueError:
            unresolved.append(s)
    return ips, unresolved


def _fill_ips(se: ServiceExposure, variables: dict) -> ServiceExposure:
    for k in IP_ANNOTATIONS:
        if se.annotations.get(k):
            a, b = _split_ips(se.annotations[k], variables)
            se.ips += a
            se.unresolved += b
    if se.load_balancer_ip:
        a, b = _split_ips(se.load_balancer_ip, variables)
        se.ips += a
        se.unresolved += b
    return se


def gateway_addresses(inv, gw: Resource) -> list[str]:
    anns = dict(_d(_d(gw.spec.get("infrastructure")).get("annotations")))
    ips = []
    for k in IP_ANNOTATIONS:
        ips += _split_ips(anns.get(k), gw.variables)[0]
    for a in _l(gw.spec.get("addresses")):
        ips += _split_ips(_d(a).get("value"), gw.variables)[0]
    return ips


def service_exposures(inv) -> list[ServiceExposure]:
    cache = _cache(inv)
    if "services" in cache:
        return cache["services"]
    out: list[ServiceExposure] = []
    for svc in inv.of_kind("Service"):
        spec = svc.spec
        typ = spec.get("type")
        if typ not in ("LoadBalancer", "NodePort") and not spec.get("externalIPs"):
            continue
        out.append(_fill_ips(ServiceExposure(
            svc.name, svc.namespace, str(typ or "ClusterIP"), svc, ("spec", "type") if typ else ("spec",), dict(svc.annotations),
            spec.get("loadBalancerIP"), _l(spec.get("loadBalancerSourceRanges")), _l(spec.get("externalIPs")),
            _l(spec.get("ports")), "manifest"), svc.variables))
    for hr in inv.of_kind("HelmRelease"):
        values = _d(hr.spec.get("values"))
        rel = release_name(hr)
        if inv.is_app_template(hr):
            services = _d(values.get("service"))
            for sid, s in services.items():
                if not isinstance(s, dict) or s.get("enabled") is False or s.get("type") not in ("LoadBalancer", "NodePort"):
                    continue
                name = s.get("nameOverride") or (rel if len(services) == 1 or s.get("primary") else f"{rel}-{sid}")
                out.append(_fill_ips(ServiceExposure(
                    str(name), hr.namespace, s["type"], hr, ("spec", "values", "service", sid, "type"),
                    dict(_d(s.get("annotations"))), s.get("loadBalancerIP"), _l(s.get("loadBalancerSourceRanges")),
                    _l(s.get("externalIPs")), list(_d(s.get("ports")).values()), "app-template"), hr.variables))
            continue
        for path, s in _service_blocks(values, ()):
            name = f"{rel}-{'-'.join(str(p) for p in path if p not in ('service', 'services'))}".rstrip("-") or rel
            out.append(_fill_ips(ServiceExposure(
                name, hr.namespace, s["type"], hr, ("spec", "values") + path + ("type",), dict(_d(s.get("annotations"))),
                s.get("loadBalancerIP"), _l(s.get("loadBalancerSourceRanges")), _l(s.get("externalIPs")),
                _l(s.get("ports")), "chart-values"), hr.variables))
    for gw in inv.of_kind("Gateway"):
        if gw.group != "gateway.networking.k8s.io":
            continue
        anns = dict(_d(_d(gw.spec.get("infrastructure")).get("annotations")))
        se = ServiceExposure(gw.name, gw.namespace, "LoadBalancer", gw, ("spec", "infrastructure"), anns,
                             source="gateway", ports=[_d(x).get("port") for x in _l(gw.spec.get("listeners"))])
        _fill_ips(se, gw.variables)
        for a in _l(gw.spec.get("addresses")):
            a_ips, a_un = _split_ips(_d(a).get("value"), gw.variables)
            se.ips += a_ips
            se.unresolved += a_un
        out.append(se)
    cache["services"] = out
    return out


def _service_blocks(values, path, depth=0):
    if depth > 4 or not isinstance(values, dict):
        return
    for k, v in values.items():
        if not isinstance(v, dict):
            continue
        p = path + (k,)
        if "service" in str(k).lower() and v.get("type") in ("LoadBalancer", "NodePort") and v.get("enabled", True) is not False:
            yield p, v
        else:
            yield from _service_blocks(v, p, depth + 1)


def lb_pools(inv) -> list[tuple[Resource, list]]:
    """Address pools LoadBalancer IPs are drawn from (Cilium LB-IPAM, MetalLB)."""
    out = []
    for pool in inv.of_kind("CiliumLoadBalancerIPPool", "IPAddressPool"):
        nets = []
        spec = pool.spec
        for b in _l(spec.get("blocks")) + _l(spec.get("cidrs")):
            b = _d(b)
            if b.get("cidr"):
                nets.append(substitute(str(b["cidr"]), pool.variables))
            elif b.get("start"):
                nets.append(substitute(str(b["start"]), pool.variables) + "-" + substitute(str(b.get("stop") or b["start"]), pool.variables))
        for a in _l(spec.get("addresses")):
            nets.append(substitute(str(a), pool.variables))
        out.append((pool, nets))
    return out


def is_private(addr: str) -> bool | None:
    """Private for an IP, a CIDR or an `a-b` range; None when it cannot be read."""
    try:
        if "-" in addr:
            lo, hi = addr.split("-", 1)
            return ipaddress.ip_address(lo.strip()).is_private and ipaddress.ip_address(hi.strip()).is_private
        if "/" in addr:
            return ipaddress.ip_network(addr, strict=False).is_private
        return ipaddress.ip_address(addr).is_private
    except ValueError:
        return None


def in_pool(addr: str, net: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
        if "-" in net:
            lo, hi = net.split("-", 1)
            return ipaddress.ip_address(lo.strip()) <= ip <= ipaddress.ip_address(hi.strip())
        return ip in ipaddress.ip_network(net, strict=False)
    except ValueError:
        return False


def cluster_addresses(inv) -> dict[str, str]:
    """Load-balancer addresses of the cluster -> what owns them (for OPNsense port forwards)."""
    out: dict[str, str] = {}
    for se in service_exposures(inv):
        for ip in se.ips:
            out.setdefault(ip, f"{'Gateway' if se.source == 'gateway' else 'Service'} {se.namespace}/{se.name}")
    for pool, nets in lb_pools(inv):
        for n in nets:
            out.setdefault(n, f"{pool.kind} {pool.name}")
    return out


def host_network_workloads(inv) -> list[tuple]:
    """(workload, what, key path) for deployed pods on the host network or with hostPorts."""
    out = []
    for w in inv.workloads:
        if not w.resource.deployed:
            continue
        if w.pod.get("hostNetwork") is True:
            out.append((w, "hostNetwork", w.pod_paths.get("hostNetwork", w.pod_path)))
        for c in w.containers:
            for i, p in enumerate(_l(c.spec.get("ports"))):
                if isinstance(p, dict) and p.get("hostPort"):
                    out.append((w, f"hostPort {p['hostPort']} ({c.name})", c.path + ("ports", i, "hostPort")))
    return out


# ---- OPNsense correlation -------------------------------------------------------------------------

def opnsense_path(options: dict | None, inv=None) -> str | None:
    """posture.yaml's `opnsense_config` (the engine puts --opnsense-config there, over the file's)."""
    options = options or {}
    p = options.get("opnsense_config") or (inv.config.get("opnsense_config") if inv is not None and isinstance(inv.config, dict) else None)
    return p or None


def opnsense_config(inv, options: dict | None):
    """The parsed OPNsense config (or an OPNsenseError instance), None when none is given."""
    path = opnsense_path(options, inv)
    if not path:
        return None
    if not os.path.isabs(path):  # posture.yaml's: a file of the repository, never one reached through a link out
        root = os.path.realpath(inv.root or ".")
        full = os.path.realpath(os.path.join(root, path))
        if os.path.commonpath([root, full]) != root:
            from scanner.analysis.opnsense import OPNsenseError

            return OPNsenseError(f"opnsense_config {path!r} leads outside the repository; not read")
        path = full
    cache = _cache(inv)
    key = ("opnsense", path)
    if key not in cache:
        from scanner.analysis.opnsense import OPNsenseError, load

        try:
            cache[key] = load(path)
        except OPNsenseError as exc:
            cache[key] = exc
    return cache[key]


def _port_forward_to(inv, ips: list[str], options: dict) -> str | None:
    if not ips:
        return None
    cfg = opnsense_config(inv, options)
    if cfg is None or isinstance(cfg, Exception):
        return None
    for nat in cfg.port_forwards():
        if nat.target in ips:
            return f"{nat.describe()}"
    return None


# ---- the map ------------------------------------------------------------------------------------------

def exposure_map(inv, options: dict | None = None) -> list[dict]:
    from scanner.analysis.authmap import route_auth

    options = options or {}
    out = []
    for r in inv.routes:
        if not r.resource.deployed:
            continue
        e = classify(inv, r, options)
        auth = route_auth(inv, r, options)
        loc = {"path": r.resource.path, "line": inv.line_of(r.resource, r.path)}
        for host in r.hosts or ["(no host)"]:
            out.append({"host": substitute(host, r.resource.variables), "kind": r.kind, "name": r.name,
                        "namespace": r.namespace, "exposure": "external" if e.external else "internal",
                        "via": e.via, "reason": e.reason,
                        "backend": ", ".join(str(b.get("name")) for b in r.backends) or None,
                        "auth": auth.as_dict() if auth else None,
                        "auth_mechanism": auth.mechanism if auth else None,
                        "auth_provider": auth.provider if auth else None,
                        "location": loc})
    for se in service_exposures(inv):
        if not se.resource.deployed:
            continue
        ext = bool(se.external_ips) or any(is_private(ip) is False for ip in se.ips)
        out.append({"host": ", ".join(se.ips + se.unresolved) or None, "kind": f"Service/{se.type}", "name": se.name,
                    "namespace": se.namespace, "exposure": "external" if ext else "internal",
                    "via": se.source, "reason": "public address" if ext else "LAN address / no public address",
                    "backend": se.name, "auth": None, "auth_mechanism": None, "auth_provider": None,
                    "location": {"path": se.resource.path, "line": inv.line_of(se.resource, se.path)}})
    for w, what, path in host_network_workloads(inv):
        out.append({"host": None, "kind": "HostNetwork" if what == "hostNetwork" else "HostPort", "name": w.name,
                    "namespace": w.namespace, "exposure": "internal", "via": what,
                    "reason": "binds on the node's interfaces", "backend": w.name, "auth": None,
                    "auth_mechanism": None, "auth_provider": None,
                    "location": {"path": w.resource.path, "line": inv.line_of(w.resource, path)}})
    for rule in tunnel_rules(inv):
        out.append({"host": substitute(rule.hostname, rule.resource.variables if rule.resource else {}) if rule.hostname else "(catch-all)",
                    "kind": "CloudflaredRule", "name": rule.svc_name or rule.service, "namespace": rule.svc_namespace,
                    "exposure": "external", "via": "cloudflared tunnel", "reason": "tunnel ingress rule",
                    "backend": rule.service, "auth": None, "auth_mechanism": None, "auth_provider": None,
                    "location": {"path": rule.doc_path, "line": rule.line}})
    return out
