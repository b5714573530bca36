"""flux-operator ResourceSet expansion from fixtures shaped like the corpus's, and the Go-template
subset it renders with."""
from __future__ import annotations

import zlib
from pathlib import Path

import pytest
import yaml

from scanner.inventory.gotemplate import TemplateError, Unknown, UnknownValue, render
from scanner.inventory.resourcesets import expand
from scanner.sources.parse import parse_file
from tests.support.paths import CORPUS

OWNER = {"resourceset.fluxcd.controlplane.io/name", "resourceset.fluxcd.controlplane.io/namespace"}


def load(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def repo_of(*bodies):
    """The (kind, namespace, name) lookup and the per-namespace provider listing over `bodies`."""
    def lookup(kind, ns, name):
        return next((b for b in bodies if b["kind"] == kind and b["metadata"].get("namespace") == ns
                     and b["metadata"]["name"] == name), None)

    def providers(ns):
        return [b for b in bodies if b["kind"] == "ResourceSetInputProvider" and b["metadata"].get("namespace") == ns]
    return lookup, providers


NOTHING = repo_of()[0]


def idents(objs):
    return [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objs]


NO_INPUTS = load("""
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: flux-operator
  namespace: flux-system
spec:
  dependsOn:
    - apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      name: helmreleases.helm.toolkit.fluxcd.io
  resources:
    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: OCIRepository
      metadata:
        name: flux-operator
        namespace: flux-system
      spec:
        url: oci://ghcr.io/controlplaneio-fluxcd/charts/flux-operator
        ref:
          tag: 0.53.0
    - apiVersion: helm.toolkit.fluxcd.io/v2
      kind: HelmRelease
      metadata:
        name: flux-operator
        namespace: flux-system
      spec:
        chartRef: {kind: OCIRepository, name: flux-operator}
        valuesFrom:
          - kind: ConfigMap
            name: flux-operator-values
""")[0]

PREVIEWS = load("""
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: app-preview
  namespace: preview-system
spec:
  inputsFrom:
    - kind: ResourceSetInputProvider
      name: github-prs
  resources:
    - apiVersion: v1
      kind: Namespace
      metadata:
        name: preview-pr-<< inputs.id >>
        annotations:
          preview/pr: << inputs.id | quote >>
          preview/branch: << inputs.branch | quote >>
    - apiVersion: gateway.networking.k8s.io/v1
      kind: HTTPRoute
      metadata:
        name: app-preview
        namespace: preview-pr-<< inputs.id >>
      spec:
        hostnames:
          - << inputs.id >>.preview.example.org
    - apiVersion: external-secrets.io/v1
      kind: ExternalSecret
      metadata:
        name: auth
        namespace: preview-pr-<< inputs.id >>
      spec:
        target:
          template:
            data:
              password: "{{ .TOKEN }}"
---
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSetInputProvider
metadata:
  name: github-prs
  namespace: preview-system
spec:
  type: GitHubPullRequest
  url: https://github.com/example/repo
  filter:
    labels: ["deploy/preview"]
""")
PREVIEW_RS, PR_PROVIDER = PREVIEWS


def test_no_inputs_renders_each_resource_once():
    objs, gaps, errors = expand(NO_INPUTS, NOTHING)
    assert not gaps and not errors
    assert idents(objs) == [("OCIRepository", "flux-system", "flux-operator"), ("HelmRelease", "flux-system", "flux-operator")]
    assert objs[1]["spec"]["valuesFrom"] == [{"kind": "ConfigMap", "name": "flux-operator-values"}]
    assert objs[0]["spec"]["ref"]["tag"] == "0.53.0"
    labels = objs[0]["metadata"]["labels"]
    assert labels == {"resourceset.fluxcd.controlplane.io/name": "flux-operator",
                      "resourceset.fluxcd.controlplane.io/namespace": "flux-system"}
    assert "labels" not in NO_INPUTS["spec"]["resources"][0]["metadata"]  # the input is not modified


def test_run_time_inputs_are_a_gap_naming_the_provider():
    objs, gaps, errors = expand(PREVIEW_RS, repo_of(PR_PROVIDER)[0])
    assert objs == [] and errors == []
    assert len(gaps) == 1 and gaps[0].code == "resourceset-inputs" and gaps[0].path == ""
    assert gaps[0].subject == "ResourceSetInputProvider preview-system/github-prs (GitHubPullRequest)"
    assert "cannot be known offline" in gaps[0].message and "ResourceSet preview-system/app-preview" in gaps[0].message


def test_inline_inputs_render_and_run_time_ones_stay_a_gap():
    rs = yaml.safe_load(yaml.safe_dump(PREVIEW_RS))
    rs["spec"]["inputs"] = [{"id": "7", "branch": "feat: x"}, {"id": 8, "branch": "main"}]
    objs, gaps, errors = expand(rs, repo_of(PR_PROVIDER)[0])
    assert errors == [] and len(gaps) == 1
    assert idents(objs) == [
        ("Namespace", None, "preview-pr-7"), ("Namespace", None, "preview-pr-8"),
        ("HTTPRoute", "preview-pr-7", "app-preview"), ("HTTPRoute", "preview-pr-8", "app-preview"),
        ("ExternalSecret", "preview-pr-7", "auth"), ("ExternalSecret", "preview-pr-8", "auth"),
    ]
    assert objs[0]["metadata"]["annotations"] == {"preview/pr": "7", "preview/branch": "feat: x"}
    assert objs[1]["metadata"]["annotations"]["preview/pr"] == "8"  # quote: a string, not a number
    assert objs[2]["spec"]["hostnames"] == ["7.preview.example.org"]
    assert objs[4]["spec"]["target"]["template"]["data"]["password"] == "{{ .TOKEN }}"  # other templating untouched


TENANTS = load("""
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata:
  name: podinfo
  namespace: apps
spec:
  commonMetadata:
    labels:
      app.kubernetes.io/name: podinfo
  inputs:
    - tenant: team1
      app: {version: "6.7.x", replicas: 2}
    - tenant: team2
      app: {version: "6.6.x", replicas: 3}
  resources:
    - apiVersion: helm.toolkit.fluxcd.io/v2
      kind: HelmRelease
      metadata:
        name: podinfo-<< inputs.tenant >>
        namespace: apps
      spec:
        values:
          replicaCount: << inputs.app.replicas | int >>
        chart:
          spec:
            version: << inputs.app.version | quote >>
    - apiVersion: v1
      kind: ConfigMap
      metadata:
        name: shared
        namespace: apps
      data:
        owner: << inputs.provider.kind >>/<< inputs.provider.name >>
  resourcesTemplate: |
    <<- range $i, $env := list "dev" "prod" >>
    ---
    apiVersion: v1
    kind: Namespace
    metadata:
      name: << inputs.tenant >>-<< $env >>
      << if eq $env "dev" >>
      annotations:
        fluxcd.controlplane.io/reconcile: disabled
      << end >>
    << end >>
""")[0]


def test_inline_input_matrix_templates_dedup_exclusion_and_common_metadata():
    objs, gaps, errors = expand(TENANTS, NOTHING)
    assert not gaps and not errors
    assert idents(objs) == [
        ("HelmRelease", "apps", "podinfo-team1"), ("HelmRelease", "apps", "podinfo-team2"),
        ("ConfigMap", "apps", "shared"),  # the second input's copy is a duplicate: the first is kept
        ("Namespace", None, "team1-prod"), ("Namespace", None, "team2-prod"),  # dev ones are disabled
    ]
    assert objs[0]["spec"]["values"]["replicaCount"] == 2
    assert objs[1]["spec"]["chart"]["spec"]["version"] == "6.6.x"
    assert objs[2]["data"]["owner"] == "ResourceSet/podinfo"
    assert all(o["metadata"]["labels"]["app.kubernetes.io/name"] == "podinfo" for o in objs)
    assert all(OWNER <= set(o["metadata"]["labels"]) for o in objs)


STATIC = load("""
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSetInputProvider
metadata:
  name: cluster-info
  namespace: apps
  labels: {role: info}
spec:
  type: Static
  defaultValues:
    env: staging
    region: eu-west-1
""")[0]


def static_rs(template_name: str, strategy: str | None = None, ref: dict | None = None) -> dict:
    rs = {"apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSet",
          "metadata": {"name": "infra", "namespace": "apps"},
          "spec": {"inputsFrom": [ref or {"kind": "ResourceSetInputProvider", "name": "cluster-info"}],
                   "resources": [{"apiVersion": "v1", "kind": "ConfigMap",
                                  "metadata": {"name": template_name, "namespace": "apps"},
                                  "data": {"region": "<< inputs.region >>"}}]}}
    if strategy:
        rs["spec"]["inputStrategy"] = {"name": strategy}
        rs["spec"]["inputs"] = [{"size": "small"}]
    return rs


def test_static_provider_default_values_are_inputs():
    objs, gaps, errors = expand(static_rs("info-<< inputs.env >>"), repo_of(STATIC)[0])
    assert not gaps and not errors
    assert idents(objs) == [("ConfigMap", "apps", "info-staging")] and objs[0]["data"] == {"region": "eu-west-1"}
    # found by label selector too
    by_label = static_rs("x", ref={"kind": "ResourceSetInputProvider", "selector": {"matchLabels": {"role": "info"}}})
    lookup, providers = repo_of(STATIC)
    objs, _, errors = expand(by_label, lookup, providers=providers)
    assert not errors and idents(objs) == [("ConfigMap", "apps", "x")]
    objs, gaps, errors = expand(by_label, lookup)  # no listing: the selector cannot be resolved
    assert objs == [] and not errors and gaps[0].code == "resourceset-inputs"


def test_a_static_providers_id_comes_from_its_cluster_uid_so_its_objects_are_a_gap():
    objs, gaps, errors = expand(static_rs("info-<< inputs.id >>"), repo_of(STATIC)[0])
    assert objs == [] and not errors
    assert len(gaps) == 1 and gaps[0].code == "resourceset-unknown-input"
    assert "derived from its cluster UID" in gaps[0].message


def test_permute_scopes_inputs_by_provider_and_ids_them_as_the_operator_does():
    rs = static_rs("<< inputs.infra.size >>-<< inputs.cluster_info.env >>-<< inputs.id >>", strategy="Permute")
    rs["spec"]["resources"][0]["data"]["region"] = "<< inputs.cluster_info.region >>"
    objs, gaps, errors = expand(rs, repo_of(STATIC)[0])
    assert not gaps and not errors
    expected_id = zlib.adler32(b"infra=0/cluster_info=0")
    assert idents(objs) == [("ConfigMap", "apps", f"small-staging-{expected_id}")]
    assert objs[0]["data"] == {"region": "eu-west-1"}
    # flattened, the same scoped names do not exist
    rs["spec"]["inputStrategy"]["name"] = "Flatten"
    assert expand(rs, repo_of(STATIC)[0])[2] == ['failed to build resources[0]: map has no entry for key "cluster_info"']  # data sorts first


def test_a_missing_provider_or_a_template_error_fails_the_whole_resourceset():
    objs, gaps, errors = expand(static_rs("x"), NOTHING)
    assert objs == [] and errors == ["failed to get inputs from apps/cluster-info: no such ResourceSetInputProvider "
                                     "in the repo"]
    rs = static_rs("x")
    rs["spec"]["resources"][0]["data"]["bad"] = "<< inputs.nope >>"
    objs, gaps, errors = expand(rs, repo_of(STATIC)[0])
    assert objs == [] and errors == ['failed to build resources[0]: map has no entry for key "nope"']


def test_steps_render_in_order_and_refuse_an_object_in_two_steps():
    rs = {"apiVersion": "fluxcd.controlplane.io/v1", "kind": "ResourceSet", "metadata": {"name": "s", "namespace": "a"},
          "spec": {"steps": [
              {"name": "crds", "resources": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "one"}}]},
              {"name": "apps", "resourcesTemplate": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: two\n"}]}}
    objs, gaps, errors = expand(rs, NOTHING)
    assert not errors and idents(objs) == [("Namespace", None, "one"), ("Namespace", None, "two")]
    rs["spec"]["steps"][1]["resourcesTemplate"] = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: one\n"
    objs, gaps, errors = expand(rs, NOTHING)
    assert objs == [] and "already defined in step 'crds'" in errors[0]


def test_a_template_reading_inputs_without_any_fails():
    rs = yaml.safe_load(yaml.safe_dump(NO_INPUTS))
    rs["spec"]["resources"][0]["metadata"]["name"] = "x-<< inputs.tenant >>"
    objs, gaps, errors = expand(rs, NOTHING)
    assert objs == [] and errors == ['failed to build resource: map has no entry for key "tenant"']


def test_a_disabled_resourceset_applies_nothing_new():
    rs = yaml.safe_load(yaml.safe_dump(NO_INPUTS))
    rs["metadata"]["annotations"] = {"fluxcd.controlplane.io/reconcile": "disabled"}
    objs, gaps, errors = expand(rs, NOTHING)
    assert objs == [] and not errors and gaps[0].code == "resourceset-disabled"


@pytest.mark.parametrize("path,expected,gap", [
    ("kubernetes/clusters/cluster-00/flux-system/flux-instance/app/helmrelease.yaml",
     [("OCIRepository", "flux-system", "flux-instance"), ("HelmRelease", "flux-system", "flux-instance")], None),
    ("kubernetes/clusters/cluster-00/flux-system/flux-operator/app/helmrelease.yaml",
     [("OCIRepository", "flux-system", "flux-operator"), ("HelmRelease", "flux-system", "flux-operator")], None),
    ("kubernetes/apps/base/preview-system/app/resourceset.yaml", [],
     "ResourceSetInputProvider preview-system/github-pr-previews (GitHubPullRequest)"),
])
def test_corpus_resourcesets(path, expected, gap):
    root = CORPUS / "xunholy__k8s-gitops"
    if not root.is_dir():
        pytest.skip("../shared/corpus is not present")
    docs, _ = parse_file(str(root), path)
    providers, _ = parse_file(str(root), "kubernetes/apps/base/preview-system/app/resourcesetinputprovider.yaml")
    rs = next(d.body for d in docs if d.kind == "ResourceSet")
    ns = rs["metadata"].get("namespace") or "preview-system"  # (the preview one gets its namespace from kustomize)
    for p in providers:
        p.body["metadata"].setdefault("namespace", ns)
    objs, gaps, errors = expand(rs, repo_of(*[p.body for p in providers])[0], namespace=ns)
    assert not errors and idents(objs) == expected
    assert [g.subject for g in gaps] == ([gap] if gap else [])


# ---- the Go-template subset --------------------------------------------------------------------

INPUTS = {"id": "42", "n": 3, "f": 1.5, "none": None, "tags": ["a", "b"], "m": {"z": 1, "a": 2}, "s": 'say "hi"\n'}


def go(text: str, inputs=INPUTS) -> str:
    return render(text, {"inputs": lambda: inputs}, delims=("<<", ">>"))


@pytest.mark.parametrize("text,out", [
    ("<< inputs.id >>", "42"),
    ("<< inputs.s | quote >>", '"say \\"hi\\"\\n"'),
    ("<< inputs.n >>/<< inputs.f >>/<< inputs.none >>/<< inputs.m >>/<< inputs.tags >>", "3/1.5/<no value>/map[a:2 z:1]/[a b]"),
    ("a  <<- inputs.id ->>  b", "a42b"),
    ("<<- /* a comment */ ->> x", "x"),
    ('<< if eq inputs.n 1 >>one<< else if gt inputs.n 2 >>many<< else >>two<< end >>', "many"),
    ("<< range $k, $v := inputs.m >><< $k >>=<< $v >>;<< end >>", "a=2;z=1;"),
    ("<< range inputs.none >>x<< else >>empty<< end >>", "empty"),
    ("<< with inputs.tags >><< index . 1 >><< end >>", "b"),
    ("<< $x := inputs.id >><< $x = printf \"%s-%d\" $x 7 >><< $x >>", "42-7"),
    ("<< and inputs.id inputs.none >>|<< or inputs.none \"d\" >>|<< not inputs.none >>", "<no value>|d|true"),
    ("<< inputs.id | default \"x\" >>-<< inputs.none | default \"x\" >>", "42-x"),
    ("<< \"My App_Name\" | slugify >>", "my-app_name"),
    ("<< toYaml inputs.m | nindent 2 >>", "\n  a: 2\n  z: 1\n  "),
    ("<< (inputs).id >>", "42"),
])
def test_template_subset(text, out):
    assert go(text) == out


@pytest.mark.parametrize("text,message", [
    ("<< inputs.nope >>", 'map has no entry for key "nope"'),
    ("<< nosuch 1 >>", 'function "nosuch" not defined'),
    ('<< define "x" >><< end >>', "not supported offline"),
    ("<< if inputs.id >>unterminated", "has no end"),
    ("<< inputs.id", "unclosed action"),
    ("<< fail \"boom\" >>", "boom"),
])
def test_template_errors(text, message):
    with pytest.raises(TemplateError, match=message):
        go(text)


def test_unknown_values_raise_when_used_not_when_passed_by():
    inputs = {"id": Unknown("cluster uid"), "name": "x"}
    assert go("<< inputs.name >>", inputs) == "x"
    for text in ("<< inputs.id >>", "<< inputs.id | quote >>", "<< if inputs.id >>y<< end >>", "<< eq inputs.id 1 >>"):
        with pytest.raises(UnknownValue, match="cluster uid"):
            go(text, inputs)
