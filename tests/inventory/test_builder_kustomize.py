"""kustomize features the scanner used to skip, built by the real kustomize (the wheel's kubectl):
each from a fixture repo, each asserting the objects kustomize emits and the file each came from."""
from __future__ import annotations

import re

from scanner.inventory.builder import HOW_KUSTOMIZE
from tests.support.builder import build, by_id, make_repo

DEPLOY = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
            - name: web
              image: nginx:1.25
              envFrom: [{configMapRef: {name: settings}}]
    """
HELMRELEASE = """
    apiVersion: helm.toolkit.fluxcd.io/v2
    kind: HelmRelease
    metadata: {name: grafana}
    spec:
      interval: 1h
      chart: {spec: {chart: grafana, sourceRef: {kind: HelmRepository, name: grafana}}}
      values:
        replicas: 1
        ingress: {enabled: false}
    """


def test_replacements_copy_a_namespace_into_objects(tmp_path):
    root, files = make_repo(tmp_path, {
        "app/kustomization.yaml": """
            resources: [source.yaml, deploy.yaml]
            replacements:
              - source: {kind: ConfigMap, name: target, fieldPath: data.namespace}
                targets:
                  - select: {kind: Deployment}
                    fieldPaths: [metadata.namespace]
                    options: {create: true}
            """,
        "app/source.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: target}\ndata: {namespace: media}\n",
        "app/deploy.yaml": DEPLOY,
    })
    out = build(root, files, "app")
    assert out.how == HOW_KUSTOMIZE, out.errors
    objs = by_id(out)
    assert ("Deployment", "media", "web") in objs
    assert objs[("Deployment", "media", "web")].source_path == "app/deploy.yaml"
    assert {"app/kustomization.yaml", "app/source.yaml", "app/deploy.yaml"} <= out.files_used


def test_transformers_namespace_labels_and_prefix(tmp_path):
    root, files = make_repo(tmp_path, {
        "app/kustomization.yaml": """
            resources: [deploy.yaml, cm.yaml]
            transformers: [namespace.yaml, prefix.yaml]
            labels:
              - pairs: {team: media}
                includeSelectors: false
            """,
        "app/namespace.yaml": """
            apiVersion: builtin
            kind: NamespaceTransformer
            metadata: {name: ns, namespace: transformed}
            """,
        "app/prefix.yaml": """
            apiVersion: builtin
            kind: PrefixSuffixTransformer
            metadata: {name: prefix}
            prefix: pre-
            fieldSpecs: [{path: metadata/name}]
            """,
        "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
        "app/deploy.yaml": DEPLOY,
    })
    out = build(root, files, "app")
    assert out.how == HOW_KUSTOMIZE, out.errors
    objs = by_id(out)
    assert set(objs) == {("Deployment", "transformed", "pre-web"), ("ConfigMap", "transformed", "pre-settings")}
    dep = objs[("Deployment", "transformed", "pre-web")].body
    assert dep["metadata"]["labels"] == {"team": "media"}
    assert dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}  # includeSelectors: false
    # The name reference follows the prefix, as kustomize's name-reference transformer does.
    assert dep["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"] == "pre-settings"
    assert {"app/namespace.yaml", "app/prefix.yaml"} <= out.files_used


def test_components_add_objects_and_patches(tmp_path):
    root, files = make_repo(tmp_path, {
        "components/common/kustomization.yaml": """
            apiVersion: kustomize.config.k8s.io/v1alpha1
            kind: Component
            resources: [sa.yaml]
            patches:
              - target: {kind: Deployment}
                patch: |
                  - op: add
                    path: /spec/template/spec/serviceAccountName
                    value: common
            """,
        "components/common/sa.yaml": "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: common}\n",
        "app/kustomization.yaml": "namespace: apps\nresources: [deploy.yaml]\ncomponents: [../components/common]\n",
        "app/deploy.yaml": DEPLOY,
    })
    out = build(root, files, "app")
    objs = by_id(out)
    assert objs[("ServiceAccount", "apps", "common")].source_path == "components/common/sa.yaml"
    assert objs[("Deployment", "apps", "web")].body["spec"]["template"]["spec"]["serviceAccountName"] == "common"


def test_strategic_merge_and_json6902_patches_on_helmrelease_values(tmp_path):
    root, files = make_repo(tmp_path, {
        "app/kustomization.yaml": """
            resources: [helmrelease.yaml]
            patchesStrategicMerge: [values-patch.yaml]
            patches:
              - target: {kind: HelmRelease, name: grafana}
                patch: |
                  - op: replace
                    path: /spec/values/ingress/enabled
                    value: true
                  - op: add
                    path: /spec/values/ingress/hosts
                    value: [grafana.example.com]
            """,
        "app/values-patch.yaml": """
            apiVersion: helm.toolkit.fluxcd.io/v2
            kind: HelmRelease
            metadata: {name: grafana}
            spec:
              dependsOn: [{name: kube-prometheus-stack}]
              values: {replicas: 3}
            """,
        "app/helmrelease.yaml": HELMRELEASE,
    })
    out = build(root, files, "app")
    assert out.how == HOW_KUSTOMIZE, out.errors
    hr = by_id(out)[("HelmRelease", None, "grafana")].body
    assert hr["spec"]["values"] == {"replicas": 3, "ingress": {"enabled": True, "hosts": ["grafana.example.com"]}}
    assert hr["spec"]["dependsOn"] == [{"name": "kube-prometheus-stack"}]
    assert "app/values-patch.yaml" in out.files_used


def test_generators_hash_suffixes_and_options(tmp_path):
    root, files = make_repo(tmp_path, {
        "app/kustomization.yaml": """
            namespace: apps
            resources: [deploy.yaml]
            configMapGenerator:
              - name: settings
                files: [config/app.conf]
                literals: [MODE=prod]
            secretGenerator:
              - name: creds
                envs: [creds.env]
            """,
        "app/config/app.conf": "listen 8080\n",
        "app/creds.env": "USER=admin\n",
        "app/deploy.yaml": DEPLOY,
        "fixed/kustomization.yaml": """
            generatorOptions:
              disableNameSuffixHash: true
              labels: {generated: "yes"}
            configMapGenerator:
              - name: fixed
                literals: [A=1]
            """,
    })
    out = build(root, files, "app")
    assert out.how == HOW_KUSTOMIZE, out.errors
    cms = [o for o in out.objects if o.body["kind"] == "ConfigMap"]
    assert len(cms) == 1
    cm = cms[0]
    assert re.fullmatch(r"settings-[245-9bcdfghkmt]{10}", cm.body["metadata"]["name"])
    assert cm.body["data"] == {"app.conf": "listen 8080\n", "MODE": "prod"}
    assert cm.source_path is None and cm.generated_by == "app/kustomization.yaml"
    secret = next(o for o in out.objects if o.body["kind"] == "Secret")
    assert re.fullmatch(r"creds-[245-9bcdfghkmt]{10}", secret.body["metadata"]["name"])
    dep = by_id(out)[("Deployment", "apps", "web")].body
    assert dep["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]["name"] == cm.body["metadata"]["name"]
    assert {"app/config/app.conf", "app/creds.env"} <= out.files_used

    fixed = build(root, files, "fixed")
    (obj,) = fixed.objects
    assert obj.body["metadata"]["name"] == "fixed"
    assert obj.body["metadata"]["labels"] == {"generated": "yes"}


def test_v1_list_kinds_become_their_items(tmp_path):
    root, files = make_repo(tmp_path, {
        "app/kustomization.yaml": "namespace: apps\nresources: [list.yaml, cmlist.yaml]\n",
        "app/list.yaml": """
            apiVersion: v1
            kind: List
            items:
              - {apiVersion: v1, kind: ConfigMap, metadata: {name: one}}
              - {apiVersion: rbac.authorization.k8s.io/v1, kind: Role, metadata: {name: reader}, rules: []}
            """,
        "app/cmlist.yaml": """
            apiVersion: v1
            kind: ConfigMapList
            items:
              - {apiVersion: v1, kind: ConfigMap, metadata: {name: two}}
            """,
    })
    out = build(root, files, "app")
    assert set(by_id(out)) == {("ConfigMap", "apps", "one"), ("Role", "apps", "reader"), ("ConfigMap", "apps", "two")}
    assert by_id(out)[("Role", "apps", "reader")].source_path == "app/list.yaml"
