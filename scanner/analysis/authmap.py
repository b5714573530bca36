"""Which mechanism guards each route, and which identity provider stands behind it.

Recognised front doors (shapes, not names):
- ingress-nginx `auth-url` (+ `auth-signin`) annotations;
- Traefik `Middleware` (`forwardAuth` or an auth plugin) referenced by the route: Gateway API
  `ExtensionRef` filter or the `traefik.ingress.kubernetes.io/router.middlewares` annotation;
- Envoy Gateway `SecurityPolicy` (`extAuth`, `oidc`, `jwt`, `basicAuth`, `apiKeyAuth`) targeting the
  route (by name, including app-template naming) or its Gateway; a route-level policy wins;
- Kyverno `generate`/`mutate` rules (only deployed policies) that create such a SecurityPolicy or add
  such annotations for routes matching their selector;
- native OIDC of the app: issuer `/application/o/<slug>/` or OIDC env in the HelmRelease values or the
  ExternalSecret templates of the app, an Authentik OAuth2 provider/application blueprint for it, or a
  configurable annotation.
The provider is derived from the URL/backend the mechanism points at (Authentik's
`/outpost.goauthentik.io/` paths and `/application/o/` issuers, oauth2-proxy's `/oauth2/`, ...).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from scanner.analysis import idp as idp_mod
from scanner.inventory.helm import release_name
from scanner.core.memo import memo
from scanner.core.model import Resource, Route
from scanner.inventory.substitute import substitute
from scanner.inventory.walk import ROOT_KEY
from scanner.sources.yamlload import load_documents

DEFAULT_ACCEPTED = ("authentik",)
NATIVE_AUTH_ANNOTATIONS = ("posture.io/native-auth", "posture.io/auth")

_PROVIDERS = (
    ("authentik", re.compile(r"outpost\.goauthentik\.io|/application/o/|goauthentik|authentik|ak-outpost", re.I)),
    ("oauth2-proxy", re.compile(r"oauth2-proxy|/oauth2/(auth|start|sign_in)", re.I)),
    ("authelia", re.compile(r"authelia|/api/(authz|verify)", re.I)),
    ("kanidm", re.compile(r"kanidm|/oauth2/openid/", re.I)),
    ("pocket-id", re.compile(r"pocket-?id", re.I)),
    ("keycloak", re.compile(r"keycloak|/realms/", re.I)),
    ("zitadel", re.compile(r"zitadel", re.I)),
    ("dex", re.compile(r"(^|[/.-])dex([/.-]|$)", re.I)),
    ("tinyauth", re.compile(r"tinyauth", re.I)),
    ("vouch", re.compile(r"vouch", re.I)),
    ("cloudflare-access", re.compile(r"cloudflareaccess\.com", re.I)),
    ("lldap", re.compile(r"lldap", re.I)),
)
_OIDC_ENV = re.compile(r"(^|_)(OIDC|OAUTH2?|OPENID|SSO)(_|$)|^GF_AUTH_GENERIC_OAUTH_|^AUTH_(OIDC|OAUTH)|_ISSUER(_URL)?$|"
                       r"^SOCIAL_AUTH_|^OPENID_|^GENERIC_OAUTH", re.I)
_ISSUER_ANY = re.compile(r"https?://[^\s\"']+?(/\.well-known/openid-configuration|/application/o/[^\s\"'/]+/?|/realms/[^\s\"'/]+|"
                         r"/oauth2/openid/[^\s\"'/]+)", re.I)


def provider_of(text: str) -> str:
    for name, rx in _PROVIDERS:
        if rx.search(text or ""):
            return name
    return "unknown"


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


@dataclass(slots=True)
class AuthInfo:
    """One authentication guard in front of a route: mechanism, provider and where it is declared."""

    mechanism: str  # nginx-auth-url, traefik-forward-auth, traefik-plugin, envoy-ext-auth, envoy-oidc, envoy-jwt, ...
    provider: str  # authentik, oauth2-proxy, kanidm, ..., unknown
    detail: str
    resource: Resource | None = None  # where the mechanism is declared
    path: tuple = ()
    via: str = "direct"  # direct, kyverno-generate, kyverno-mutate, gateway, native
    accepted: bool = False
    target: str | None = None  # outpost/backend the mechanism calls
    fail_open: bool = False
    evidence: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"mechanism": self.mechanism, "provider": self.provider, "via": self.via, "accepted": self.accepted,
               "detail": self.detail, "target": self.target,
               "declared_at": f"{self.resource.path}:{self.resource.line}" if self.resource is not None else None}
        if self.evidence.get("identity_provider"):
            out["identity_provider"] = self.evidence["identity_provider"]
        return out


def accepted_providers(options: dict, inv=None) -> set[str]:
    """The providers whose guard counts: the configured list, or by default Authentik and every identity
    provider the repository itself deploys (an IdP you run and manage in Git is the one you trust;
    an auth proxy is not an IdP and is named by the issuer it sends users to)."""
    acc = options.get("accepted_auth_providers")
    if acc:
        return {str(x).lower() for x in acc}
    deployed = {d.product for d in idp_mod.registry(inv) if not d.is_proxy()} if inv is not None else set()
    return set(DEFAULT_ACCEPTED) | deployed


# ---- per-mechanism readers -----------------------------------------------------------------------

def _from_annotations(anns: dict, variables: dict) -> list[AuthInfo]:
    out = []
    url = anns.get("nginx.ingress.kubernetes.io/auth-url")
    if url:
        url = substitute(str(url), variables)
        signin = anns.get("nginx.ingress.kubernetes.io/auth-signin")
        out.append(AuthInfo("nginx-auth-url", provider_of(url + " " + str(signin or "")),
                            f"nginx auth-url {url.strip()}" + ("" if signin else " (no auth-signin)"), target=url.strip()))
    for k in ("nginx.ingress.kubernetes.io/auth-type",):
        if anns.get(k) in ("basic", "digest"):
            out.append(AuthInfo("nginx-basic-auth", "basic-auth", f"nginx {anns[k]} auth"))
    return out


def _middleware_auth(mw: Resource) -> AuthInfo | None:
    spec = mw.spec
    fa = _d(spec.get("forwardAuth"))
    if fa.get("address"):
        addr = substitute(str(fa["address"]), mw.variables)
        return AuthInfo("traefik-forward-auth", provider_of(addr), f"Traefik Middleware {mw.namespace}/{mw.name} forwardAuth {addr}",
                        mw, ("spec", "forwardAuth", "address"), target=addr)
    plugin = _d(spec.get("plugin"))
    for pname, conf in plugin.items():
        text = f"{pname} {conf}"
        prov = provider_of(text)
        if prov != "unknown" or re.search(r"oidc|oauth|auth", str(pname), re.I):
            return AuthInfo("traefik-plugin", prov if prov != "unknown" else f"plugin:{pname}",
                            f"Traefik Middleware {mw.namespace}/{mw.name} plugin {pname}", mw, ("spec", "plugin", pname),
                            target=_plugin_provider_url(conf, mw.variables))
    if _d(spec.get("basicAuth")) or _d(spec.get("digestAuth")):
        return AuthInfo("traefik-basic-auth", "basic-auth", f"Traefik Middleware {mw.namespace}/{mw.name} basicAuth", mw,
                        ("spec", "basicAuth"))
    for ref in _l(_d(spec.get("chain")).get("middlewares")):
        pass  # resolved by the caller
    return None


_PROVIDER_KEY = re.compile(r"provider|issuer|url|uri|endpoint|address|discovery", re.I)


def _plugin_provider_url(conf, variables: dict) -> str | None:
    """The IdP URL an auth plugin's settings name (`provider: {url: ...}`, `providerURL`, `issuer`, ...)."""
    for k, v in _walk_strings(conf):
        if not _PROVIDER_KEY.search(k) or "://" not in v:
            continue
        v = substitute(v, variables) if "${" in v else v
        m = _URL_IN.search(v)
        if m and not re.search(r"redirect|callback|logout", k, re.I):
            return m.group(0)
    return None


def _find_middleware(inv, ns: str | None, name: str) -> list[Resource]:
    return [m for m in inv.of_kind("Middleware") if m.name == name and (ns is None or m.namespace == ns)]


def _middleware_chain(inv, ns, name, depth=0) -> list[AuthInfo]:
    out = []
    for mw in _find_middleware(inv, ns, name)[:1]:
        a = _middleware_auth(mw)
        if a:
            out.append(a)
        elif depth < 4:
            for ref in _l(_d(mw.spec.get("chain")).get("middlewares")):
                if isinstance(ref, dict) and ref.get("name"):
                    out.extend(_middleware_chain(inv, ref.get("namespace") or mw.namespace, ref["name"], depth + 1))
    return out


def _from_middlewares(inv, route: Route) -> tuple[list[AuthInfo], list[str]]:
    out, missing = [], []
    refs = []
    for f in route.filters:
        ext = _d(f.get("extensionRef"))
        if f.get("type") == "ExtensionRef" and ext.get("kind") == "Middleware" and ext.get("name"):
            refs.append((ext.get("namespace") or route.namespace, str(ext["name"]), "ExtensionRef filter"))
    ann = route.annotations.get("traefik.ingress.kubernetes.io/router.middlewares")
    if ann:
        for item in str(ann).split(","):
            item = item.strip().split("@", 1)[0]
            if not item:
                continue
            # `<namespace>-<name>`: try every split point against the Middlewares that exist.
            found = False
            parts = item.split("-")
            for i in range(1, len(parts)):
                ns, name = "-".join(parts[:i]), "-".join(parts[i:])
                if _find_middleware(inv, ns, name):
                    refs.append((ns, name, "router.middlewares annotation"))
                    found = True
                    break
            if not found:
                refs.append((None, item, "router.middlewares annotation"))
    for ns, name, how in refs:
        chain = _middleware_chain(inv, ns, name)
        if not chain and ns is None:
            # the annotation form: match a Middleware whose `<ns>-<name>` is the item
            for mw in inv.of_kind("Middleware"):
                if f"{mw.namespace}-{mw.name}" == name:
                    chain = _middleware_chain(inv, mw.namespace, mw.name)
                    break
        if not _find_middleware(inv, ns, name) and not chain:
            missing.append(f"{ns + '/' if ns else ''}{name}")
        for a in chain:
            a.detail += f" (via {how})"
            out.append(a)
    return out, missing


def securitypolicy_auth(spec: dict, variables: dict, res: Resource | None, label: str) -> list[AuthInfo]:
    out = []
    ext = _d(spec.get("extAuth"))
    if ext:
        http = _d(ext.get("http"))
        grpc = _d(ext.get("grpc"))
        backs = _l(http.get("backendRefs")) + _l(grpc.get("backendRefs"))
        for b in (http.get("backendRef"), grpc.get("backendRef")):
            if isinstance(b, dict):
                backs.append(b)
        target = ", ".join(f"{_d(b).get('name')}.{_d(b).get('namespace') or '-'}:{_d(b).get('port')}" for b in backs)
        path = str(http.get("path") or "")
        text = substitute(f"{target} {path}", variables)
        out.append(AuthInfo("envoy-ext-auth", provider_of(text), f"{label} extAuth {text.strip()}", res,
                            ("spec", "extAuth"), target=text.strip(), fail_open=ext.get("failOpen") is True))
    oidc = _d(spec.get("oidc"))
    if oidc:
        issuer = substitute(str(_d(oidc.get("provider")).get("issuer") or ""), variables)
        out.append(AuthInfo("envoy-oidc", provider_of(issuer), f"{label} oidc issuer {issuer}", res, ("spec", "oidc"),
                            target=issuer))
    jwt = _d(spec.get("jwt"))
    if jwt:
        issuers = " ".join(str(_d(p).get("issuer") or _d(_d(p).get("remoteJWKS")).get("uri") or "") for p in _l(jwt.get("providers")))
        issuers = substitute(issuers, variables)
        out.append(AuthInfo("envoy-jwt", provider_of(issuers), f"{label} jwt {issuers.strip()}", res, ("spec", "jwt"),
                            target=issuers.strip()))
    if spec.get("basicAuth"):
        out.append(AuthInfo("envoy-basic-auth", "basic-auth", f"{label} basicAuth", res, ("spec", "basicAuth")))
    if spec.get("apiKeyAuth"):
        out.append(AuthInfo("envoy-api-key-auth", "api-key", f"{label} apiKeyAuth", res, ("spec", "apiKeyAuth")))
    return out


def _target_hits(spec: dict, kinds: tuple, names: set, labels: dict | None = None) -> bool:
    for t in _l(spec.get("targetRefs")) + ([spec["targetRef"]] if isinstance(spec.get("targetRef"), dict) else []):
        t = _d(t)
        if t.get("kind") in kinds and str(t.get("name")) in names:
            return True
    if labels is not None:
        for sel in _l(spec.get("targetSelectors")):
            sel = _d(sel)
            if sel.get("kind") in kinds and _labels_match(_d(sel.get("matchLabels")), labels):
                return True
    return False


def _gateway_covers(inv, spec: dict, parent: dict, route: Route) -> bool:
    """Does a Gateway-level policy cover the route through this parent? A policy on the whole Gateway
    covers every route attached to it; one on a listener (`sectionName`) covers the routes attached to
    that listener only: the route names it, or every listener accepting the route is covered."""
    refs = _l(spec.get("targetRefs")) + ([spec["targetRef"]] if isinstance(spec.get("targetRef"), dict) else [])
    sections = set()
    for t in refs:
        t = _d(t)
        if t.get("kind") != "Gateway" or str(t.get("name")) != str(parent.get("name")):
            continue
        if not t.get("sectionName"):
            return True
        sections.add(str(t["sectionName"]))
    if not sections:
        return False
    if parent.get("sectionName"):
        return str(parent["sectionName"]) in sections
    from scanner.analysis.routeserve import serving

    names = {name for gw, name in serving(inv, route).listeners if gw.name == parent.get("name")}
    return bool(names) and names <= sections


def _labels_match(match: dict, labels: dict) -> bool:
    return bool(match) and all(str(labels.get(k)) == str(v) for k, v in match.items())


def _route_names(route: Route) -> set[str]:
    return {route.name, *route.aliases}


def _from_securitypolicies(inv, route: Route) -> list[AuthInfo]:
    if route.kind in ("Ingress", "IngressRoute"):  # Envoy Gateway policies attach to Gateway API objects
        return []
    names = _route_names(route)
    route_level, gw_level = [], []
    for sp in inv.of_kind("SecurityPolicy"):
        if sp.group != "gateway.envoyproxy.io":
            continue
        if _target_hits(sp.spec, (route.kind,), names) and sp.namespace == route.namespace:
            route_level.extend(securitypolicy_auth(sp.spec, sp.variables, sp, f"SecurityPolicy {sp.namespace}/{sp.name}"))
            if not securitypolicy_auth(sp.spec, sp.variables, sp, ""):
                route_level.append(AuthInfo("none", "none", f"SecurityPolicy {sp.namespace}/{sp.name} targets the route without auth",
                                            sp))
        else:
            for p in route.parent_refs:
                if sp.namespace == p.get("namespace") and _gateway_covers(inv, sp.spec, p, route):
                    for a in securitypolicy_auth(sp.spec, sp.variables, sp, f"SecurityPolicy {sp.namespace}/{sp.name} on Gateway {p['name']}"):
                        a.via = "gateway"
                        gw_level.append(a)
    if route_level:  # a route-level policy overrides the Gateway's
        return [a for a in route_level if a.mechanism != "none"]
    return gw_level


# ---- Kyverno -----------------------------------------------------------------------------------

# Kyverno's chart defaults keep these namespaces out of admission and background processing.
KYVERNO_DEFAULT_EXCLUDED = ("kube-system", "kube-public", "kube-node-lease")


def _kyverno_excluded_namespaces(inv) -> set[str]:
    out = set(KYVERNO_DEFAULT_EXCLUDED)
    for hr in inv.of_kind("HelmRelease"):
        if (inv.chart(hr).name or "") != "kyverno":
            continue
        out.add(hr.spec.get("targetNamespace") or hr.namespace or "kyverno")
        cfg = _d(_d(hr.spec.get("values")).get("config"))
        for ns in _l(cfg.get("resourceFiltersExcludeNamespaces")):
            out.add(str(ns))
        for f in _l(cfg.get("resourceFilters")):
            m = re.match(r"\[\*(?:/\*)?,([^,\]]+),\*\]", str(f))
            if m and "*" not in m.group(1):
                out.add(m.group(1))
    return out


def _res_filter_match(flt: dict, route: Route) -> bool:
    kinds = [str(k).rsplit("/", 1)[-1] for k in _l(flt.get("kinds"))]
    if kinds and route.kind not in kinds and "*" not in kinds:
        return False
    anns = _d(flt.get("annotations"))
    for k, v in anns.items():
        have = route.annotations.get(k)
        if have is None or not _glob(str(v), str(have)):
            return False
    sel = _d(flt.get("selector"))
    if _d(sel.get("matchLabels")):
        return False  # route labels are not tracked; a label-keyed rule cannot be proven to match
    names = _l(flt.get("names")) + ([flt["name"]] if flt.get("name") else [])
    if names and not any(_glob(str(n), nm) for n in names for nm in _route_names(route)):
        return False
    nss = _l(flt.get("namespaces"))
    if nss and not any(_glob(str(n), route.namespace or "") for n in nss):
        return False
    return True


def _glob(pattern: str, value: str) -> bool:
    import fnmatch

    return fnmatch.fnmatchcase(value, pattern)


def _match_block(block: dict, route: Route) -> bool:
    block = _d(block)
    anys = _l(block.get("any"))
    alls = _l(block.get("all"))
    if block.get("resources"):
        alls = alls + [{"resources": block["resources"]}]
    if not anys and not alls:
        return False
    if anys and not any(_res_filter_match(_d(_d(x).get("resources")), route) for x in anys):
        return False
    if alls and not all(_res_filter_match(_d(_d(x).get("resources")), route) for x in alls):
        return False
    return True


def _from_kyverno(inv, route: Route) -> tuple[list[AuthInfo], list[str]]:
    out, notes = [], []
    excluded = None
    for pol in inv.of_kind("ClusterPolicy", "Policy"):
        if not pol.group.startswith("kyverno.io"):
            continue
        if pol.kind == "Policy" and pol.namespace != route.namespace:
            continue
        for i, rule in enumerate(_l(pol.spec.get("rules"))):
            rule = _d(rule)
            if not _match_block(rule.get("match"), route):
                continue
            if rule.get("exclude") and _match_block(rule.get("exclude"), route):
                continue
            found: list[AuthInfo] = []
            gen = _d(rule.get("generate"))
            if gen:
                data = _d(gen.get("data"))
                if gen.get("kind") == "SecurityPolicy":
                    found = securitypolicy_auth(_d(data.get("spec")), pol.variables, pol,
                                                f"Kyverno {pol.kind} {pol.name} rule {rule.get('name')} generates a SecurityPolicy with")
                elif gen.get("kind") == "Middleware":
                    a = _middleware_auth(Resource(doc=pol.doc, namespace=route.namespace, name=str(gen.get("name")),
                                                  deployed=True, body={"spec": _d(data.get("spec"))}, variables=pol.variables))
                    found = [a] if a else []
                for a in found:
                    a.via = "kyverno-generate"
            mut = _d(rule.get("mutate"))
            if mut:
                patch = _d(mut.get("patchStrategicMerge"))
                anns = {re.sub(r"^[+=]\((.*)\)$", r"\1", str(k)): v
                        for k, v in _d(_d(patch.get("metadata")).get("annotations")).items()}
                found = _from_annotations(anns, pol.variables)
                for a in found:
                    a.via = "kyverno-mutate"
            for a in found:
                a.resource, a.path = pol, ("spec", "rules", i)
            if found:
                if excluded is None:
                    excluded = memo(inv, "authmap.kyverno_excluded", lambda: _kyverno_excluded_namespaces(inv))
                if route.namespace in excluded:
                    notes.append(f"Kyverno {pol.kind} {pol.name} would add {found[0].mechanism} but Kyverno does not "
                                 f"process namespace {route.namespace}")
                    continue
                out.extend(found)
    return out, notes


# ---- native OIDC --------------------------------------------------------------------------------

def _walk_strings(obj, key="", depth=0):
    """(key, text) of every scalar, depth-first; env-style {name, value} items as (name, value)."""
    out: list = []
    _collect_strings(obj, key, depth, out)
    return iter(out)


def _collect_strings(obj, key, depth, out: list) -> None:
    # A list built by plain recursion: much cheaper than a chain of generators over deep values.
    if depth > 12:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            _collect_strings(v, str(k), depth + 1, out)
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, dict) and "name" in v and "value" in v:
                out.append((str(v["name"]), str(v.get("value"))))
            else:
                _collect_strings(v, key, depth + 1, out)
    elif obj is not None:
        out.append((key, str(obj)))


@functools.lru_cache(maxsize=4096)
def _oidc_env_key(key: str) -> bool:
    # Cached: the same value keys recur across every HelmRelease of a repo.
    return bool(_OIDC_ENV.search(key))


_URL_IN = re.compile(r"https?://[^\s\"'<>,]+", re.I)


def _native_from_data(obj, variables: dict) -> tuple[str | None, str, str | None]:
    """(provider, evidence, the URL the settings point at) when data carries OIDC settings."""
    env_hit = None
    texts = []
    target = None
    for k, v in _walk_strings(obj):
        if "${" in v:  # (what `substitute` tests first: most values have no variable)
            v = substitute(v, variables)
        m = _ISSUER_ANY.search(v) if "://" in v else None  # an issuer URL has "://": skip the regex on the rest
        if m:
            return provider_of(m.group(0)), f"{k}: {m.group(0)}", m.group(0)
        if v and _oidc_env_key(k) and v.lower() not in ("false", "0", "", "none"):
            texts.append(f"{k}={v}")
            if env_hit is None:
                env_hit = f"{k}"
            if target is None and "://" in v:
                u = _URL_IN.search(v)
                target = u.group(0) if u else None
    if env_hit:
        prov = provider_of(" ".join(texts))
        if prov == "unknown":  # the IdP is often named only in a neighbouring key or URL
            prov = provider_of(" ".join(f"{k} {v}" for k, v in _walk_strings(obj)))
        return prov, env_hit, target
    return None, "", None


def _native_of(inv, res: Resource, data) -> tuple[str | None, str, str | None]:
    """`_native_from_data` once per resource and data: a HelmRelease with several routes is read once."""
    cache = inv.__dict__.setdefault("_posture_native_cache", {})
    key = (id(res), id(data))
    hit = cache.get(key)
    if hit is None or hit[0] is not res or hit[1] is not data:
        hit = cache[key] = (res, data, _native_from_data(data, res.variables))
    return hit[2]


def _controllers_reached(hr: Resource, route: Route) -> list[str] | None:
    """app-template: the controllers whose Service the route's backends reach, or None when that cannot
    be narrowed (one controller, another chart, a backend that names no Service of the release)."""
    values = _d(hr.spec.get("values"))
    controllers = [c for c, v in _d(values.get("controllers")).items() if _d(v).get("enabled", True) is not False]
    if len(controllers) <= 1 or route.resource is not hr:
        return None
    release = release_name(hr)
    services = {sid: _d(v) for sid, v in _d(values.get("service")).items() if _d(v).get("enabled", True) is not False}
    block = hr.body
    for k in route.path:
        block = block.get(k) if isinstance(block, dict) else None
    sids = set()
    for rule in _l(_d(block).get("rules")) or [{}]:
        refs = _l(_d(rule).get("backendRefs")) or [{}]
        for ref in refs:
            ref = _d(ref)
            sid = ref.get("identifier")
            if sid is None:
                name = str(ref.get("name") or release)
                sid = next((i for i, v in services.items()
                            if name in (v.get("nameOverride"), f"{release}-{i}") or (name == release and (len(services) == 1 or i == release))),
                           None)
            if sid is None or sid not in services:
                return None
            sids.add(sid)
    reached = []
    for sid in sids:
        ctrl = services[sid].get("controller") or (sid if sid in controllers else None)
        if ctrl is None and len(services) == 1:
            return None
        if ctrl not in controllers:
            return None
        reached.append(ctrl)
    return sorted(set(reached))


def _referenced_names(controller: dict, release: str) -> set[str]:
    """Secret/ConfigMap names a controller's containers read (env and envFrom)."""
    out = set()
    for key in ("containers", "initContainers"):
        for c in _d(controller.get(key)).values():
            c = _d(c)
            env = c.get("env")
            items = _l(env) or [dict(_d(x), name=n) if isinstance(x, dict) else {} for n, x in _d(env).items()]
            for e in items:
                vf = _d(_d(e).get("valueFrom"))
                for ref in (vf.get("secretKeyRef"), vf.get("configMapKeyRef")):
                    if _d(ref).get("name"):
                        out.add(str(ref["name"]))
            for e in _l(c.get("envFrom")):
                e = _d(e)
                for ref in (e.get("secretRef"), e.get("configMapRef")):
                    if _d(ref).get("name"):
                        out.add(str(ref["name"]))
                for k in ("secret", "configMap"):
                    if isinstance(e.get(k), str):
                        out.add(e[k])
    return {re.sub(r"\{\{-?\s*\.Release\.Name\s*-?\}\}", release, n) for n in out}


def _app_build(res: Resource) -> str | None:
    """The Flux Kustomization that deploys the resource as one app. A cluster's root build (and the
    whole-repository build of a repository without a Flux root) deploys many apps: not an app boundary."""
    ks = res.flux_kustomization
    return None if not ks or ks == ROOT_KEY or ks.startswith(ROOT_KEY + ":") else ks


def _app_resources(inv, route: Route) -> list[Resource]:
    """HelmReleases/ExternalSecrets/ConfigMaps that belong to the route's app."""
    res = route.resource
    app = _app_build(res)
    names = {b.get("name") for b in route.backends if b.get("name")} | _route_names(route)
    out = []
    if res.kind == "HelmRelease":
        out.append(res)
    hrs_by_ns, others_by_ns = memo(inv, "authmap.app_resources", lambda: _app_resource_index(inv))
    for hr, rel in hrs_by_ns.get(route.namespace, ()):
        if hr is res:
            continue
        if rel in names or (app and hr.flux_kustomization == app):
            out.append(hr)
    rels = {r for r in {release_name(h) for h in out if h.kind == "HelmRelease"} | names if r}
    prefixes = tuple(f"{r}-" for r in rels)  # `<release>-...`: one startswith for all the names
    for es in others_by_ns.get(route.namespace, ()):
        if (app and es.flux_kustomization == app) or \
                es.name in rels or es.name.startswith(prefixes):
            out.append(es)
    return out


def _app_resource_index(inv) -> tuple[dict, dict]:
    """Deployed HelmReleases (with release names) and ExternalSecrets/ConfigMaps/Secrets by namespace,
    each list in inventory order."""
    hrs: dict = {}
    for hr in inv.of_kind("HelmRelease"):
        hrs.setdefault(hr.namespace, []).append((hr, release_name(hr)))
    others: dict = {}
    for es in inv.of_kind("ExternalSecret", "ConfigMap", "Secret"):
        others.setdefault(es.namespace, []).append(es)
    return hrs, others


def blueprint_oauth_apps(inv) -> list[dict]:
    """Authentik blueprints (in ConfigMaps, YAML-in-YAML with custom tags): OAuth2/proxy providers and apps."""
    cache = getattr(inv, "_posture_blueprints", None)
    if cache is not None:
        return cache
    out = []
    for cm in inv.of_kind("ConfigMap"):
        for key, text in _d(cm.body.get("data")).items():
            if not isinstance(text, str) or "entries" not in text or "model" not in text:
                continue
            docs, _ = load_documents(text)
            for d in docs:
                for e in _l(_d(d.body).get("entries")):
                    e = _d(e)
                    model = str(e.get("model") or "")
                    attrs = _d(e.get("attrs"))
                    ident = _d(e.get("identifiers"))
                    if model.startswith("authentik_providers_oauth2") or model.startswith("authentik_providers_proxy") \
                            or model == "authentik_core.application":
                        out.append({"model": model, "name": str(attrs.get("name") or ident.get("name") or ""),
                                    "slug": str(attrs.get("slug") or ident.get("slug") or ""),
                                    "mode": str(attrs.get("mode") or ""),
                                    "hosts": " ".join(str(x) for x in (attrs.get("external_host"), attrs.get("redirect_uris"),
                                                                         attrs.get("meta_launch_url")) if x),
                                    "provider": str(attrs.get("provider") or ""), "resource": cm})
    try:
        setattr(inv, "_posture_blueprints", out)
    except AttributeError:  # pragma: no cover
        pass
    return out


def _oidc_blueprints(inv) -> list[tuple[dict, str]]:
    """The OAuth2 provider/application blueprints with their hosts substituted and lower-cased: built
    once per inventory rather than once per route."""
    out = []
    for bp in blueprint_oauth_apps(inv):
        if not bp["model"].startswith("authentik_providers_oauth2") and bp["model"] != "authentik_core.application":
            continue
        if bp["model"] == "authentik_core.application" and "oauth" not in bp["provider"].lower():
            continue
        out.append((bp, substitute(bp["hosts"], bp["resource"].variables).lower()))
    return out


def _from_native(inv, route: Route, options: dict) -> list[AuthInfo]:
    out = []
    for k in tuple(options.get("native_auth_annotations") or ()) + NATIVE_AUTH_ANNOTATIONS:
        if route.annotations.get(k):
            v = str(route.annotations[k])
            out.append(AuthInfo("native-oidc", v.lower() if v.lower() not in ("true", "yes") else "authentik",
                                f"annotation {k}: {v}", route.resource, route.path, via="native"))
            return out
    # A HelmRelease running several controllers: native OIDC counts only where the route leads, in the
    # controllers its Service reaches and the Secrets/ConfigMaps those controllers read.
    own = route.resource if route.resource.kind == "HelmRelease" else None
    reached = _controllers_reached(own, route) if own is not None else None
    narrowed = None
    if reached is not None:
        ctrls = _d(_d(own.spec.get("values")).get("controllers"))
        narrowed = {c: ctrls[c] for c in reached}
        read = set().union(*(_referenced_names(_d(ctrls[c]), release_name(own)) for c in reached))
    for res in _app_resources(inv, route):
        if res.kind == "HelmRelease":
            data, path = res.spec.get("values"), ("spec", "values")
            if res is own and narrowed is not None:
                data, path = narrowed, ("spec", "values", "controllers", reached[0])
        elif res.kind == "ExternalSecret":
            data, path = _d(res.spec.get("target")).get("template"), ("spec", "target", "template")
        else:
            data, path = res.body.get("data") or res.body.get("stringData"), ("data",)
        if narrowed is not None and res is not own:
            target_name = _d(res.spec.get("target")).get("name") if res.kind == "ExternalSecret" else None
            if res.kind == "HelmRelease" or (target_name or res.name) not in read:
                continue  # another controller's settings, or another release
        if not data:
            continue
        prov, ev, target = _native_of(inv, res, data)
        if prov:
            where = f" (controller {', '.join(reached)})" if narrowed is not None and res is own else ""
            out.append(AuthInfo("native-oidc", prov, f"{res.kind} {res.namespace}/{res.name}{where} configures OIDC ({ev})",
                                res, path, via="native", target=target))
            return out
    # Authentik OAuth2 provider/application blueprint named after the app or naming its host.
    hosts = {substitute(h, route.resource.variables).lower() for h in route.hosts}
    names = {n.lower() for n in _route_names(route)} | {str(b.get("name")).lower() for b in route.backends}
    for bp, bph in memo(inv, "authmap.oidc_blueprints", lambda: _oidc_blueprints(inv)):
        if (bp["slug"].lower() in names or bp["name"].lower() in names) or any(h and h in bph for h in hosts):
            out.append(AuthInfo("native-oidc", "authentik", f"Authentik blueprint {bp['model']} {bp['slug'] or bp['name']} "
                                f"in ConfigMap {bp['resource'].namespace}/{bp['resource'].name}", bp["resource"], ("data",),
                                via="native"))
            return out
    return out


# ---- the verdict per route ------------------------------------------------------------------------

@dataclass(slots=True)
class RouteAuth:
    """The guards found for one route, the middlewares it names that do not exist, and notes."""

    guards: list[AuthInfo]
    missing_middlewares: list[str]
    notes: list[str]

    def best(self) -> AuthInfo | None:
        good = [g for g in self.guards if g.accepted and not g.fail_open]
        if good:
            return good[0]
        return self.guards[0] if self.guards else None


def _options_key(options: dict) -> tuple:
    """What of `options` the analysis reads, normalised: the checks, the exposure map and the outpost
    walk pass different dicts (`native_auth_annotations: []` or absent...) that mean the same analysis,
    so they share one cache entry instead of analysing every route again."""
    native = options.get("native_auth_annotations")
    native_key = repr(tuple(native)) if isinstance(native, (list, tuple)) else repr(native or ())
    return repr(sorted(accepted_providers(options))), native_key


def analyse(inv, route: Route, options: dict | None = None) -> RouteAuth:
    options = options or {}
    cache = getattr(inv, "_posture_auth_cache", None)
    if cache is None:
        cache = {}
        try:
            setattr(inv, "_posture_auth_cache", cache)
        except AttributeError:  # pragma: no cover
            pass
    key = (id(route), *_options_key(options))
    if key in cache:
        return cache[key]
    guards: list[AuthInfo] = []
    for a in _from_annotations(route.annotations, route.resource.variables):
        a.resource, a.path = route.resource, route.path + (("annotations",) if route.source != "manifest" else ())
        guards.append(a)
    mws, missing = _from_middlewares(inv, route)
    guards += mws
    guards += _from_securitypolicies(inv, route)
    kv, notes = _from_kyverno(inv, route)
    guards += kv
    guards += _from_native(inv, route, options)
    own = idp_mod.route_target(inv, route)
    if own is not None:  # the route serves the identity provider's own login
        guards.append(AuthInfo("identity-provider", own.product, f"the route serves {own.product} itself "
                               f"({own.label}, recognised by {own.via})", own.resource, (), via="direct"))
    for g in guards:
        _name_provider(inv, g, route.namespace)
    acc = accepted_providers(options, inv)
    for g in guards:
        g.accepted = g.provider.lower() in acc
    out = RouteAuth(guards, missing, notes)
    cache[key] = out
    return out


_NO_IDP = ("nginx-basic-auth", "traefik-basic-auth", "envoy-basic-auth", "envoy-api-key-auth", "none",
           "identity-provider")


def _name_provider(inv, g: AuthInfo, namespace: str | None) -> None:
    """Name the IdP from where the guard points (its URL, Service or issuer) matched to the IdPs deployed
    in the repo; the target's own shape (API paths) when nothing deployed answers; the host pointed at
    when nothing recognisable does. "unknown" stays only when the guard points nowhere."""
    if g.mechanism in _NO_IDP or not g.target:
        return
    ns = g.resource.namespace if g.resource is not None and g.resource.namespace else namespace
    r = idp_mod.resolve(inv, g.target.split(",")[0], ns, fallback=provider_of)
    if r.idp is not None or r.proxy is not None or g.provider == "unknown" or g.provider.startswith("plugin:"):
        g.provider = r.provider
    g.evidence["identity_provider"] = r.evidence()
    if r.proxy is not None:
        g.detail += (f" (via {r.proxy.product} {r.proxy.label}" + (f", issuer {r.proxy.issuer}" if r.proxy.issuer else "")
                     + ")")
    elif r.idp is not None:
        g.detail += f" ({r.idp.product}: {r.idp.label})"


def route_auth(inv, route: Route, options: dict | None = None) -> AuthInfo | None:
    return analyse(inv, route, options).best()


def outpost_targets(inv, options: dict | None = None) -> list[tuple[str, Route, AuthInfo]]:
    """Every Authentik outpost host a deployed route's guard calls: (host, route, guard)."""
    out = []
    for r in inv.routes:
        if not r.resource.deployed:
            continue
        for g in analyse(inv, r, options).guards:
            # outposts only: not an app's own OIDC, an OIDC plugin's issuer, or a proxy that logs in via Authentik
            if g.provider == "authentik" and g.target and g.mechanism not in ("native-oidc", "identity-provider",
                                                                               "traefik-plugin") \
                    and not g.evidence.get("identity_provider", {}).get("proxy"):
                host = re.sub(r"^[a-z]+://", "", g.target.split()[0]).split("/")[0].split(":")[0]
                out.append((host, r, g))
    return out
