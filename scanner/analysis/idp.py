"""The identity providers deployed in the repo, and which one an authentication URL or backend points at.

An IdP is recognised by what it runs, never by what it is called: its chart (`authentik`, `authelia`,
`keycloak`/`keycloakx`, `dex`, `zitadel`, `kanidm`, `pocket-id`), its server image (goauthentik/server,
authelia/authelia, keycloak/keycloak, kanidm/server, pocket-id/pocket-id, dexidp/dex, zitadel/zitadel)
or its operator's custom resource (`Keycloak` of k8s.keycloak.org). Auth proxies that log users in
through an IdP (oauth2-proxy by chart or image) are recognised the same way, with the issuer they use
(`--oidc-issuer-url`, `OAUTH2_PROXY_OIDC_ISSUER_URL`, `oidc_issuer_url` in the config file).

A target (a URL, or a Service name and namespace) names an IdP when its host is one of the IdP's hosts
(the hosts of the routes that reach it, the origin URLs in its own settings) or its in-cluster Service
(`<svc>.<ns>[.svc.cluster.local]`), directly or through an auth proxy whose issuer does.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from scanner.core.memo import memo
from scanner.core.model import Resource
from scanner.inventory.helm import release_name
from scanner.inventory.substitute import substitute

CHARTS = {"authentik": "authentik", "authelia": "authelia", "keycloak": "keycloak", "keycloakx": "keycloak",
          "dex": "dex", "zitadel": "zitadel", "kanidm": "kanidm", "pocket-id": "pocket-id",
          "oauth2-proxy": "oauth2-proxy"}
# Image repository (registry stripped) -> product.
IMAGES = (
    (re.compile(r"(^|/)goauthentik/(server|proxy)$"), "authentik"),
    (re.compile(r"(^|/)authelia/authelia$"), "authelia"),
    (re.compile(r"(^|/)keycloak/keycloak(-x)?$|(^|/)bitnami/keycloak$"), "keycloak"),
    (re.compile(r"(^|/)kanidm/(server|kanidmd)$"), "kanidm"),
    (re.compile(r"(^|/)(pocket-id/pocket-id|stonith404/pocket-id)$"), "pocket-id"),
    (re.compile(r"(^|/)dexidp/dex$"), "dex"),
    (re.compile(r"(^|/)zitadel/zitadel$"), "zitadel"),
    (re.compile(r"(^|/)oauth2-proxy/oauth2-proxy$"), "oauth2-proxy"),
)
CRDS = {("Keycloak", "k8s.keycloak.org"): "keycloak"}
PROXIES = ("oauth2-proxy",)
_URL = re.compile(r"https?://[^\s\"'<>,]+", re.I)
_ISSUER_ARG = re.compile(r"oidc[-_]issuer[-_]url\s*[=:]?\s*[\"']?(https?://[^\s\"',]+)", re.I)
_ORIGIN_KEY = re.compile(r"origin|domain|host|url|issuer|external|public", re.I)


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _strings(obj, key="", depth=0, out=None) -> list[tuple[str, str]]:
    """(key, text) of every scalar; env-style {name, value} items as (name, value)."""
    out = [] if out is None else out
    if depth > 12:
        return out
    if isinstance(obj, dict):
        if "name" in obj and "value" in obj and not isinstance(obj.get("value"), (dict, list)):
            out.append((str(obj["name"]), str(obj["value"])))
        for k, v in obj.items():
            _strings(v, str(k), depth + 1, out)
    elif isinstance(obj, list):
        for v in obj:
            _strings(v, key, depth + 1, out)
    elif obj is not None:
        out.append((key, str(obj)))
    return out


def host_of(target: str) -> str:
    t = re.sub(r"^[a-z][a-z0-9+.-]*://", "", str(target).strip().split()[0] if str(target).strip() else "", flags=re.I)
    return t.split("/")[0].split("@")[-1].split(":")[0].lower()


def image_product(image: str) -> str | None:
    repo = str(image or "").split("@")[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: repo.rfind(":")]
    parts = repo.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        repo = "/".join(parts[1:])  # the registry host is no part of the name
    for rx, product in IMAGES:
        if rx.search(repo):
            return product
    return None


@dataclass(eq=False)
class Deployed:
    """One deployed IdP (or auth proxy): what it is, where, and how it is reached."""

    product: str
    namespace: str | None
    resource: Resource
    services: set = field(default_factory=set)  # Service names in `namespace` that reach it
    hosts: set = field(default_factory=set)  # public host names (lower-case, substituted)
    issuer: str | None = None  # auth proxies: the IdP they send users to
    via: str = ""  # how it was recognised: "chart authentik", "image goauthentik/server", ...

    @property
    def label(self) -> str:
        return f"{self.resource.kind} {self.resource.namespace or '-'}/{self.resource.name}"

    def is_proxy(self) -> bool:
        return self.product in PROXIES


def _issuer_of(data, variables: dict) -> str | None:
    for k, v in _strings(data):
        if "${" in v:
            v = substitute(v, variables)
        if re.fullmatch(r"(OAUTH2_PROXY_)?OIDC[-_]ISSUER[-_]URL|oidc[-_]issuer[-_]url", k.strip("-"), re.I):
            m = _URL.search(v)
            if m:
                return m.group(0)
        m = _ISSUER_ARG.search(v)
        if m:
            return m.group(1)
    return None


def _origin_hosts(data, variables: dict) -> set[str]:
    out = set()
    for k, v in _strings(data):
        if not _ORIGIN_KEY.search(k):
            continue
        if "${" in v:
            v = substitute(v, variables)
        for m in _URL.finditer(v):
            h = host_of(m.group(0))
            if h and "." in h and not h.endswith((".svc", ".local")) and ".svc." not in h:
                out.add(h)
    return out


def _registry(inv) -> list[Deployed]:
    found: dict[int, Deployed] = {}
    for hr in inv.of_kind("HelmRelease"):
        if hr.group != "helm.toolkit.fluxcd.io":
            continue
        product = CHARTS.get((inv.chart(hr).name or "").lower())
        if product:
            found[id(hr)] = Deployed(product, hr.spec.get("targetNamespace") or hr.namespace, hr,
                                     via=f"chart {inv.chart(hr).name}")
    for w in inv.workloads:
        res = w.resource
        if not res.deployed or id(res) in found:
            continue
        for c in w.containers:
            product = image_product(str(c.spec.get("image") or ""))
            if product:
                found[id(res)] = Deployed(product, w.namespace, res, via=f"image {str(c.spec.get('image')).split('@')[0]}")
                break
    for (kind, group), product in CRDS.items():
        for res in inv.of_kind(kind):
            if res.group == group and id(res) not in found:
                found[id(res)] = Deployed(product, res.namespace, res, via=f"{kind} ({group})")
    out = list(found.values())
    for idp in out:
        res = idp.resource
        rel = release_name(res) if res.kind == "HelmRelease" else res.name
        idp.services |= {rel, res.name}
        for w in inv.workloads:
            if w.resource is res:
                idp.services.add(w.name)
        data = res.spec.get("values") if res.kind == "HelmRelease" else res.body
        idp.hosts |= _origin_hosts(data, res.variables)
        if idp.is_proxy():
            idp.issuer = _issuer_of(data, res.variables)
    for r in inv.routes:
        if not r.resource.deployed:
            continue
        for idp in out:
            if _route_reaches(r, idp):
                idp.hosts |= {substitute(h, r.resource.variables).lower() for h in r.hosts}
    return out


# Services a product creates under its own documented names (Authentik's outposts: `ak-outpost-<outpost>`).
PRODUCT_SERVICE_PREFIXES = {"authentik": ("ak-outpost-",)}


def _service_is(idp: Deployed, name: str, namespace: str | None) -> bool:
    if namespace is not None and idp.namespace is not None and namespace != idp.namespace:
        return False
    name = str(name)
    if name.startswith(PRODUCT_SERVICE_PREFIXES.get(idp.product, ())):
        return True
    return any(name == s or name.startswith(f"{s}-") for s in idp.services if s)


def _route_reaches(route, idp: Deployed) -> bool:
    if route.resource is idp.resource:
        return True
    for b in route.backends:
        ns = b.get("namespace") or route.namespace
        if b.get("name") and _service_is(idp, b["name"], ns):
            return True
    return False


def registry(inv) -> list[Deployed]:
    return memo(inv, "idp.registry", lambda: _registry(inv))


def route_target(inv, route) -> Deployed | None:
    """The deployed IdP a route serves (the IdP's own login page), if any."""
    for idp in registry(inv):
        if not idp.is_proxy() and _route_reaches(route, idp):
            return idp
    return None


@dataclass(slots=True)
class Resolution:
    """Which IdP a target names, and how that was decided."""

    provider: str  # a product, the host pointed at (nothing deployed answers there), or "unknown"
    idp: Deployed | None = None
    proxy: Deployed | None = None  # the auth proxy in between, when there is one
    how: str = ""

    def evidence(self) -> dict:
        out = {"provider": self.provider, "how": self.how}
        if self.idp is not None:
            out["idp"] = {"product": self.idp.product, "resource": self.idp.label, "recognised_by": self.idp.via}
        if self.proxy is not None:
            out["proxy"] = {"product": self.proxy.product, "resource": self.proxy.label, "issuer": self.proxy.issuer}
        return out


def _by_host(inv, host: str, default_ns: str | None) -> Deployed | None:
    if not host:
        return None
    for idp in registry(inv):
        if host in idp.hosts:
            return idp
    parts = host.split(".")
    if len(parts) == 1 or (len(parts) >= 3 and parts[2] == "svc") or len(parts) == 2:
        name, ns = parts[0], (parts[1] if len(parts) > 1 else default_ns)
        for idp in registry(inv):
            if _service_is(idp, name, ns):
                return idp
    return None


def resolve(inv, target: str | None, default_ns: str | None = None, fallback=None, depth: int = 0) -> Resolution:
    """The IdP behind a URL or `<svc>.<ns>` target. `fallback(text)` names a product from the target's
    own shape (API paths such as `/outpost.goauthentik.io/`, `/realms/`) when nothing deployed answers."""
    text = str(target or "").strip()
    if not text:
        return Resolution("unknown", how="nothing to point at")
    idp = _by_host(inv, host_of(text), default_ns)
    if idp is not None and idp.is_proxy():
        if idp.issuer and depth < 2:
            inner = resolve(inv, idp.issuer, idp.namespace, fallback, depth + 1)
            inner.proxy = idp
            inner.how = f"{idp.product} {idp.label} (issuer {idp.issuer}) -> {inner.how}"
            return inner
        return Resolution(idp.product, proxy=idp, how=f"{idp.product} {idp.label} with no issuer in the repo")
    if idp is not None:
        return Resolution(idp.product, idp=idp, how=f"{host_of(text)} is {idp.product} ({idp.label}, {idp.via})")
    guess = fallback(text) if fallback else "unknown"
    if guess != "unknown":
        return Resolution(guess, how=f"{text} has the shape of {guess}; no deployed {guess} answers there")
    host = host_of(text)
    return Resolution(host or "unknown", how=f"{host} is no identity provider deployed in the repo" if host else "")


def resolve_service(inv, name: str, namespace: str | None, fallback=None) -> Resolution:
    return resolve(inv, f"{name}.{namespace}" if namespace else name, namespace, fallback)
