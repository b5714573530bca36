"""Routes operators create from custom resources."""
from __future__ import annotations

from scanner.inventory.charts import cr_routes
from scanner.inventory.charts.crs import understood


def _grafana(spec: dict, ns: str | None = "observability") -> dict:
    md = {"name": "grafana"}
    if ns:
        md["namespace"] = ns
    return {"apiVersion": "grafana.integreatly.org/v1beta1", "kind": "Grafana", "metadata": md, "spec": spec}


def test_grafana_spec_ingress_gives_the_operators_ingress():
    cr = _grafana({"config": {"server": {"http_port": "3001"}}, "ingress": {
        "metadata": {"annotations": {"nginx.ingress.kubernetes.io/auth-url": "https://auth.example.org"}},
        "spec": {"ingressClassName": "internal",
                 "rules": [{"host": "grafana.example.org", "http": {"paths": [{
                     "path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": "grafana-service", "port": {"number": 3001}}}}]}}],
                 "tls": [{"hosts": ["grafana.example.org"], "secretName": "grafana-tls"}]}}})
    [ing] = cr_routes(cr)
    assert ing["kind"] == "Ingress" and ing["apiVersion"] == "networking.k8s.io/v1"
    assert ing["metadata"]["name"] == "grafana-ingress" and ing["metadata"]["namespace"] == "observability"
    assert ing["metadata"]["annotations"] == {"nginx.ingress.kubernetes.io/auth-url": "https://auth.example.org"}
    assert ing["spec"]["ingressClassName"] == "internal"
    assert ing["spec"]["rules"][0]["host"] == "grafana.example.org"
    assert ing["spec"]["tls"] == [{"hosts": ["grafana.example.org"], "secretName": "grafana-tls"}]
    assert ing["metadata"]["ownerReferences"][0]["kind"] == "Grafana"


def test_grafana_ingress_without_rules_creates_nothing():
    assert cr_routes(_grafana({"ingress": {"metadata": {"labels": {"a": "b"}}}})) == []


def test_grafana_v4_ingress_form():
    [ing] = cr_routes(_grafana({"ingress": {"enabled": True, "hostname": "g.example.org", "tlsEnabled": True,
                                            "tlsSecretName": "g-tls"}}, ns=None))
    assert ing["spec"]["rules"][0]["host"] == "g.example.org"
    assert ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"] == {
        "name": "grafana-service", "port": {"number": 3000}}
    assert "namespace" not in ing["metadata"]
    assert cr_routes(_grafana({"ingress": {"enabled": False, "hostname": "g.example.org"}})) == []


def test_grafana_spec_httproute_gives_the_operators_httproute():
    [route] = cr_routes(_grafana({"httpRoute": {"spec": {"hostnames": ["grafana.example.org"],
                                                         "parentRefs": [{"name": "envoy-internal",
                                                                         "namespace": "network"}]}}}))
    assert route["kind"] == "HTTPRoute" and route["metadata"]["name"] == "grafana-httproute"
    assert route["spec"]["hostnames"] == ["grafana.example.org"]
    assert route["spec"]["parentRefs"] == [{"name": "envoy-internal", "namespace": "network"}]
    assert route["spec"]["rules"] == [{"backendRefs": [{"name": "grafana-service", "port": 3000}]}]


def test_grafana_spec_route_gives_the_openshift_route():
    [route] = cr_routes(_grafana({"route": {"spec": {"host": "grafana.apps.example.org"}}}))
    assert (route["apiVersion"], route["kind"], route["metadata"]["name"]) == ("route.openshift.io/v1", "Route",
                                                                               "grafana-route")
    assert route["spec"]["host"] == "grafana.apps.example.org"
    assert route["spec"]["to"] == {"kind": "Service", "name": "grafana-service"}


def test_litellm_proxy_route():
    cr = {"apiVersion": "litellm.home-operations.com/v1alpha1", "kind": "LiteLLMProxy",
          "metadata": {"name": "litellm", "namespace": "ai"},
          "spec": {"service": {"port": 4000},
                   "route": {"hostnames": ["litellm.example.org"],
                             "parentRefs": [{"name": "envoy-external", "namespace": "network"}]}}}
    [route] = cr_routes(cr)
    assert route["kind"] == "HTTPRoute" and route["metadata"]["name"] == "litellm"
    assert route["metadata"]["namespace"] == "ai"
    assert route["spec"]["hostnames"] == ["litellm.example.org"]
    assert route["spec"]["rules"] == [{"backendRefs": [{"name": "litellm", "port": 4000}]}]
    assert understood(cr)


def test_other_objects_give_nothing():
    assert cr_routes({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}}) == []
    assert cr_routes({"apiVersion": "example.org/v1", "kind": "Grafana", "spec": {"ingress": {}}}) == []
