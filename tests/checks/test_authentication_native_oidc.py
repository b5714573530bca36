"""Native OIDC is credited to the controller that has it, not to every route of its HelmRelease."""
from __future__ import annotations

from tests.support.scanning import scan
from tests.support.repos import write

BASE = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: authentik, namespace: security}
spec:
  chart: {spec: {chart: authentik, sourceRef: {kind: HelmRepository, name: authentik}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: internal, namespace: network}
spec:
  gatewayClassName: envoy
  listeners: [{name: https, protocol: HTTPS, port: 443, allowedRoutes: {namespaces: {from: All}}}]
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: media-web, namespace: apps}
spec:
  secretStoreRef: {kind: ClusterSecretStore, name: vault}
  target:
    name: media-web-oidc
    template:
      data:
        OIDC_ISSUER: https://sso.example.org/application/o/media/
        OIDC_CLIENT_SECRET: "{{ .secret }}"
  dataFrom: [{extract: {key: media}}]
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: media, namespace: apps}
spec:
  chartRef: {kind: OCIRepository, name: app-template}
  values:
    controllers:
      web:
        containers:
          app:
            image: {repository: ghcr.io/example/media, tag: 1.0.0}
            envFrom: [{secretRef: {name: media-web-oidc}}]
      worker:
        containers:
          app:
            image: {repository: ghcr.io/example/media-worker, tag: 1.0.0}
    service:
      web: {controller: web, ports: {http: {port: 80}}}
      worker: {controller: worker, ports: {http: {port: 9000}}}
    route:
      web:
        parentRefs: [{name: internal, namespace: network}]
        hostnames: [media.example.org]
        rules: [{backendRefs: [{identifier: web, port: 80}]}]
      worker:
        parentRefs: [{name: internal, namespace: network}]
        hostnames: [media-jobs.example.org]
        rules: [{backendRefs: [{name: media-worker, port: 9000}]}]
"""


def test_oidc_in_one_controllers_secret_guards_only_its_route(tmp_path):
    write(tmp_path, "all.yaml", BASE)
    report = scan(str(tmp_path), only=["authentication.authentik-fronted-routes"]).report.to_json_dict()
    got = {f["subject"]: f for f in report["checks"][0]["findings"]}
    web = got["HTTPRoute apps/media-web"]
    assert web["status"] == "pass" and "ExternalSecret apps/media-web" in web["message"]
    assert web["evidence"]["guards"][0]["identity_provider"]["provider"] == "authentik"
    worker = got["HTTPRoute apps/media-worker"]
    assert worker["status"] == "fail" and worker["evidence"]["guards"] == []


def test_one_controller_keeps_the_whole_release(tmp_path):
    text = BASE.replace("      worker:\n        containers:\n          app:\n"
                        "            image: {repository: ghcr.io/example/media-worker, tag: 1.0.0}\n", "")
    text = text.replace("      worker: {controller: worker, ports: {http: {port: 9000}}}\n", "")
    write(tmp_path, "all.yaml", text.replace("media-worker, port: 9000", "media-web, port: 80"))
    report = scan(str(tmp_path), only=["authentication.authentik-fronted-routes"]).report.to_json_dict()
    assert {f["status"] for f in report["checks"][0]["findings"]} == {"pass"}
