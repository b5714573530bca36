"""Authentication layer: Authentik (or an accepted IdP) in front of every web route."""
from __future__ import annotations

import fnmatch
import re
from collections import Counter


from scanner.analysis.authmap import accepted_providers, analyse, blueprint_oauth_apps, outpost_targets
from scanner.analysis import idp
from scanner.analysis.exposure import classify
from scanner.analysis.routeserve import is_dead
from scanner.inventory.helm import release_name
from scanner.core.memo import memo
from scanner.core.model import Location
from scanner.checkapi.options import CheckOptions, option
from scanner.checkapi.registry import check
from scanner.analysis.effective import Credit
from scanner.checkapi.results import failed, mitigated, passed, warned

# Guards the route does not carry itself: credited to the layer that adds them.
MITIGATING_VIA = {"gateway": "perimeter", "kyverno-mutate": "policy", "kyverno-generate": "policy"}
from scanner.inventory.substitute import substitute

HTTP_KINDS = ("HTTPRoute", "GRPCRoute", "Ingress", "IngressRoute")
_AUTHENTIK_IMAGE = re.compile(r"goauthentik/server|goauthentik\.io/server|/authentik:")


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def authentik_releases(inv) -> list:
    """Deployed Authentik: the `authentik` chart, or any workload running the goauthentik server image."""
    out = [hr for hr in inv.of_kind("HelmRelease") if (inv.chart(hr).name or "") == "authentik"]
    seen = {id(r) for r in out}
    for w in inv.workloads:
        if not w.resource.deployed or id(w.resource) in seen:
            continue
        if any(_AUTHENTIK_IMAGE.search(str(c.spec.get("image") or "")) for c in w.containers):
            out.append(w.resource)
            seen.add(id(w.resource))
    return out


def _secret_key_source(inv, res) -> tuple[bool, str, tuple]:
    """Does the Authentik secret key come from a Secret? (ok, how, key path)"""
    values = _d(res.spec.get("values")) if res.kind == "HelmRelease" else {}
    ak = _d(values.get("authentik"))
    literal = ak.get("secret_key")
    if isinstance(literal, str) and literal and "${" not in literal:
        return False, "authentik.secret_key is written in the HelmRelease values", ("spec", "values", "authentik", "secret_key")
    for vf in _l(res.spec.get("valuesFrom")):
        if _d(vf).get("kind") == "Secret":
            return True, f"values from Secret {vf.get('name')}", ("spec", "valuesFrom")

    def walk(obj, path, depth=0):
        if depth > 8:
            return None
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k == "envFrom":
                    for i, e in enumerate(_l(v)):
                        e = _d(e)
                        ref = _d(e.get("secretRef")) or ({"name": e["secret"]} if isinstance(e.get("secret"), str) else {})
                        if ref.get("name"):
                            return f"envFrom Secret {ref['name']}", path + (k, i)
                if k == "env":
                    items = _l(v) or [dict(_d(x), name=n) if isinstance(x, dict) else {"name": n, "value": x}
                                      for n, x in _d(v).items()]
                    for i, e in enumerate(items):
                        e = _d(e)
                        if str(e.get("name")) == "AUTHENTIK_SECRET_KEY":
                            ref = _d(_d(e.get("valueFrom")).get("secretKeyRef"))
                            if ref.get("name"):
                                return f"AUTHENTIK_SECRET_KEY from Secret {ref['name']}", path + (k,)
                if k == "existingSecret" and isinstance(v, (str, dict)) and path[-1:] == ("authentik",):
                    return f"existingSecret {v}", path + (k,)
                hit = walk(v, path + (k,), depth + 1)
                if hit:
                    return hit
        return None

    body = values if res.kind == "HelmRelease" else res.body
    base = ("spec", "values") if res.kind == "HelmRelease" else ()
    hit = walk(body, base)
    if hit:
        return True, hit[0], hit[1]
    if isinstance(literal, str) and "${" in literal:
        return True, "authentik.secret_key is a Flux substitution (from the cluster secrets)", ("spec", "values", "authentik", "secret_key")
    return False, "no Secret provides AUTHENTIK_SECRET_KEY (no envFrom/secretKeyRef/valuesFrom Secret)", base


@check(
    id="authentication.authentik-deployed",
    title="An identity provider is deployed (Authentik: with its secret key from a Secret)",
    severity="high",
    rationale="""
        Centralised authentication in front of the web apps depends on the identity provider itself being
        deployed and managed in Git; without it, every app falls back to its own (often absent) login. Its
        secret key signs sessions and tokens: written in the values, anyone who reads the repo can forge them.""",
    remediation="""
        Deploy an identity provider in Git. With Authentik: a Flux HelmRelease (chart `authentik`), its secret key from a Secret
        (`global.envFrom: [{secretRef: {name: authentik-secret}}]` holding `AUTHENTIK_SECRET_KEY`, or
        `valuesFrom` a Secret), and the embedded or a dedicated outpost.""",
    references=["https://docs.goauthentik.io/docs/install-config/install/kubernetes"],
)
def authentik_deployed(inv, options):
    releases = authentik_releases(inv)
    others = [d for d in idp.registry(inv) if d.product != "authentik" and not d.is_proxy()]
    if not releases and others:
        # Centralised login exists through another product: the control is present, and only the
        # Authentik-specific half (where its secret key comes from) has nothing to judge.
        for other in others:
            yield passed(inv, f"identity provider {other.product}",
                         f"{other.product} is the identity provider ({other.label}, recognised by {other.via}); "
                         "Authentik is not deployed, so its secret-key test does not apply", other.resource)
        return
    if not releases:
        yield failed(inv, "Authentik", "No identity provider is deployed: no Authentik (authentik chart or goauthentik server "
                     "image) and none of Authelia, Keycloak, Kanidm, Pocket ID, Dex or Zitadel",
                     resource={"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "namespace": None,
                               "name": "authentik", "origin": "repository"})
        return
    for res in releases:
        ok, how, path = _secret_key_source(inv, res)
        version = inv.chart(res).version if res.kind == "HelmRelease" else None
        yield (passed if ok else failed)(inv, f"{res.kind} {res.namespace}/{res.name}",
                                         f"Authentik {version or ''} deployed; secret key: {how}".replace("  ", " "), res, path,
                                         evidence={"secret_key": how})


def _public_entry(options, route, hosts):
    for entry in _l(options.get("public_routes")):
        entry = _d(entry) if isinstance(entry, dict) else {"host": str(entry)}
        pat = str(entry.get("host") or entry.get("name") or "")
        if not pat:
            continue
        cands = list(hosts) + list(route.hosts) + [route.name, f"{route.namespace}/{route.name}"]
        if any(fnmatch.fnmatchcase(str(c), pat) for c in cands):
            return entry
    return None


def _house_style(inv, options) -> dict:
    """How this repo usually protects a route of each kind: the commonest accepted guard."""
    cache = getattr(inv, "_posture_house_style", None)
    if cache is not None:
        return cache
    styles: dict[str, Counter] = {}
    examples: dict[tuple, object] = {}
    for r in inv.routes:
        if not r.resource.deployed:
            continue
        best = analyse(inv, r, options).best()
        if best and best.accepted:
            key = (best.mechanism, best.via)
            styles.setdefault(r.kind, Counter())[key] += 1
            examples.setdefault((r.kind,) + key, best)
    out = {k: examples[(k,) + c.most_common(1)[0][0]] for k, c in styles.items()}
    try:
        setattr(inv, "_posture_house_style", out)
    except AttributeError:  # pragma: no cover
        pass
    return out


def _kyverno_annotation(guard) -> str | None:
    pol = guard.resource
    if pol is None:
        return None
    rules = _l(pol.spec.get("rules"))
    idx = guard.path[2] if len(guard.path) > 2 else 0
    rule = _d(rules[idx]) if idx < len(rules) else {}
    for blk in _l(_d(rule.get("match")).get("any")) + _l(_d(rule.get("match")).get("all")):
        anns = _d(_d(_d(blk).get("resources")).get("annotations"))
        for k, v in anns.items():
            return f'{k}: "{v}"'
    return None


def _fix(inv, route, options) -> str:
    style = _house_style(inv, options).get(route.kind)
    where = f"route.{route.path[-1]}" if route.source == "app-template" and route.path else f"{route.kind} {route.name}"
    if style is not None and style.via in ("kyverno-generate", "kyverno-mutate"):
        ann = _kyverno_annotation(style)
        if ann:
            return f"add the annotation `{ann}` to {where} (Kyverno policy {style.resource.name} then adds the Authentik guard)"
    if route.kind == "IngressRoute":
        return (f"add `middlewares: [{{name: <authentik-forwardauth-middleware>}}]` to the routes of IngressRoute "
                f"{route.name} (a Middleware with `forwardAuth.address` at the outpost's /outpost.goauthentik.io/auth/traefik)")
    if route.kind == "Ingress" or (style is not None and style.mechanism == "nginx-auth-url"):
        if route.ingress_class and "traefik" in str(route.ingress_class):
            return (f"add `traefik.ingress.kubernetes.io/router.middlewares: <ns>-<authentik-middleware>@kubernetescrd` "
                    f"to the annotations of {where}")
        return (f"add `nginx.ingress.kubernetes.io/auth-url: http://ak-outpost-<outpost>.<ns>.svc.cluster.local:9000/"
                f"outpost.goauthentik.io/auth/nginx` and `auth-signin` to the annotations of {where}")
    if style is not None and style.mechanism.startswith("traefik"):
        mw = style.resource.name if style.resource is not None else "<authentik-middleware>"
        return f"add `filters: [{{type: ExtensionRef, extensionRef: {{group: traefik.io, kind: Middleware, name: {mw}}}}}]` to the rules of {where}"
    return (f"add a SecurityPolicy with `targetRefs: [{{kind: {route.kind}, name: {route.name}}}]` and "
            f"`extAuth.http` to the Authentik outpost path `/outpost.goauthentik.io/auth/envoy`")


def judged_routes(inv, *, dead: bool = False):
    """The deployed HTTP routes; a route nothing serves (gitops.dead-routes) only with `dead`."""
    for r in inv.routes:
        if not r.resource.deployed or r.kind not in HTTP_KINDS:
            continue
        if not dead and is_dead(inv, r):
            continue  # nothing serves it: gitops.dead-routes reports it, it is not exposed
        if not r.backends and r.filters and all(f.get("type") == "RequestRedirect" for f in r.filters):
            continue  # a pure redirect (http -> https) serves nothing
        yield r


class RouteAuthOptions(CheckOptions):
    accepted_auth_providers: list[str] = option([], description="Identity providers whose guard counts as authentication "
                                               "(default: Authentik and every identity provider the repository deploys).")
    public_routes: list[dict] = option([], description="Hosts meant to be public: `{host, reason}` each (globs allowed).")
    native_auth_annotations: list[str] = option([], description="Annotations that mark an app's own login as enough.")

@check(
    id="authentication.authentik-fronted-routes",
    title="Every web route is behind Authentik (or an accepted identity provider)",
    severity="high",
    rationale="""
        A web app reachable without a central login relies on its own authentication, which is often absent
        or weak (default admin accounts, no MFA). Forward-auth at the gateway (or native OIDC against the IdP)
        gives every app one hardened login with MFA and one place to revoke access. Internet-facing routes
        matter most; internal ones are reachable by anything on the LAN and by every compromised pod.""",
    remediation="""
        Put the route behind the Authentik outpost the way the repo does it elsewhere: the forward-auth
        annotation a Kyverno policy acts on, an Envoy SecurityPolicy `extAuth` to
        `/outpost.goauthentik.io/auth/envoy`, a Traefik forwardAuth Middleware, or nginx `auth-url`; or
        configure the app's native OIDC against Authentik. Routes public on purpose go into `public_routes`
        in posture.yaml with a reason.""",
    references=["https://docs.goauthentik.io/docs/add-secure-apps/providers/proxy/",
                "https://gateway.envoyproxy.io/docs/tasks/security/ext-auth/",
                "NSA/CISA Kubernetes Hardening Guide v1.2, 'Authentication and authorization'"],
    options=RouteAuthOptions,
    mitigated_by=("perimeter", "policy"),
)
def authentik_fronted_routes(inv, options):
    for route in judged_routes(inv, dead=True):
        if is_dead(inv, route):
            yield from _dead_route(inv, route, options)
            continue
        exp = classify(inv, route, options)
        hosts = [substitute(h, route.resource.variables) for h in route.hosts] or ["(no host)"]
        subject = f"{route.kind} {route.namespace}/{route.name}"
        where = "external" if exp.external else "internal"
        sev = "high" if exp.external else "medium"
        loc = inv.location(route.resource, route.path)
        ra = analyse(inv, route, options)
        best = ra.best()
        ev = {"exposure": where, "via": exp.via, "hosts": hosts,
              "guards": [g.as_dict() for g in ra.guards]}
        public = _public_entry(options, route, hosts)
        if best is not None and best.accepted and not best.fail_open:
            msg = (f"{where} {', '.join(hosts)}: guarded by {best.provider} ({best.mechanism}"
                   f"{', ' + best.via if best.via != 'direct' else ''}): {best.detail}")
            layer = MITIGATING_VIA.get(best.via)
            if layer is not None:  # the route itself carries no guard: the Gateway or an admission policy adds it
                at = best.resource
                credit = Credit(layer, best.via if best.via != "gateway" else "gateway-auth-policy", best.detail,
                                at.path if at is not None else None, inv.line_of(at, best.path) if at is not None else None)
                yield mitigated(inv, subject, msg, route.resource, route.path, severity=sev, by=[credit],
                                evidence=dict(ev, mechanism=best.mechanism, provider=best.provider))
                continue
            yield passed(inv, subject, msg, route.resource, route.path,
                         severity=sev, evidence=dict(ev, mechanism=best.mechanism, provider=best.provider))
            continue
        if public is not None:
            yield passed(inv, subject, f"{where} {', '.join(hosts)}: public on purpose ({public.get('reason') or 'no reason given'})",
                         route.resource, route.path, severity=sev,
                         evidence=dict(ev, public_reason=public.get("reason"), mechanism="public", provider=None))
            continue
        if best is not None and best.fail_open:
            msg = f"{where} {', '.join(hosts)} at {loc.path}:{loc.line}: {best.detail} is fail-open (failOpen: true)"
            fix = "set `extAuth.failOpen: false` in the SecurityPolicy"
        elif best is not None:
            msg = (f"{where} {', '.join(hosts)} at {loc.path}:{loc.line}: guarded by {best.provider} ({best.mechanism}), "
                   f"which is not an accepted provider ({', '.join(sorted(accepted_providers(options, inv)))})")
            fix = f"add `{best.provider}` to `accepted_auth_providers` in posture.yaml if it is trusted, or put Authentik in front"
        else:
            msg = f"{where} host {', '.join(hosts)} is exposed without authentication (declared at {loc.path}:{loc.line})"
            if ra.missing_middlewares:
                msg += f"; referenced Middleware(s) not found: {', '.join(ra.missing_middlewares)}"
            if ra.notes:
                msg += "; " + "; ".join(ra.notes)
            fix = _fix(inv, route, options)
        yield failed(inv, subject, msg, route.resource, route.path, severity=sev, remediation=fix,
                     evidence=dict(ev, fix=fix, notes=ra.notes))


def _dead_route(inv, route, options):
    """A route nothing serves is not exposed (gitops.dead-routes reports it): judged here only for what
    it declares. Without a guard it warns: the day a listener or controller takes it, it is exposed
    with no login."""
    from scanner.analysis.routeserve import serving

    hosts = [substitute(h, route.resource.variables) for h in route.hosts] or ["(no host)"]
    subject = f"{route.kind} {route.namespace}/{route.name}"
    why = serving(inv, route).detail
    best = analyse(inv, route, options).best()
    ev = {"exposure": "not served", "hosts": hosts, "served_by": why}
    if best is not None and best.accepted and not best.fail_open:
        yield passed(inv, subject, f"{', '.join(hosts)}: not served now ({why}); guarded by {best.provider} "
                     f"({best.mechanism}) should it be", route.resource, route.path, severity="low", evidence=ev)
    else:
        yield warned(inv, subject, f"{', '.join(hosts)}: not served now ({why}), and it has no authentication: "
                     "once a listener or controller takes it, it is exposed without a login",
                     route.resource, route.path, severity="low", evidence=ev)


def _outpost_exists(inv, host: str) -> tuple[bool, str]:
    parts = host.split(".")
    name = parts[0]
    ns = parts[1] if len(parts) > 1 and parts[1] != "svc" else None
    for kind in ("Service", "Deployment", "StatefulSet"):
        hit = inv.find(kind, name, ns) if ns else inv.find(kind, name)
        if hit:
            return True, f"{kind} {hit[0].namespace}/{hit[0].name} ({hit[0].path}:{hit[0].line})"
    releases = authentik_releases(inv)
    rel_ns = [r for r in releases if ns is None or (r.spec.get("targetNamespace") or r.namespace) == ns]
    if name.startswith("ak-outpost-"):
        outpost = name[len("ak-outpost-"):]
        if outpost == "authentik-embedded-outpost" and rel_ns:
            r = rel_ns[0]
            return True, f"the embedded outpost of Authentik {r.namespace}/{r.name} ({r.path}:{r.line})"
        # the blueprints are YAML in ConfigMaps: parsed once per inventory, not once per outpost host
        for bp in memo(inv, "authentication.blueprint_outposts", lambda: _outposts_in_blueprints(inv)):
            if bp[0] == outpost:
                return True, f"outpost blueprint {outpost} in ConfigMap {bp[1].namespace}/{bp[1].name}"
        return False, f"no outpost named {outpost!r}: not the embedded outpost of a deployed Authentik" + \
            (f" in namespace {ns}" if ns else "") + ", and no blueprint or Service declares it"
    for r in rel_ns:
        rel = release_name(r) if r.kind == "HelmRelease" else r.name
        if name in (rel, f"{rel}-server", f"{rel}-authentik", "authentik-server"):
            return True, f"Authentik server of {r.namespace}/{r.name} ({r.path}:{r.line})"
    for hr in inv.of_kind("HelmRelease"):
        if release_name(hr) == name and (ns is None or hr.namespace == ns):
            return True, f"HelmRelease {hr.namespace}/{hr.name}"
    return False, f"no Service, workload or Authentik release named {name}" + (f" in namespace {ns}" if ns else "")


def _outposts_in_blueprints(inv):
    from scanner.sources.yamlload import load_documents

    out = []
    for cm in inv.of_kind("ConfigMap"):
        for text in _d(cm.body.get("data")).values():
            if isinstance(text, str) and "authentik_outposts.outpost" in text:
                docs, _ = load_documents(text)
                for d in docs:
                    for e in _l(_d(d.body).get("entries")):
                        e = _d(e)
                        if e.get("model") == "authentik_outposts.outpost":
                            n = _d(e.get("attrs")).get("name") or _d(e.get("identifiers")).get("name")
                            if n:
                                out.append((re.sub(r"[^a-z0-9-]+", "-", str(n).lower()), cm))
    return out


@check(
    id="authentication.authentik-outpost-exists",
    title="The Authentik outpost the routes point at exists",
    severity="high",
    rationale="""
        Forward-auth calls an outpost Service. When that outpost does not exist the gateway either rejects
        every request (an outage) or, with fail-open settings, lets every request through unauthenticated.""",
    remediation="""
        Point the guard at the embedded outpost of the deployed Authentik
        (`ak-outpost-authentik-embedded-outpost.<authentik namespace>:9000`), or declare the dedicated outpost
        (blueprint `authentik_outposts.outpost` or its Deployment/Service) in Git.""",
    references=["https://docs.goauthentik.io/docs/add-secure-apps/outposts/"],
)
def authentik_outpost_exists(inv, options):
    seen: dict[str, list] = {}
    for host, route, guard in outpost_targets(inv, options):
        seen.setdefault(host, []).append((route, guard))
    for host, uses in sorted(seen.items()):
        ok, why = _outpost_exists(inv, host)
        route, guard = uses[0]
        res = guard.resource or route.resource
        routes = sorted({f"{r.namespace}/{r.name}" for r, _ in uses})
        yield (passed if ok else failed)(inv, f"outpost {host}",
                                         f"outpost {host} used by {len(routes)} route(s): " + (f"exists: {why}" if ok else why),
                                         res, guard.path if guard.resource is not None else route.path,
                                         evidence={"routes": routes[:30]})
