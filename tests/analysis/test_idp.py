"""Deployed identity providers are recognised by what they run, and a target is matched to them."""
from __future__ import annotations

import os

from scanner.analysis import idp
from scanner.analysis.authmap import provider_of
from scanner.inventory.model import build_inventory
from scanner.sources.discover import discover
from scanner.sources.parse import parse_files
from tests.support.repos import write

FIXTURE = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: login, namespace: auth}
spec:
  chart: {spec: {chart: keycloakx, sourceRef: {kind: HelmRepository, name: codecentric}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: gate, namespace: edge}
spec:
  selector: {matchLabels: {app: gate}}
  template:
    metadata: {labels: {app: gate}}
    spec:
      containers:
        - name: gate
          image: ghcr.io/authelia/authelia:4.38.0
          env:
            - {name: AUTHELIA_SESSION_DOMAIN, value: example.org}
            - {name: X_PUBLIC_URL, value: "https://gate.example.org"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: door, namespace: edge}
spec:
  selector: {matchLabels: {app: door}}
  template:
    metadata: {labels: {app: door}}
    spec:
      containers:
        - name: door
          image: quay.io/oauth2-proxy/oauth2-proxy:v7.8.1
          env:
            - {name: OAUTH2_PROXY_OIDC_ISSUER_URL, value: "https://gate.example.org"}
---
apiVersion: k8s.keycloak.org/v2alpha1
kind: Keycloak
metadata: {name: kc, namespace: iam}
spec: {instances: 1}
"""


def inventory(root):
    write(root, "all.yaml", FIXTURE)
    fs = discover(str(root))
    docs, errors = parse_files(fs.root, fs.yaml_files)
    return build_inventory(os.path.abspath(root), docs, fs.files, fs.errors + errors)


def test_recognised_by_chart_image_and_crd_not_by_name(tmp_path):
    inv = inventory(tmp_path)
    got = {(d.product, d.label, d.via.split(":")[0]) for d in idp.registry(inv)}
    assert got == {("keycloak", "HelmRelease auth/login", "chart keycloakx"),
                   ("authelia", "Deployment edge/gate", "image ghcr.io/authelia/authelia"),
                   ("oauth2-proxy", "Deployment edge/door", "image quay.io/oauth2-proxy/oauth2-proxy"),
                   ("keycloak", "Keycloak iam/kc", "Keycloak (k8s.keycloak.org)")}


def test_targets_resolve_through_services_hosts_and_proxies(tmp_path):
    inv = inventory(tmp_path)
    r = idp.resolve(inv, "http://login-http.auth.svc.cluster.local:8080/auth", "apps", provider_of)
    assert (r.provider, r.idp.label) == ("keycloak", "HelmRelease auth/login")
    r = idp.resolve(inv, "https://gate.example.org/api/authz/forward-auth", "apps", provider_of)
    assert (r.provider, r.idp.label) == ("authelia", "Deployment edge/gate")  # host from its own settings
    r = idp.resolve(inv, "http://door.edge:4180/oauth2/auth", "apps", provider_of)
    assert (r.provider, r.proxy.label, r.idp.label) == ("authelia", "Deployment edge/door", "Deployment edge/gate")
    r = idp.resolve(inv, "door:4180", "edge", provider_of)  # a bare Service name: the referring namespace
    assert r.provider == "authelia"
    # nothing deployed answers: the target's own shape, else the host pointed at; "unknown" only for nothing
    assert idp.resolve(inv, "https://id.example.net/realms/home", "apps", provider_of).provider == "keycloak"
    assert idp.resolve(inv, "https://id.example.net/login", "apps", provider_of).provider == "id.example.net"
    assert idp.resolve(inv, "", "apps", provider_of).provider == "unknown"


def test_image_product_ignores_registry_and_tag():
    assert idp.image_product("ghcr.io/goauthentik/server:2025.2@sha256:abc") == "authentik"
    assert idp.image_product("localhost:5000/dexidp/dex:v2.41.1") == "dex"
    assert idp.image_product("docker.io/library/nginx:1.27") is None
    assert idp.image_product("ghcr.io/someone/authentik-exporter:1.0") is None  # a name is not a product
