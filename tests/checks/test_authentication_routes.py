"""Authentik-fronted routes: every mechanism, passing and failing, plus allow-list and providers."""
from __future__ import annotations

import json

import pytest

from tests.support.paths import CORPUS
from tests.support.scanning import scan

OUTPOST = "ak-outpost-authentik-embedded-outpost"
AK = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: authentik, namespace: security}
spec:
  chart: {spec: {chart: authentik, sourceRef: {kind: HelmRepository, name: x}}}
  values: {global: {envFrom: [{secretRef: {name: authentik-secret}}]}}
"""
GW = """apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: envoy-external, namespace: network}
spec:
  gatewayClassName: envoy
  listeners: [{name: https, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: t}]}, allowedRoutes: {namespaces: {from: All}}}]
"""


def route(name, ns="apps", annotations="{}", filters="[]", gw="envoy-external"):
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: {name}, namespace: {ns}, annotations: {annotations}}}
spec:
  parentRefs: [{{name: {gw}, namespace: network}}]
  hostnames: [{name}.example.com]
  rules: [{{filters: {filters}, backendRefs: [{{name: {name}, port: 80}}]}}]
"""


def ingress(name, annotations="{}", cls="external"):
    return f"""apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: {name}, namespace: apps, annotations: {annotations}}}
spec:
  ingressClassName: {cls}
  tls: [{{hosts: [{name}.example.com]}}]
  rules: [{{host: {name}.example.com, http: {{paths: [{{path: /, pathType: Prefix, backend: {{service: {{name: {name}, port: {{number: 80}}}}}}}}]}}}}]
"""


def sp(name, target_kind, target, body, ns="apps"):
    return f"""apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: {{name: {name}, namespace: {ns}}}
spec:
  targetRefs: [{{group: gateway.networking.k8s.io, kind: {target_kind}, name: {target}}}]
{body}"""


EXTAUTH = f"""  extAuth:
    http: {{backendRefs: [{{name: {OUTPOST}, namespace: security, port: 9000}}], path: /outpost.goauthentik.io/auth/envoy}}
"""


def verdicts(tmp_path, docs, config=None, extra_files=None):
    root = tmp_path / "repo"
    root.mkdir(parents=True)
    # the ingress class the fixtures use is served (an unserved one makes a dead route, not an exposed one)
    # the classes and Gateways the fixtures use are served (an unserved one makes a dead route, not an exposed one)
    served = [f"apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata: {{name: {c}}}\nspec: {{controller: x/y}}\n"
              for c in ("external", "traefik-external")]
    served += [GW.replace("envoy-external", g) for g in ("envoy-external", "envoy-internal")
               if f"name: {g}, namespace: network" not in "".join(d for d in docs if "kind: Gateway\n" in d)]
    (root / "all.yaml").write_text("---\n".join(list(docs) + served))
    if config:
        (root / "posture.yaml").write_text(config)
    for rel, text in (extra_files or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    r = scan(str(root), only=["authentication"]).report.to_json_dict()
    checks = {c["id"]: c for c in r["checks"]}
    out = {f["subject"].split("/", 1)[1]: f for f in checks["authentication.authentik-fronted-routes"]["findings"]}
    return out, checks, r


def test_nginx_auth_url(tmp_path):
    ok = ("{nginx.ingress.kubernetes.io/auth-url: 'http://%s.security.svc.cluster.local:9000/outpost.goauthentik.io/auth/nginx',"
          " nginx.ingress.kubernetes.io/auth-signin: 'https://x/outpost.goauthentik.io/start'}" % OUTPOST)
    v, checks, _ = verdicts(tmp_path, [AK, ingress("good", ok), ingress("bad")])
    assert v["good"]["status"] == "pass" and v["good"]["evidence"]["mechanism"] == "nginx-auth-url"
    assert v["bad"]["status"] == "fail" and v["bad"]["severity"] == "high"
    assert "bad.example.com" in v["bad"]["message"] and "all.yaml" in v["bad"]["message"]
    assert "auth-url" in v["bad"]["remediation"]
    assert checks["authentication.authentik-outpost-exists"]["status"] == "pass"


def test_traefik_middleware_extensionref_and_annotation(tmp_path):
    mw = lambda ns: f"""apiVersion: traefik.io/v1alpha1
kind: Middleware
metadata: {{name: authentik, namespace: {ns}}}
spec: {{forwardAuth: {{address: 'http://authentik-server.security.svc.cluster.local/outpost.goauthentik.io/auth/traefik'}}}}
"""
    ext = "[{type: ExtensionRef, extensionRef: {group: traefik.io, kind: Middleware, name: authentik}}]"
    docs = [AK, mw("apps"), route("viaext", filters=ext), route("missing", filters=ext.replace("authentik}", "nope}")),
            ingress("viaann", "{traefik.ingress.kubernetes.io/router.middlewares: apps-authentik@kubernetescrd}", cls="traefik-external")]
    v, checks, _ = verdicts(tmp_path, docs)
    assert v["viaext"]["status"] == "pass" and v["viaext"]["evidence"]["mechanism"] == "traefik-forward-auth"
    assert v["viaann"]["status"] == "pass"
    assert v["missing"]["status"] == "fail" and "not found" in v["missing"]["message"]


def test_envoy_securitypolicy_route_gateway_and_app_template_alias(tmp_path):
    hr = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: media, namespace: apps}
spec:
  chart: {spec: {chart: app-template, sourceRef: {kind: HelmRepository, name: x}}}
  values:
    controllers: {media: {containers: {app: {image: {repository: x/media, tag: '1'}}}}}
    route:
      app:
        hostnames: [media.example.com]
        parentRefs: [{name: envoy-internal, namespace: network}]
"""
    docs = [AK, GW, route("direct"), sp("direct-auth", "HTTPRoute", "direct", EXTAUTH),
            hr, sp("media-auth", "HTTPRoute", "media", EXTAUTH),
            route("ongw", gw="envoy-internal"), sp("gw-auth", "Gateway", "envoy-internal", EXTAUTH, ns="network"),
            route("override", gw="envoy-internal"), sp("override", "HTTPRoute", "override", "  cors: {allowOrigins: ['*']}\n"),
            route("failopen"), sp("fo", "HTTPRoute", "failopen", EXTAUTH.replace("extAuth:\n", "extAuth:\n    failOpen: true\n"))]
    v, _, _ = verdicts(tmp_path, docs)
    assert v["direct"]["status"] == "pass"
    assert v["media"]["status"] == "pass"  # app-template route named after the release
    # no guard of its own: the Gateway-level policy covers it (mitigated, naming the policy)
    assert v["ongw"]["status"] == "mitigated" and v["ongw"]["evidence"]["guards"][0]["via"] == "gateway"
    assert v["ongw"]["mitigated_by"][0]["layer"] == "perimeter" and v["ongw"]["mitigated_by"][0]["path"] == "all.yaml"
    assert v["override"]["status"] == "fail"  # a route-level policy without auth overrides the Gateway's
    assert v["failopen"]["status"] == "fail" and "fail-open" in v["failopen"]["message"]
    assert v["ongw"]["severity"] == "medium"


KYVERNO_GEN = f"""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: gen-auth}}
spec:
  rules:
    - name: gen
      match: {{any: [{{resources: {{kinds: [HTTPRoute], annotations: {{example.org/protect: "true"}}}}}}]}}
      generate:
        apiVersion: gateway.envoyproxy.io/v1alpha1
        kind: SecurityPolicy
        name: "{{{{ request.object.metadata.name }}}}-auth"
        data:
          spec:
            targetRefs: [{{kind: HTTPRoute, name: "{{{{ request.object.metadata.name }}}}"}}]
{EXTAUTH.replace('  ', '            ', 1).replace(chr(10) + '    http', chr(10) + '              http')}"""


def test_kyverno_generate_keyed_on_annotation(tmp_path):
    docs = [AK, GW, KYVERNO_GEN, route("marked", annotations='{example.org/protect: "true"}'), route("unmarked"),
            route("syspod", ns="kube-system", annotations='{example.org/protect: "true"}')]
    v, _, _ = verdicts(tmp_path, docs)
    assert v["marked"]["status"] == "mitigated" and v["marked"]["evidence"]["guards"][0]["via"] == "kyverno-generate"
    assert v["unmarked"]["status"] == "fail"
    assert 'example.org/protect: "true"' in v["unmarked"]["remediation"]  # the repo's own style
    assert v["syspod"]["status"] == "fail" and "does not process namespace kube-system" in v["syspod"]["message"]


def test_kyverno_policy_not_deployed_does_not_count(tmp_path):
    root = tmp_path / "repo"
    docs = [AK, GW, route("marked", annotations='{example.org/protect: "true"}')]
    v, _, _ = verdicts(tmp_path, docs, extra_files={"archive/policy.yaml": KYVERNO_GEN})
    assert v["marked"]["status"] == "fail"


def test_kyverno_mutate_adds_nginx_annotations(tmp_path):
    pol = f"""apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {{name: ingress-auth}}
spec:
  rules:
    - name: auth
      match: {{any: [{{resources: {{kinds: [Ingress], annotations: {{example.org/auth: "yes"}}}}}}]}}
      mutate:
        patchStrategicMerge:
          metadata:
            annotations:
              +(nginx.ingress.kubernetes.io/auth-url): http://{OUTPOST}.security.svc.cluster.local:9000/outpost.goauthentik.io/auth/nginx
"""
    v, _, _ = verdicts(tmp_path, [AK, pol, ingress("guarded", '{example.org/auth: "yes"}'), ingress("open")])
    assert v["guarded"]["status"] == "mitigated" and v["guarded"]["evidence"]["guards"][0]["via"] == "kyverno-mutate"
    assert v["guarded"]["mitigated_by"][0]["layer"] == "policy"
    assert v["open"]["status"] == "fail"


def test_native_oidc_externalsecret_and_blueprint(tmp_path):
    es = """apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata: {name: wiki-oidc, namespace: apps}
spec:
  target:
    template:
      data: {OIDC_ISSUER_URL: "https://sso.${SECRET_DOMAIN}/application/o/wiki/", OIDC_CLIENT_ID: wiki}
"""
    bp = """apiVersion: v1
kind: ConfigMap
metadata: {name: blueprints, namespace: security}
data:
  grafana.yaml: |
    version: 1
    entries:
      - model: authentik_providers_oauth2.oauth2provider
        identifiers: {name: grafana}
        attrs:
          name: grafana
          authorization_flow: !Find [authentik_flows.flow, [slug, default-provider-authorization-implicit-consent]]
          redirect_uris: [{url: "https://grafana.example.com/login/generic_oauth", matching_mode: strict}]
"""
    v, _, _ = verdicts(tmp_path, [AK, GW, es, route("wiki"), bp, route("grafana"), route("plain")])
    assert v["wiki"]["status"] == "pass" and v["wiki"]["evidence"]["mechanism"] == "native-oidc"
    assert v["grafana"]["status"] == "pass"
    assert v["plain"]["status"] == "fail"


def test_other_providers_need_acceptance_and_public_allow_list(tmp_path):
    o2p = """  extAuth:
    http: {backendRefs: [{name: oauth2-proxy, namespace: auth, port: 80}], path: /oauth2/auth}
"""
    jwt = """  jwt:
    providers: [{name: k, issuer: "https://idm.example.com/oauth2/openid/app", remoteJWKS: {uri: "https://idm.example.com/oauth2/openid/app/public_key.jwk"}}]
"""
    docs = [AK, GW, route("o2p"), sp("o2p", "HTTPRoute", "o2p", o2p), route("kan"), sp("kan", "HTTPRoute", "kan", jwt),
            route("blog")]
    v, _, r = verdicts(tmp_path, docs)
    assert v["o2p"]["status"] == "fail" and "oauth2-proxy" in v["o2p"]["message"]
    assert v["kan"]["status"] == "fail" and "kanidm" in v["kan"]["message"]
    rows = {x["name"]: x for x in r["exposure"]}
    assert rows["o2p"]["auth_provider"] == "oauth2-proxy" and rows["kan"]["auth_mechanism"] == "envoy-jwt"
    cfg = "accepted_auth_providers: [authentik, oauth2-proxy, kanidm]\npublic_routes: [{host: blog.example.com, reason: public blog}]\n"
    v2, _, _ = verdicts(tmp_path / "b", docs, config=cfg)
    assert v2["o2p"]["status"] == "pass" and v2["kan"]["status"] == "pass"
    assert v2["blog"]["status"] == "pass" and "public blog" in v2["blog"]["message"]


def test_authentik_deployment_and_outpost(tmp_path):
    bad_ak = AK.replace("{global: {envFrom: [{secretRef: {name: authentik-secret}}]}}", "{authentik: {secret_key: hunter2hunter2}}")
    _, checks, _ = verdicts(tmp_path, [bad_ak, GW, route("x"), sp("x", "HTTPRoute", "x", EXTAUTH.replace(OUTPOST, "ak-outpost-gone"))])
    assert checks["authentication.authentik-deployed"]["status"] == "fail"
    assert checks["authentication.authentik-outpost-exists"]["status"] == "fail"


@pytest.mark.skipif(not (CORPUS / "dapperdivers__dapper-cluster").is_dir(), reason="corpus not present")
def test_target_httproute_verdicts():
    r = scan(str(CORPUS / "dapperdivers__dapper-cluster"), only=["authentication.authentik-fronted-routes"]).report.to_json_dict()
    v = {f["subject"]: f for f in r["checks"][0]["findings"]}
    assert v["HTTPRoute default/echo-server"]["status"] == "fail" and v["HTTPRoute default/echo-server"]["severity"] == "high"
    assert v["HTTPRoute media/sonarr"]["status"] == "mitigated"  # the Kyverno mutate rule adds the guard
    assert v["HTTPRoute media/sonarr"]["evidence"]["guards"][0]["via"] == "kyverno-generate"
    assert v["HTTPRoute kube-system/hubble-ui"]["status"] == "pass"
    assert v["HTTPRoute kube-system/headlamp"]["status"] == "pass"  # native OIDC via ExternalSecret template
    assert v["HTTPRoute home-automation/node-red"]["status"] == "fail"
    fails = " ".join(json.dumps(f) for f in v.values() if f["status"] == "fail")
    assert "sonarr" not in fails and "hubble" not in fails
