"""Releases whose chart cannot be rendered: what their values describe, and opaque releases."""
from __future__ import annotations

from scanner.inventory.charts import ChartSettings, release_objects
from scanner.inventory.charts.fromvalues import derive
from tests.support.charts import hr, lookup_of

NO_CACHE = ChartSettings(charts_dir=None)
HELMREPO = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "HelmRepository",
            "metadata": {"name": "charts", "namespace": "apps"}, "spec": {"url": "https://charts.example.org"}}


def _run(body: dict, objects=(HELMREPO,)):
    return release_objects(body, namespace="apps", lookup=lookup_of(list(objects)), repo_root="/nonexistent",
                           repo_files=set(), settings=NO_CACHE)


def _chart(name: str) -> dict:
    return {"chart": name, "version": "1.2.3", "sourceRef": {"kind": "HelmRepository", "name": "charts"}}


def test_httproute_and_extra_objects_of_a_non_app_template_chart_come_from_values():
    body = hr("podinfo", _chart("podinfo"), values={
        "httpRoute": {"enabled": True, "hostnames": ["podinfo.example.org"],
                      "parentRefs": [{"name": "external", "namespace": "kube-system", "sectionName": "https"}],
                      "annotations": {"team": "web"}},
        "extraObjects": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra"}, "data": {"a": "b"}},
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-creds\n"
            "  namespace: {{ .Release.Namespace }}\nstringData:\n  user: {{ .Values.user }}\n",
        ],
    })
    r = _run(body)
    assert r.how == "values"
    assert [g.code for g in r.gaps] == ["helm-chart-not-cached", "helm-values-only"]
    kinds = [o["kind"] for o in r.objects]
    assert kinds == ["HTTPRoute", "ConfigMap", "Secret"]
    route, cm, secret = r.objects
    assert route["spec"]["hostnames"] == ["podinfo.example.org"]
    assert route["spec"]["parentRefs"] == [{"name": "external", "namespace": "kube-system", "sectionName": "https"}]
    assert route["spec"]["rules"][0]["backendRefs"] == [{"name": "podinfo"}]
    assert route["metadata"] == {"name": "podinfo", "namespace": "apps", "annotations": {"team": "web"}}
    assert cm["metadata"]["namespace"] == "apps"
    assert secret["metadata"] == {"name": "podinfo-creds", "namespace": "apps"}  # .Release.* evaluated
    assert secret["stringData"]["user"] == "{{ .Values.user }}"  # the rest left as text, and marked
    assert [p.templated for p in r.provenance] == [False, False, True]
    assert r.value_lines == {0: ("spec", "values", "httpRoute"), 1: ("spec", "values", "extraObjects", 0),
                             2: ("spec", "values", "extraObjects", 1)}
    assert r.provenance[0].approximate_name is True


def test_nested_component_ingresses_and_route_maps():
    values = {
        "server": {"ingress": {"enabled": True, "ingressClassName": "internal",
                               "hosts": [{"host": "argo.example.org", "paths": ["/"]}],
                               "tls": [{"hosts": ["argo.example.org"], "secretName": "argo-tls"}]}},
        "prometheus": {"route": {"main": {"enabled": True, "hostnames": ["prom.example.org"],
                                          "parentRefs": [{"name": "internal"}]}}},
        "alertmanager": {"config": {"route": {"receiver": "null", "group_by": ["job"]}}},
        "grafana": {"ingress": {"enabled": False, "hosts": ["off.example.org"]}},
        "dashboard": {"ingress": {"dashboard": {"ingressClassName": "internal", "host": {"name": "ceph.example.org"}}}},
        "sync": {"toHost": {"ingresses": {"enabled": True}}},
        "gateway": {"enabled": True, "name": "edge-gw", "listeners": {
            "websecure": {"port": 443, "protocol": "HTTPS", "namespacePolicy": {"from": "All"}, "hostname": "*.example.org"}}},
    }
    out = derive(values, "stack", "monitoring", "kube-stack", app_template=False)
    got = {(o["kind"], o["metadata"]["name"]): o for o, _ in out}
    assert set(got) == {("Ingress", "stack-kube-stack-server"), ("HTTPRoute", "stack-kube-stack-prometheus"),
                        ("Ingress", "stack-kube-stack-dashboard-dashboard"), ("Gateway", "edge-gw")}
    ing = got[("Ingress", "stack-kube-stack-server")]
    assert ing["spec"]["rules"][0]["host"] == "argo.example.org"
    assert ing["spec"]["ingressClassName"] == "internal" and ing["spec"]["tls"][0]["secretName"] == "argo-tls"
    assert got[("Ingress", "stack-kube-stack-dashboard-dashboard")]["spec"]["rules"][0]["host"] == "ceph.example.org"
    gw = got[("Gateway", "edge-gw")]["spec"]["listeners"]
    assert gw == [{"name": "websecure", "port": 443, "protocol": "HTTPS", "hostname": "*.example.org",
                   "allowedRoutes": {"namespaces": {"from": "All"}}}]


def test_raw_resources_of_app_template_are_named_as_the_library_names_them():
    values = {"controllers": {"main": {"containers": {"app": {"image": {"repository": "x"}}}}},
              "rawResources": {
                  "client": {"manifest": {"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
                                          "spec": {"secretName": "client-tls"}}},
                  "talos": {"apiVersion": "talos.dev/v1alpha1", "kind": "ServiceAccount",
                            "spec": {"spec": {"roles": ["os:admin"]}}}}}
    r = _run(hr("suc", {"chart": "app-template", "version": "4.2.0", "sourceRef": {"kind": "HelmRepository",
                                                                                     "name": "charts"}}, values=values))
    assert r.how == "values" and r.derivation == "app-template"
    assert [(o["kind"], o["metadata"]["name"], o["metadata"]["namespace"]) for o in r.objects] == [
        ("Certificate", "suc-client", "apps"), ("ServiceAccount", "suc-talos", "apps")]
    assert r.objects[1]["spec"] == {"roles": ["os:admin"]}
    assert "helm-opaque" not in [g.code for g in r.gaps]


def test_a_release_whose_values_describe_nothing_is_opaque():
    r = _run(hr("mystery-operator", _chart("mystery-operator"), values={"replicaCount": 1}))
    assert r.how == "opaque" and r.objects == []
    opaque = [g for g in r.gaps if g.code == "helm-opaque"]
    assert len(opaque) == 1
    assert "mystery-operator 1.2.3 from https://charts.example.org" in opaque[0].message
    assert "HelmRelease apps/mystery-operator" in opaque[0].message


def test_a_release_naming_an_undeployed_source_is_opaque_and_says_why():
    r = _run(hr("x", {"chart": "x", "sourceRef": {"kind": "HelmRepository", "name": "ghost"}}), objects=())
    assert r.how == "opaque"
    assert r.gaps[0].code == "helm-chart-unavailable"
    assert "HelmRepository apps/ghost is not deployed" in r.gaps[0].message


def test_values_from_a_configmap_are_derived_but_not_mapped_to_the_helmrelease_lines():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "vals", "namespace": "apps"},
          "data": {"values.yaml": "ingress:\n  enabled: true\n  hosts: [a.example.org]\n"}}
    r = _run(hr("web", _chart("web"), valuesFrom=[{"kind": "ConfigMap", "name": "vals"}]), objects=(HELMREPO, cm))
    assert [o["kind"] for o in r.objects] == ["Ingress"]
    assert r.objects[0]["spec"]["rules"][0]["host"] == "a.example.org"
    assert r.value_lines == {} and "valuesFrom[0]" in r.provenance[0].template
    assert r.values == {"ingress": {"enabled": True, "hosts": ["a.example.org"]}}
