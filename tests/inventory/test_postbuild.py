"""Flux's wiring around envsubst (kustomize_varsub.go), and the repo's strict-substitution setting."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scanner.inventory.fluxstrict import strict_for_version, strict_substitution
from scanner.inventory.postbuild import (
    Substitution, settings_for, substitute_all, substitute_object, to_flux_yaml,
)
from scanner.sources.discover import discover
from scanner.sources.parse import parse_files
from tests.support.paths import CORPUS


def ks(post: dict | None, namespace: str = "flux-system") -> dict:
    spec = {"path": "./apps", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}}
    if post is not None:
        spec["postBuild"] = post
    return {"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "apps", "namespace": namespace}, "spec": spec}


CONFIGMAPS = {
    ("flux-system", "cluster-settings"): {"kind": "ConfigMap", "data": {"DOMAIN": "example.org\n", "PORT": "8080",
                                                                        "TZ": "UTC"}},
    ("flux-system", "overrides"): {"kind": "ConfigMap", "data": {"TZ": "Europe/Paris"}},
    ("other", "cluster-settings"): {"kind": "ConfigMap", "data": {"DOMAIN": "wrong.example"}},
}


def cm(ns, name):
    return CONFIGMAPS.get((ns, name))


def secret_unknown_keys(ns, name):
    return name == "cluster-secrets"


def secret_with_keys(ns, name):
    return {"TOKEN", "DOMAIN"} if name == "cluster-secrets" else False


def settings(post, *, strict=False, secrets=secret_unknown_keys, namespace="flux-system") -> Substitution:
    return settings_for(ks(post, namespace), cm, secrets, strict)


# ---- settings_for ------------------------------------------------------------------------------


def test_sources_in_order_then_inline_overrides_and_newlines_removed():
    sub = settings({"substituteFrom": [{"kind": "ConfigMap", "name": "cluster-settings"},
                                       {"kind": "ConfigMap", "name": "overrides"}],
                    "substitute": {"PORT": "9090", "APP": "web\nserver"}})
    assert sub.variables == {"DOMAIN": "example.org", "PORT": "9090", "TZ": "Europe/Paris", "APP": "webserver"}
    assert sub.enabled and not sub.errors and not sub.unreadable and not sub.opaque_sources


def test_configmaps_are_looked_up_in_the_kustomizations_own_namespace():
    sub = settings({"substituteFrom": [{"kind": "ConfigMap", "name": "cluster-settings"}]}, namespace="other")
    assert sub.variables == {"DOMAIN": "wrong.example"}


def test_missing_sources():
    sub = settings({"substituteFrom": [{"kind": "ConfigMap", "name": "absent", "optional": True},
                                       {"kind": "Secret", "name": "absent-secret", "optional": True},
                                       {"kind": "ConfigMap", "name": "cluster-settings"}]})
    assert not sub.errors and sub.variables["TZ"] == "UTC"
    sub = settings({"substituteFrom": [{"kind": "ConfigMap", "name": "absent"}]})
    assert sub.errors == ["substitute from 'ConfigMap/absent' error: no ConfigMap flux-system/absent in the repo"]
    assert sub.missing == ["ConfigMap/flux-system/absent"]  # (a build not made yet may still deploy it)
    sub = settings({"substituteFrom": [{"kind": "Secret", "name": "absent"}]})
    assert sub.errors and "Secret/absent" in sub.errors[0]


def test_secret_values_are_never_read_only_their_names():
    asked = []

    def lookup(ns, name):
        asked.append((ns, name))
        return {"TOKEN", "DOMAIN"}

    sub = settings_for(ks({"substituteFrom": [{"kind": "ConfigMap", "name": "cluster-settings"},
                                              {"kind": "Secret", "name": "cluster-secrets"}],
                           "substitute": {"TOKEN": "inline-wins"}}), cm, lookup, False)
    assert asked == [("flux-system", "cluster-secrets")]
    assert sub.unreadable == {"DOMAIN"}  # the Secret comes later than the ConfigMap: its DOMAIN wins
    assert "DOMAIN" not in sub.variables and sub.variables["TOKEN"] == "inline-wins"


def test_enabled_only_with_variables_or_substitute_strategy_always():
    assert not settings(None).enabled
    assert not settings({}).enabled
    assert not settings({"substituteFrom": [{"kind": "ConfigMap", "name": "absent", "optional": True}]}).enabled
    assert settings({"substituteStrategy": "Always"}).enabled
    assert settings({"substituteFrom": [{"kind": "Secret", "name": "cluster-secrets"}]}).enabled


def test_invalid_variable_names_fail_the_kustomization():
    CONFIGMAPS[("flux-system", "dashed")] = {"data": {"my-var": "x", "ok_var": "y"}}
    try:
        sub = settings({"substituteFrom": [{"kind": "ConfigMap", "name": "dashed"}]})
    finally:
        del CONFIGMAPS[("flux-system", "dashed")]
    assert sub.errors == ["'my-var' var name is invalid, must match '^[_[:alpha:]][_[:alpha:][:digit:]]*$' "
                          "(from ConfigMap/dashed)"]
    assert settings({"substitute": {"1ABC": "x"}}).errors
    assert settings({"substitute": {"PORT": 8080}}).errors  # a non-string value: the API server refuses it


# ---- substitute_object -------------------------------------------------------------------------

SERVICE = yaml.safe_load("""
apiVersion: v1
kind: Service
metadata:
  name: ${APP:=web}
  namespace: apps
  annotations:
    external-dns.alpha.kubernetes.io/hostname: ${APP:=web}.${DOMAIN}
spec:
  ports:
    - port: ${PORT}
      name: http
  note: "${UNDEFINED_THING}"
""")


def test_types_change_after_substitution_and_undefined_become_empty_but_are_reported():
    sub = settings({"substituteFrom": [{"kind": "ConfigMap", "name": "cluster-settings"}]})
    out = substitute_object(SERVICE, sub)
    assert out.error is None
    assert out.body["metadata"]["name"] == "web"
    assert out.body["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"] == "web.example.org"
    assert out.body["spec"]["ports"][0]["port"] == 8080  # "${PORT}" became an integer
    assert out.body["spec"]["note"] is None  # "" parsed back as YAML: null, as Flux's YAMLToJSON does
    assert out.undefined == {"UNDEFINED_THING"} and out.unreadable == frozenset()
    assert list(out.body) == list(SERVICE)  # the document's key order is kept
    assert SERVICE["metadata"]["name"] == "${APP:=web}"  # the input is not modified


def test_strict_mode_fails_the_kustomization_on_an_undefined_variable():
    sub = settings({"substituteFrom": [{"kind": "ConfigMap", "name": "cluster-settings"}]}, strict=True)
    out = substitute_object(SERVICE, sub)
    assert out.error.startswith("post build failed for 'Service/apps/${APP:=web}': envsubst error: "
                                'variable not set (strict mode): "UNDEFINED_THING"')
    assert out.undefined == {"UNDEFINED_THING"} and out.body is SERVICE


def test_secret_variables_stay_as_written_and_never_become_empty():
    for lookup in (secret_unknown_keys, secret_with_keys):
        sub = settings({"substituteFrom": [{"kind": "Secret", "name": "cluster-secrets"}],
                        "substitute": {"PORT": "8080"}}, strict=True, secrets=lookup)
        out = substitute_object(SERVICE, sub)
        assert out.error is None if lookup is secret_unknown_keys else out.error is not None
    sub = settings({"substituteFrom": [{"kind": "Secret", "name": "cluster-secrets"}]}, secrets=secret_unknown_keys)
    out = substitute_object(SERVICE, sub)
    # the Secret's keys are unknown: any name no readable source defines may be one of them
    assert out.body["metadata"]["annotations"]["external-dns.alpha.kubernetes.io/hostname"] == "${APP:=web}.${DOMAIN}"
    assert out.body["spec"]["ports"][0]["port"] == "${PORT}"
    assert out.unreadable == {"APP", "DOMAIN", "PORT", "UNDEFINED_THING"} and out.undefined == frozenset()
    # with the Secret's key names known, a name it lacks is plainly undefined
    sub = settings({"substituteFrom": [{"kind": "Secret", "name": "cluster-secrets"}],
                    "substitute": {"PORT": "1"}}, secrets=secret_with_keys)
    out = substitute_object(SERVICE, sub)
    assert out.unreadable == {"DOMAIN"} and out.undefined == {"UNDEFINED_THING"}


def test_disabled_by_label_or_annotation():
    sub = settings({"substitute": {"PORT": "1"}})
    for key in ("labels", "annotations"):
        obj = {"kind": "ConfigMap", "metadata": {"name": "grafana-dash", key: {
            "kustomize.toolkit.fluxcd.io/substitute": "disabled"}}, "data": {"d.json": "${datasource} ${arr[@]}"}}
        out = substitute_object(obj, sub)
        assert out.body is obj and out.error is None and not out.unresolved


def test_a_shell_script_breaks_the_whole_kustomization():
    sub = settings({"substitute": {"PORT": "1"}})
    script = {"kind": "ConfigMap", "metadata": {"name": "scripts", "namespace": "apps"},
              "data": {"run.sh": "#!/bin/sh\nfor x in ${arr[@]}; do echo $x; done\n"}}
    result = substitute_all([SERVICE, script], sub)
    assert result.failed and len(result.errors) == 1
    assert result.errors[0].startswith("post build failed for 'ConfigMap/apps/scripts': envsubst error: "
                                       "missing closing brace")


def test_escapes_nested_defaults_and_block_scalars():
    sub = settings({"substitute": {"B": "bee", "HOST": "h.example"}})
    obj = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {
        "nested": "${A:-${B}}", "escaped": "$${HOME}", "script": "echo ${HOST}\necho $${USER} $$\n",
        "url": "https://${HOST}/path"}}
    out = substitute_object(obj, sub)
    assert out.body["data"] == {"nested": "bee", "escaped": "${HOME}", "script": "echo h.example\necho ${USER} $\n",
                                "url": "https://h.example/path"}


def test_a_value_that_breaks_the_yaml_is_an_error():
    sub = settings({"substitute": {"V": "a: b"}})
    out = substitute_object({"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "${V}"}}, sub)
    assert out.error and "YAMLToJSON" in out.error


def test_objects_without_a_dollar_are_returned_untouched():
    sub = settings({"substitute": {"V": "1"}})
    obj = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "plain"}}
    assert substitute_object(obj, sub).body is obj


def test_serialisation_is_sorted_unfolded_and_literal_for_multiline():
    long = " ".join(["word"] * 100)
    text = to_flux_yaml({"b": long, "a": "one\ntwo\n", "c": "8080", "d": "${X}"})
    assert text.splitlines()[0] == "a: |"
    assert f"b: {long}\n" in text  # one line, however long
    assert "c: '8080'" in text and "d: ${X}" in text


# ---- strictness --------------------------------------------------------------------------------


@pytest.mark.parametrize("constraint,strict", [
    ("2.x", True), ("2.9.0", True), ("v2.9.4", True), ("2.9.x", True), (">=2.5.0", True), ("^2.3", True),
    ("2.6.4", False), ("2.8.x", False), ("2.8", False), ("~2.8.1", False), ("<2.9.0", False),
    ("<=2.9.0", True), (">=2.3.0 <2.9.0", False), ("2", True), ("garbage!", None),
])
def test_version_constraints(constraint, strict):
    assert strict_for_version(constraint) is strict


def repo(tmp_path: Path, files: dict[str, str]):
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    docs, errors = parse_files(str(tmp_path), sorted(files))
    assert not errors
    return docs


FLUX_INSTANCE = """apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata:
  name: flux
  namespace: flux-system
spec:
  distribution:
    version: "{version}"
    registry: ghcr.io/fluxcd
{artifact}"""


@pytest.mark.parametrize("version,artifact,strict", [
    ("2.6.4", "", False),
    ("2.x", "", True),
    ("2.x", "    artifact: oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests:v0.52.0\n", False),
    ("2.x", "    artifact: oci://ghcr.io/controlplaneio-fluxcd/flux-operator-manifests:v0.53.0\n", True),
    ("2.9.1", "", True),
])
def test_strictness_from_a_flux_instance(tmp_path, version, artifact, strict):
    docs = repo(tmp_path, {"clusters/main/flux.yaml": FLUX_INSTANCE.format(version=version, artifact=artifact)})
    got, ev = strict_substitution(docs)
    assert got is strict
    assert (ev.path, ev.line) == ("clusters/main/flux.yaml", 8)


def test_an_explicit_gate_decides_over_the_version(tmp_path):
    docs = repo(tmp_path, {
        "flux/instance/values.yaml": """instance:
  distribution:
    version: 2.9.4
  kustomize:
    patches:
      - patch: |
          - op: add
            path: /spec/template/spec/containers/0/args/-
            value: --concurrent=5
          - op: add
            path: /spec/template/spec/containers/0/args/-
            value: --feature-gates=OOMWatch=true,StrictPostBuildSubstitutions=false
        target:
          kind: Deployment
          name: kustomize-controller
""",
    })
    strict, ev = strict_substitution(docs)
    assert not strict
    assert (ev.path, ev.line) == ("flux/instance/values.yaml", 12)
    assert "StrictPostBuildSubstitutions=false" in ev.reason


def test_a_kustomization_patch_turns_the_gate_on_for_an_old_flux(tmp_path):
    docs = repo(tmp_path, {
        "clusters/main/flux-system/gotk-components.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: kustomize-controller
  namespace: flux-system
spec:
  template:
    spec:
      containers:
        - name: manager
          image: ghcr.io/fluxcd/kustomize-controller:v1.5.1
""",
        "clusters/main/flux-system/kustomization.yaml": """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [gotk-components.yaml]
patches:
  - patch: |
      - op: add
        path: /spec/template/spec/containers/0/args/-
        value: --feature-gates=StrictPostBuildSubstitutions=true
    target:
      kind: Deployment
      name: kustomize-controller
""",
    })
    strict, ev = strict_substitution(docs)
    assert strict and (ev.path, ev.line) == ("clusters/main/flux-system/kustomization.yaml", 8)


@pytest.mark.parametrize("tag,strict", [("v1.8.2", False), ("v1.9.0", True)])
def test_strictness_from_gotk_components_image_tags(tmp_path, tag, strict):
    docs = repo(tmp_path, {"flux-system/gotk-components.yaml": f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: kustomize-controller
spec:
  template:
    spec:
      containers:
        - name: manager
          image: ghcr.io/fluxcd/kustomize-controller:{tag}
"""})
    got, ev = strict_substitution(docs)
    assert got is strict and (ev.path, ev.line) == ("flux-system/gotk-components.yaml", 10)


def test_a_helmrelease_of_the_flux_instance_chart(tmp_path):
    docs = repo(tmp_path, {"flux/hr.yaml": """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: flux-instance
spec:
  values:
    instance:
      distribution:
        version: 2.7.x
"""})
    assert strict_substitution(docs)[0] is False


def test_nothing_found_assumes_the_current_default(tmp_path):
    docs = repo(tmp_path, {"a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"})
    strict, ev = strict_substitution(docs)
    assert strict and ev.path is None and "assuming" in ev.reason


def test_conflicting_gates_take_the_opt_out(tmp_path):
    docs = repo(tmp_path, {"a.yaml": "args: ['--feature-gates=StrictPostBuildSubstitutions=true']\n",
                           "b.yaml": "args: ['--feature-gates=StrictPostBuildSubstitutions=false']\n"})
    strict, ev = strict_substitution(docs)
    assert not strict and ev.path == "b.yaml" and "a.yaml:1" in ev.reason


CORPUS_STRICT = {
    "j0sh3rs__home-ops": (True, "kubernetes/apps/flux-system/flux-instance/app/helm/values.yaml", 5),
    "roblandry__home-ops": (False, "kubernetes/apps/flux-system/flux-instance/app/helm/values.yaml", 5),
    "bjw-s-labs__home-ops": (True, "kubernetes/apps/flux-system/flux-instance/app/helmrelease.yaml", 16),
    "dapperdivers__dapper-cluster": (False, "kubernetes/apps/flux-system/flux-operator/instance/helm-values.yaml", 104),
    # no version: the chart's default 2.x, from flux-operator-manifests v0.53.0 (the first with Flux 2.9.0)
    "xunholy__k8s-gitops": (True, "kubernetes/clusters/cluster-00/flux-system/flux-instance/app/values.yaml", 4),
}


@pytest.mark.parametrize("name", sorted(CORPUS_STRICT))
def test_corpus_repos_strictness(name):
    root = CORPUS / name
    if not root.is_dir():
        pytest.skip("../shared/corpus is not present")
    docs, _ = parse_files(str(root), discover(str(root)).yaml_files)
    strict, ev = strict_substitution(docs)
    assert (strict, ev.path, ev.line) == CORPUS_STRICT[name]
