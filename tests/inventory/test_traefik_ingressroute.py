"""Traefik IngressRoute CRDs are routes too: hosts from `match`, class from the annotation, Authentik
forwardAuth through their middlewares (also across namespaces)."""
from __future__ import annotations

from tests.support.scanning import scan
from tests.support.repos import flux_repo

MIDDLEWARE = """
apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {name: authentik, namespace: security}
spec:
  forwardAuth:
    address: http://ak-outpost-authentik-embedded-outpost.security.svc.cluster.local:9000/outpost.goauthentik.io/auth/traefik
    trustForwardHeader: true
"""
GUARDED = """
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata:
  name: guarded
  annotations: {kubernetes.io/ingress.class: traefik-external}
spec:
  entryPoints: [websecure]
  routes:
    - match: Host(`app.example.com`) || Host(`www.example.com`)
      kind: Rule
      middlewares: [{name: authentik, namespace: security}]
      services: [{name: app, port: 80}]
  tls: {secretName: app-tls}
"""
OPEN = """
apiVersion: traefik.io/v1alpha1
kind: IngressRoute
metadata:
  name: open
  annotations: {kubernetes.io/ingress.class: traefik-external}
spec:
  entryPoints: [web]
  routes:
    - match: Host(`open.example.com`) && PathPrefix(`/`)
      kind: Rule
      services: [{name: open, port: 80}]
"""


def _check(report, cid):
    return next(c for c in report["checks"] if c["id"] == cid)


def test_ingressroutes_are_classified_and_their_auth_recognised(tmp_path):
    flux_repo(tmp_path, {"security": {"mw.yaml": MIDDLEWARE}, "media": {"guarded.yaml": GUARDED, "open.yaml": OPEN}})
    run = scan(str(tmp_path))
    routes = {r.name: r for r in run.inventory.routes if r.kind == "IngressRoute"}
    assert routes["guarded"].hosts == ["app.example.com", "www.example.com"]
    assert routes["guarded"].tls and not routes["open"].tls
    report = run.report.to_json_dict()
    exposure = {e["host"]: e for e in report["exposure"] if e["kind"] == "IngressRoute"}
    assert exposure["open.example.com"]["exposure"] == "external"
    auth = _check(report, "authentication.authentik-fronted-routes")
    verdicts = {f["resource"]["name"]: f["status"] for f in auth["findings"] if f["resource"]}
    assert verdicts["guarded"] == "pass" and verdicts["open"] == "fail"
    fail = next(f for f in auth["findings"] if f["resource"]["name"] == "open")
    assert "middlewares" in fail["remediation"] or "middlewares" in fail["message"]
    tls = _check(report, "perimeter.external-routes-tls")
    tls_verdicts = {f["resource"]["name"]: f["status"] for f in tls["findings"] if f["resource"]}
    assert tls_verdicts["guarded"] == "pass" and tls_verdicts["open"] == "fail"
