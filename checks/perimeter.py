"""Perimeter layer: what the internet reaches, and how."""
from __future__ import annotations

import fnmatch


from scanner.analysis.authmap import analyse
from scanner.analysis.exposure import (classify, cluster_addresses, host_network_workloads, in_pool, is_private, lb_pools,
                              opnsense_config, service_exposures, tunnel_rules, INTERNAL_LB_ANNOTATIONS, controllers,
                              _gateway_matches_service)
from scanner.analysis.routeserve import gateways_with_listeners, is_dead
from scanner.core.memo import memo
from scanner.core.model import Location
from scanner.checkapi.options import CheckOptions, option
from scanner.checkapi.registry import check
from scanner.checkapi.results import failed, passed, warned
from scanner.inventory.substitute import substitute


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
        if not route.resource.deployed or route.kind in ("TCPRoute", "UDPRoute") or is_dead(inv, route):
            continue  # a route nobody serves is judged by perimeter.dead-routes
        exp = classify(inv, route, options)
        if not exp.external:
            continue
        if not route.backends and route.filters and all(f.get("type") == "RequestRedirect" for f in route.filters):
            continue  # the http -> https redirect route
        subject = f"{route.kind} {route.namespace}/{route.name}"
        hosts = ", ".join(substitute(h, route.resource.variables) for h in route.hosts) or "(no host)"
        tunnel = "tunnel" in exp.reason.lower()
        if route.kind in ("Ingress", "IngressRoute"):
            ok = route.tls or tunnel
            yield (passed if ok else failed)(inv, subject, f"{hosts}: " + ("TLS configured" if route.tls else
                   "TLS terminated at the tunnel edge" if tunnel else "external Ingress without a tls: block"),
                   route.resource, route.path, evidence={"via": exp.via})
            continue
        tls_listeners, plain = [], []
        for p in route.parent_refs:
            for gw, listeners in _gateways_with_listeners(inv, p):
                for lst in listeners:
                    if not isinstance(lst, dict) or p.get("sectionName") not in (None, lst.get("name")):
                        continue
                    proto = str(lst.get("protocol", "")).upper()
                    if proto in ("HTTPS", "TLS"):
                        tls_listeners.append(f"{gw.name}/{lst.get('name')}")
                    elif proto == "HTTP" and (p.get("sectionName") == lst.get("name") or _admits(lst, gw, route)):
                        plain.append(f"{gw.name}/{lst.get('name')}")
        ok = (bool(tls_listeners) and not plain) or tunnel
        msg = (f"{hosts}: served by HTTPS listener {tls_listeners[0]}" if tls_listeners and not plain else
               f"{hosts}: TLS terminated at the Cloudflare tunnel edge" if tunnel else
               f"{hosts}: also attached to plain-HTTP listener(s) {', '.join(plain)}" if plain else
               f"{hosts}: external route without an HTTPS listener")
        yield (passed if ok else failed)(inv, subject, msg, route.resource, route.path,
                                         evidence={"via": exp.via, "listeners": tls_listeners, "plain_http": plain})


def _gateways_with_listeners(inv, parent):
    return gateways_with_listeners(inv, parent)


def _admits(listener: dict, gw, route) -> bool:
    frm = str(((listener.get("allowedRoutes") or {}).get("namespaces") or {}).get("from") or "Same")
    if frm == "Same":
        return route.namespace == gw.namespace
    return frm == "All"


@check(
    id="perimeter.wildcard-hosts-auth",
    title="No wildcard host is exposed to the internet without authentication",
    severity="high",
    rationale="""
        A wildcard host (`*.example.com`) on an internet-facing route or tunnel rule publishes every name
        under the domain, including ones nobody meant to expose, to whatever backend it points at. Without
        authentication in front, any forgotten host is reachable from the internet.""",
    remediation="""
        Route specific hostnames, or put forward-auth (Authentik outpost) in front of the wildcard route; a
        wildcard tunnel rule should point only at the gateway that enforces authentication.""",
    references=["https://developers.cloudflare.com/cloudflare-one/connections/connect-networks/configure-tunnels/local-management/ingress/"],
)
def wildcard_hosts_auth(inv, options):
    for route in inv.routes:
        if not route.resource.deployed or is_dead(inv, route):
            continue
        wild = [substitute(h, route.resource.variables) for h in route.hosts if "*" in h]
        if not wild:
            continue
        exp = classify(inv, route, options)
        if not exp.external:
            continue
        best = analyse(inv, route, options).best()
        ok = best is not None and best.accepted and not best.fail_open
        yield (passed if ok else failed)(inv, f"{route.kind} {route.namespace}/{route.name}",
                                         f"external wildcard host {', '.join(wild)} " +
                                         (f"guarded by {best.provider} ({best.mechanism})" if ok else "without authentication"),
                                         route.resource, route.path, evidence={"via": exp.via})
    gateways = inv.of_kind("Gateway")
    for rule in tunnel_rules(inv):
        if not rule.hostname or "*" not in str(rule.hostname):
            continue
        to_gw = next((g for g in gateways if _gateway_matches_service(g, rule.svc_name, rule.svc_namespace)), None)
        to_ctrl = next((c for c in controllers(inv) if rule.svc_name in c.services), None)
        loc = Location(rule.doc_path, rule.line)
        ident = {"apiVersion": "", "kind": "CloudflaredRule", "namespace": rule.svc_namespace, "name": str(rule.hostname),
                 "origin": "file"}
        if to_gw is not None or to_ctrl is not None:
            target = f"Gateway {to_gw.namespace}/{to_gw.name}" if to_gw is not None else f"{to_ctrl.kind} controller {rule.svc_name}"
            yield passed(inv, f"tunnel rule {rule.hostname}", f"wildcard tunnel rule {rule.hostname} goes to {target}; "
                         "each route on it is judged by authentication.authentik-fronted-routes", resource=ident,
                         location=loc, evidence={"service": rule.service})
        else:
            yield failed(inv, f"tunnel rule {rule.hostname}", f"wildcard tunnel rule {rule.hostname} sends every name "
                         f"straight to {rule.service}, bypassing any gateway authentication", resource=ident,
                         location=loc, evidence={"service": rule.service})


def _internal_annotation(anns: dict) -> str | None:
    for k, want in INTERNAL_LB_ANNOTATIONS.items():
        v = anns.get(k)
        if v is not None and (want is None or str(v).lower() in (want, "true") or str(v).lower() == want):
            return f"{k}: {v}"
    return None


@check(
    id="perimeter.loadbalancer-restricted",
    title="LoadBalancer Services are restricted or internal",
    severity="medium",
    rationale="""
        A LoadBalancer Service opens its ports to whatever network its address lives on. Unless the address
        is private (documented by the IPAM annotation or an internal-LB annotation) or the Service limits
        clients with `loadBalancerSourceRanges`, a port forward or a cloud LB makes it internet-facing.
        NodePorts open the port on every node.""",
    remediation="""
        Pin the address in a private range (`lbipam.cilium.io/ips` / `metallb.io/loadBalancerIPs`), add the
        cloud's internal-LB annotation, or set `loadBalancerSourceRanges` to the networks that need it;
        replace NodePorts with a LoadBalancer or a route.""",
    references=["https://kubernetes.io/docs/concepts/services-networking/service/#loadbalancer",
                "https://docs.cilium.io/en/stable/network/lb-ipam/",
                "Kyverno policies restrict-loadbalancer / restrict-nodeport"],
)
def loadbalancer_restricted(inv, options):
    pools = lb_pools(inv)
    pool_nets = [n for _, ns in pools for n in ns]
    for se in service_exposures(inv):
        if not se.resource.deployed:
            continue
        kind = "Gateway" if se.source == "gateway" else "Service"
        subject = f"{kind} {se.namespace}/{se.name}" + (f" ({se.source})" if se.source not in ("manifest", "gateway") else "")
        ev = {"type": se.type, "ips": se.ips, "unresolved": se.unresolved, "source": se.source}
        if se.external_ips:
            yield failed(inv, subject, f"{se.name} sets externalIPs {se.external_ips} (CVE-2020-8554 traffic interception)",
                         se.resource, se.path, evidence=ev)
            continue
        if se.type == "NodePort":
            yield warned(inv, subject, f"{se.name} is a NodePort: its port is open on every node", se.resource, se.path,
                         evidence=ev)
            continue
        ranges = [str(r) for r in se.source_ranges]
        if ranges and not any(r in ("0.0.0.0/0", "::/0") for r in ranges):
            yield passed(inv, subject, f"{se.name} admits only {', '.join(ranges)} (loadBalancerSourceRanges)",
                         se.resource, se.path, evidence=ev)
            continue
        ann = _internal_annotation(se.annotations)
        if ann:
            yield passed(inv, subject, f"{se.name} is an internal load balancer ({ann})", se.resource, se.path, evidence=ev)
            continue
        if se.ips:
            public = [ip for ip in se.ips if is_private(ip) is False]
            if public:
                yield failed(inv, subject, f"{se.name} takes the public address {', '.join(public)} without loadBalancerSourceRanges",
                             se.resource, se.path, evidence=ev)
            else:
                yield passed(inv, subject, f"{se.name} is pinned to the private address {', '.join(se.ips)}",
                             se.resource, se.path, evidence=ev)
            continue
        if pool_nets and all(is_private(n) for n in pool_nets):
            yield passed(inv, subject, f"{se.name} draws its address from private pool(s) {', '.join(pool_nets)}",
                         se.resource, se.path, evidence=dict(ev, pools=pool_nets))
            continue
        what = f"address {', '.join(se.unresolved)} cannot be resolved" if se.unresolved else "no address or IP pool is declared"
        yield failed(inv, subject, f"{se.name} is a LoadBalancer with no loadBalancerSourceRanges and nothing shows it is internal "
                     f"({what})", se.resource, se.path, evidence=ev)


class HostNetworkOptions(CheckOptions):
    host_network_allowed: list[str] = option([], description="Workloads (`namespace/name` globs) allowed on the host network.")


class OPNsenseOptions(CheckOptions):
    opnsense_config: str | None = option(None, description="OPNsense config.xml backup (also --opnsense-config).")

@check(
    id="perimeter.host-network",
    title="No hostNetwork or hostPort outside the allow-list",
    severity="high",
    rationale="""
        A pod on the host network (or with a hostPort) listens on the node's own interfaces, outside every
        Service, NetworkPolicy and gateway, and can see all node traffic; it is reachable from anything that
        reaches the node.""",
    remediation="""
        Drop `hostNetwork: true`/`hostPort`; expose the app with a Service (LoadBalancer for mDNS/HomeKit-style
        needs via Multus or a macvlan), or add the workload to `host_network_allowed` (`namespace/name`) with
        the reason it needs the host network.""",
    references=["https://kubernetes.io/docs/concepts/security/pod-security-standards/#baseline",
                "CIS Kubernetes Benchmark 5.2.5"],
    options=HostNetworkOptions,
)
def host_network(inv, options):
    allowed = [str(x) for x in options.get("host_network_allowed") or []]
    by_workload: dict = {}
    for w, what, path in host_network_workloads(inv):
        by_workload.setdefault(id(w), (w, []))[1].append((what, path))
    for w in inv.workloads:
        if not w.resource.deployed:
            continue
        subject = f"{w.kind} {w.namespace}/{w.name}"
        hits = by_workload.get(id(w), (w, []))[1]
        if not hits:
            continue
        ok = any(fnmatch.fnmatchcase(c, a) for a in allowed for c in (f"{w.namespace}/{w.name}", w.name, f"{w.namespace}/*"))
        whats = ", ".join(h[0] for h in hits)
        yield (passed if ok else failed)(inv, subject, f"{w.name} uses {whats}" + (" (allow-listed)" if ok else ""),
                                         w.resource, hits[0][1], evidence={"uses": [h[0] for h in hits]})
    # A repo without any host-network pod passes as a whole.
    if not by_workload and any(w.resource.deployed for w in inv.workloads):
        yield passed(inv, "cluster", "no deployed pod uses hostNetwork or hostPort",
                     resource={"apiVersion": "", "kind": "Cluster", "namespace": None, "name": "workloads", "origin": "repository"})


# ---- OPNsense -----------------------------------------------------------------------------------------------

_OPN_OPTIONS = {"opnsense_config": None}


def _opn(inv, options):
    """The parsed OPNsense config; None when none was given, an Exception when it cannot be read."""
    return opnsense_config(inv, _resolve(inv, options))


def _on_opnsense(inv, options, judge):
    """Run `judge(inv, cfg)` over the OPNsense config: nothing to judge without one, and an unreadable
    or unsafe file is itself a failing finding."""
    cfg = _opn(inv, options)
    if cfg is None:
        return
    if isinstance(cfg, Exception):
        yield _opn_error(cfg)
        return
    yield from judge(inv, cfg)


def _resolve(inv, options):
    """The OPNsense config the scan names: --opnsense-config (absolute), or posture.yaml's repo-relative
    path, which scanner.analysis.exposure resolves inside the repository (never a file reached through
    a link out of it, never relative to the working directory)."""
    from scanner.analysis.exposure import opnsense_path

    p = opnsense_path(options, inv)
    return dict(options, opnsense_config=p) if p else options


def _opn_ident(cfg_path: str, what: str) -> dict:
    return {"apiVersion": "", "kind": "OPNsenseRule", "namespace": None, "name": what, "origin": "opnsense"}


def _opn_error(cfg):
    return failed(None, "OPNsense config", f"the OPNsense configuration could not be read: {cfg}",
                  resource={"apiVersion": "", "kind": "OPNsenseConfig", "namespace": None, "name": "config.xml", "origin": "opnsense"})


@check(
    id="perimeter.opnsense-wan-any-any",
    title="OPNsense: no WAN rule passes any source to any destination",
    severity="critical",
    rationale="""
        A pass rule on the WAN interface from any source to any destination turns the firewall into a router:
        every service behind it, including the cluster's load balancers and node APIs, faces the internet.""",
    remediation="""
        Delete or disable the rule; pass only the specific port forwards (their associated rules) that must
        be public, with a destination address and port.""",
    references=["https://docs.opnsense.org/manual/firewall.html"],
    options=OPNsenseOptions,
)
def opnsense_wan_any_any(inv, options):
    yield from _on_opnsense(inv, options, _opnsense_wan_any_any)


def _opnsense_wan_any_any(inv, cfg):
    from scanner.analysis.opnsense import wan_any_any

    bad = wan_any_any(cfg)
    loc = Location(cfg.path, None)
    for r in bad:
        yield failed(None, f"OPNsense {r.store} rule {r.index}", f"WAN pass any -> any: {r.describe()}",
                     resource=_opn_ident(cfg.path, f"{r.store}-filter-{r.index}"), location=loc)
    if not bad:
        n = sum(1 for r in cfg.filter_rules if r.enabled and cfg.on_wan(r.interfaces))
        yield passed(None, "OPNsense WAN rules", f"none of the {n} enabled WAN rule(s) passes any -> any",
                     resource=_opn_ident(cfg.path, "wan-rules"), location=loc)


@check(
    id="perimeter.opnsense-port-forwards",
    title="OPNsense: port forwards to cluster load-balancer addresses are known",
    severity="high",
    rationale="""
        A WAN port forward to a cluster load-balancer address publishes that Service to the internet, around
        the tunnel and whatever authentication the gateway enforces. Each one is an entry point a reviewer must
        see; forwards to non-gateway Services (databases, DNS, MQTT) are rarely intended.""",
    remediation="""
        Remove the forward, or forward only 443 to the external gateway's address and put Authentik in front
        of its routes; restrict the forward's source to the networks that need it.""",
    references=["https://docs.opnsense.org/manual/nat.html#port-forwarding"],
    options=OPNsenseOptions,
)
def opnsense_port_forwards(inv, options):
    yield from _on_opnsense(inv, options, _opnsense_port_forwards)


def _opnsense_port_forwards(inv, cfg):
    addrs = cluster_addresses(inv)
    loc = Location(cfg.path, None)
    forwards = cfg.port_forwards()
    for n in forwards:
        owner = addrs.get(n.target or "")
        if owner is None:
            owner = next((o for a, o in addrs.items() if ("/" in a or "-" in a) and n.target and in_pool(n.target, a)), None)
        ident = _opn_ident(cfg.path, f"{n.store}-nat-{n.index}")
        if owner is None:
            yield passed(None, f"OPNsense port forward {n.index}", f"{n.describe()} does not target a cluster load-balancer address",
                         resource=ident, location=loc)
            continue
        src_any = n.source.any and not n.source.negate
        port = str(n.local_port or n.destination.port or "")
        gateway = owner.startswith("Gateway") or any(c for c in controllers(inv) if c.release.name in owner)
        msg = f"{n.describe()} publishes {owner} to the internet" + (" from any source" if src_any else "")
        if gateway and port in ("443", "https"):
            yield warned(None, f"OPNsense port forward {n.index}", msg + " (the gateway: its routes are internet-facing)",
                         resource=ident, location=loc, evidence={"target": n.target, "owner": owner})
        else:
            yield failed(None, f"OPNsense port forward {n.index}", msg, resource=ident, location=loc,
                         evidence={"target": n.target, "owner": owner})
    if not forwards:
        yield passed(None, "OPNsense port forwards", "no enabled WAN port forward", resource=_opn_ident(cfg.path, "nat"),
                     location=loc)


@check(
    id="perimeter.opnsense-default-deny",
    title="OPNsense: the default deny is in force",
    severity="critical",
    rationale="""
        OPNsense blocks what no rule passes. Disabling the packet filter (Firewall > Settings > Advanced,
        `system/disablefilter`) or a floating pass-all rule removes that default deny for every interface.""",
    remediation="""
        Re-enable the packet filter (remove `<disablefilter>`), and remove floating pass rules from any to any.""",
    references=["https://docs.opnsense.org/manual/firewall_settings.html"],
    options=OPNsenseOptions,
)
def opnsense_default_deny(inv, options):
    yield from _on_opnsense(inv, options, _opnsense_default_deny)


def _opnsense_default_deny(inv, cfg):
    loc = Location(cfg.path, None)
    ident = _opn_ident(cfg.path, "default-deny")
    if cfg.filter_disabled:
        yield failed(None, "OPNsense default deny", "the packet filter is disabled (system/disablefilter): nothing is blocked",
                     resource=ident, location=loc)
        return
    floating = [r for r in cfg.filter_rules if r.enabled and r.action == "pass" and r.floating
                and r.source.any and r.destination.any and not r.source.port and not r.destination.port and not r.interfaces]
    if floating:
        yield failed(None, "OPNsense default deny", f"a floating pass-all rule overrides the default deny: {floating[0].describe()}",
                     resource=ident, location=loc)
        return
    yield passed(None, "OPNsense default deny", "the packet filter is enabled and no floating pass-all rule overrides the default deny",
                 resource=ident, location=loc)

