"""Each shape the native builder claims, in a fixture repo written for it, built natively and by
kustomize: identical objects in identical order, each shape really built natively (so the
comparison is not vacuous), and a few results spelled out where kustomize's behaviour surprises."""
from __future__ import annotations

import pytest

from scanner.inventory.builder import HOW_NATIVE, BuildRequest, FluxOverlay
from tests.support.builder import build, engine, make_repo
from tests.support.flux_requests import flux_requests, kustomization_dirs
from tests.support.walk_requests import outcome_view

HELMRELEASE = """
    apiVersion: helm.toolkit.fluxcd.io/v2
    kind: HelmRelease
    metadata:
      name: web
      labels: {tier: front}
    spec:
      interval: 1h
      chart: {spec: {chart: app-template, sourceRef: {kind: OCIRepository, name: app-template}}}
      install:
        remediation: {retries: 1}
      values:
        emptied:
        explicit: null
        tilde: ~
        keep:
          a: 1
          nested:
            gone:
            stays: x
        list: [{name: a, v: 1}, {name: b}]
        hosts: [one.example.com, two.example.com]
        emptymap: {}
        emptylist: []
        flow: {empty: , kept: 1}
        flowlist: [{empty: }]
    """

FIXTURE = {
    # -- resources, components, the legacy order --------------------------------------------------
    "shapes/components/kustomization.yaml": """
        apiVersion: kustomize.config.k8s.io/v1beta1
        kind: Kustomization
        resources: [hr.yaml, ./sub]
        components: [../../components/alerts, ../../components/gen]
        """,
    "shapes/components/hr.yaml": HELMRELEASE,
    "shapes/components/sub/kustomization.yaml": "resources: [objects.yaml]\n",
    "shapes/components/sub/objects.yaml": """
        apiVersion: admissionregistration.k8s.io/v1
        kind: ValidatingWebhookConfiguration
        metadata: {name: hook}
        webhooks: []
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: zeta}
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: b}
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: a, namespace: zz}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d}
        spec: {template: {spec: {containers: [{name: c, image: busybox}]}}}
        ---
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec: {group: example.com, names: {kind: Widget, plural: widgets}, scope: Namespaced, versions: []}
        """,
    "components/alerts/kustomization.yaml": """
        apiVersion: kustomize.config.k8s.io/v1alpha1
        kind: Component
        resources: [alert.yaml]
        patches:
          - target: {kind: HelmRelease}
            patch: |
              apiVersion: helm.toolkit.fluxcd.io/v2
              kind: HelmRelease
              metadata: {name: any, annotations: {component: alerts}}
              spec: {upgrade: {cleanupOnFail: true}}
        """,
    "components/alerts/alert.yaml": """
        apiVersion: notification.toolkit.fluxcd.io/v1beta3
        kind: Alert
        metadata: {name: alerts}
        spec: {providerRef: {name: pager}, eventSources: [{kind: HelmRelease, name: '*'}]}
        """,
    "components/gen/kustomization.yaml": """
        apiVersion: kustomize.config.k8s.io/v1alpha1
        kind: Component
        configMapGenerator:
          - name: from-component
            literals: [mode=component]
        """,
    "components/extra/kustomization.yaml": """
        apiVersion: kustomize.config.k8s.io/v1alpha1
        kind: Component
        resources: [extra.yaml]
        """,
    "components/extra/extra.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\n",
    # -- generators, options, the hash and built-in name references ----------------------------
    "shapes/generators/kustomization.yaml": """
        resources: [deploy.yaml, cronjob.yaml, ingress.yaml]
        generatorOptions:
          labels: {scope: global, shared: global}
          annotations: {note: global}
        configMapGenerator:
          - name: settings
            literals: [plain=value, 'quoted="x"', "single='y'", half="z', 'with=equals=sign', empty=]
            files: [app.conf, renamed.txt=data/source.txt, blob.bin, escapes.txt]
            envs: [vars.env]
            options: {labels: {shared: local}, annotations: {local: yes-string}}
          - name: plain
            literals: [a=b]
            options: {disableNameSuffixHash: true, immutable: true}
          - name: empty
        secretGenerator:
          - name: creds
            literals: [user=admin]
            files: [long.txt]
          - name: tls
            type: kubernetes.io/tls
            literals: [tls.crt=cert, tls.key=key]
        """,
    "shapes/generators/app.conf": "[server]\nport = 8080\n",
    "shapes/generators/data/source.txt": "renamed source\n",
    "shapes/generators/escapes.txt": "<html> & \"quotes\" \x01\x08\x0c\u2603 tab\there\r\n",
    "shapes/generators/long.txt": "x" * 120 + "\n",
    "shapes/generators/vars.env": "\ufeff# comment\n  LEADING=spaces\nEMPTY=\nNOEQUALS\nQUOTED=\"kept\"\nWIN=crlf\r\n",
    "shapes/generators/deploy.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          template:
            spec:
              volumes:
                - {name: conf, configMap: {name: settings}}
                - {name: secret, secret: {secretName: creds}}
                - {name: projected, projected: {sources: [{configMap: {name: empty}}, {secret: {name: tls}}]}}
                - {name: unrelated, configMap: {name: not-generated}}
                - name: nulled
                  configMap:
              containers:
                - name: c
                  image: busybox
                  envFrom: [{configMapRef: {name: settings}}, {secretRef: {name: creds}}]
                  env:
                    - {name: A, valueFrom: {configMapKeyRef: {name: plain, key: a}}}
                    - {name: B, valueFrom: {secretKeyRef: {name: tls, key: tls.crt}}}
        """,
    "shapes/generators/cronjob.yaml": """
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: job}
        spec:
          schedule: "@daily"
          jobTemplate:
            spec:
              template:
                spec:
                  containers: [{name: c, image: busybox, envFrom: [{configMapRef: {name: settings}}]}]
        """,
    "shapes/generators/ingress.yaml": """
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          tls: [{hosts: [web.example.com], secretName: tls}]
          rules: [{host: web.example.com}]
        """,
    # -- configurations: nameReference entries for custom resources --------------------------------
    "shapes/configurations/kustomization.yaml": """
        resources: [hr.yaml]
        configMapGenerator:
          - name: values
            files: [values.yaml=values.yaml]
          - name: extra
            literals: [k=v]
        configurations: [kustomizeconfig.yaml]
        commonLabels: {app: configured}
        commonAnnotations: {generated: "true"}
        """,
    "shapes/configurations/values.yaml": "replicaCount: 2\n",
    "shapes/configurations/kustomizeconfig.yaml": """
        nameReference:
          - kind: ConfigMap
            version: v1
            fieldSpecs:
              - path: spec/valuesFrom/name
                kind: HelmRelease
              - path: spec/values/persistence/config/name
                kind: HelmRelease
        """,
    "shapes/configurations/hr.yaml": """
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {name: app}
        spec:
          valuesFrom: [{kind: ConfigMap, name: values}, {kind: Secret, name: values}]
          values:
            persistence: {config: {type: configMap, name: extra}}
        """,
    # -- the namespace transformer --------------------------------------------------------------
    "shapes/namespace/kustomization.yaml": "namespace: apps\nresources: [objects.yaml]\n",
    "shapes/namespace/objects.yaml": """
        apiVersion: v1
        kind: Namespace
        metadata: {name: placeholder, labels: {team: a}}
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: runner}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: hooks}
        spec: {ports: [{port: 443}]}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: rb}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
        subjects:
          - {kind: ServiceAccount, name: default}
          - {kind: User, name: default}
          - {kind: ServiceAccount, name: elsewhere, namespace: other}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: {name: crb}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
        subjects: [{kind: ServiceAccount, name: runner}]
        ---
        apiVersion: admissionregistration.k8s.io/v1
        kind: MutatingWebhookConfiguration
        metadata: {name: hooks}
        webhooks:
          - name: hooks.example.com
            clientConfig: {service: {name: hooks, namespace: somewhere, path: /mutate}}
        ---
        apiVersion: cert-manager.io/v1
        kind: ClusterIssuer
        metadata: {name: letsencrypt}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: {name: admin-ish}
        rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
        """,
    # -- labels, commonLabels, commonAnnotations and their field specs -----------------------
    "shapes/labels/kustomization.yaml": """
        resources: [objects.yaml]
        commonLabels: {app: web, tier: front}
        commonAnnotations: {owner: team-a}
        labels:
          - pairs: {plain: only-metadata}
          - pairs: {templated: t}
            includeTemplates: true
          - pairs: {selected: s, tier: overridden-by-commonLabels}
            includeSelectors: true
        """,
    "shapes/labels/objects.yaml": """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: nulls}
        spec:
          selector:
          template:
            metadata:
              labels:
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: claims}
        spec:
          volumeClaimTemplates:
        ---
        apiVersion: apps/v1
        kind: StatefulSet
        metadata: {name: affinity}
        spec:
          volumeClaimTemplates: [{metadata: {name: d}}, {spec: {}}]
          template:
            spec:
              affinity:
                podAffinity:
                  requiredDuringSchedulingIgnoredDuringExecution:
                    - labelSelector:
                    - labelSelector: {matchLabels: {a: b}}
                    - topologyKey: x
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: svc, labels: null, annotations: {}}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: np}
        spec:
          podSelector: {}
          ingress:
            - from: [{podSelector: {matchLabels: {z: z}}}, {namespaceSelector: {}}]
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: cj}
        spec:
          jobTemplate: {}
        ---
        apiVersion: policy/v1
        kind: PodDisruptionBudget
        metadata: {name: pdb}
        spec: {selector: {matchLabels: {x: y}}}
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: custom}
        spec: {selector: {matchLabels: {untouched: "true"}}}
        """,
    # -- patches: strategic merge, JSON 6902, selectors -------------------------------------------
    "shapes/patches/kustomization.yaml": """
        resources: [hr.yaml, widgets.yaml, ns.yaml]
        patches:
          - target: {group: helm.toolkit.fluxcd.io, kind: HelmRelease, labelSelector: "tier in (front, back), !legacy"}
            patch: |
              apiVersion: helm.toolkit.fluxcd.io/v2
              kind: HelmRelease
              metadata: {name: not-used, namespace: not-used, labels: {patched: "true"}}
              spec:
                install:
                  remediation: {retries: 3, strategy: rollback}
                  crds: CreateReplace
                values:
                  explicit: set
                  keep: {nested: {added: true}, removed: null}
                  list: [{name: replaced}]
                  fresh: {inner: {a: 1, dropped: null}}
                  nullnew: null
          - path: widget-patch.yaml
          - target: {kind: Widget, name: "w.*", annotationSelector: "team=blue"}
            patch: |-
              - op: add
                path: /spec/items/-
                value: appended
              - op: replace
                path: /spec/size
                value: 5
              - op: remove
                path: /spec/old
              - op: add
                path: /metadata/annotations/example.com~1patched
                value: "yes"
          - target: {kind: Namespace}
            patch: |
              apiVersion: v1
              kind: Namespace
              metadata:
                name: any
                labels: {pod-security.kubernetes.io/enforce: privileged}
        """,
    "shapes/patches/hr.yaml": HELMRELEASE,
    "shapes/patches/widget-patch.yaml": """
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: solo}
        spec: {colour: green}
        """,
    "shapes/patches/widgets.yaml": """
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: solo}
        spec: {colour: red, size: 1}
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w1, annotations: {team: blue}}
        spec:
          items: [a]
          size: 1
          old: x
          gone:
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w2, annotations: {team: red}}
        spec: {items: [a], size: 1, old: x}
        """,
    "shapes/patches/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: patched-ns}\n",
    # -- one patch's list given to two objects, then one of them changed: they share nothing -----
    "shapes/sharing/kustomization.yaml": """
        resources: [w.yaml]
        patches:
          - target: {kind: Widget}
            patch: |
              apiVersion: example.com/v1
              kind: Widget
              metadata: {name: x}
              spec: {items: [a], added: {list: [1]}}
          - target: {kind: Widget, name: one}
            patch: |-
              [{"op": "add", "path": "/spec/items/-", "value": "b"},
               {"op": "add", "path": "/spec/added/list/-", "value": 2}]
        """,
    "shapes/sharing/w.yaml": """
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: one}
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: two}
        """,
    # -- patch texts: an inline text is trimmed, a file's is not (one starting with a line break is
    # YAML, read as YAML 1.1 for a JSON patch); a text starting with `[` is JSON --------------------
    "shapes/patchtext/kustomization.yaml": """
        resources: [w.yaml]
        patches:
          - target: {kind: Widget}
            path: flow.txt
          - target: {kind: Widget}
            patch: |4-

                [{"op": "add", "path": "/spec/json", "value": {"yes": "y", "n": [1, "0x1F", null]}}]
          - target: {kind: Widget}
            patch: |
              - {op: add, path: /spec/yaml, value: {"y": "n", hex: 0x1F, oct: 012, t: true, s: "on"}}
        """,
    "shapes/patchtext/w.yaml": "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {a: 0}\n",
    # -- a parent patching what a child's JSON patch left (an emptied value is null by then) -------
    "shapes/chain/kustomization.yaml": """
        resources: [child]
        patches:
          - target: {kind: Widget}
            patch: |
              apiVersion: example.com/v1
              kind: Widget
              metadata: {name: x}
              spec: {size: 9}
        """,
    "shapes/chain/child/kustomization.yaml": """
        resources: [w.yaml]
        patches:
          - target: {kind: Widget}
            patch: '[{"op": "add", "path": "/spec/touched", "value": true}]'
        """,
    "shapes/chain/child/w.yaml": """
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: chained}
        spec:
          size: 1
          emptied:
          other:
        """,
    # -- YAML: anchors, merge keys, folded and multi-line scalars -------------------------------
    # -- keys in kustomize's printed order (goyaml.v2's: digit runs as numbers, letters after) ----
    "shapes/keys/kustomization.yaml": "resources: [cm.yaml]\n",
    "shapes/keys/cm.yaml": """
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: keys
          labels: {app.kubernetes.io/name: keys, app: keys, app.kubernetes.io/instance: k, a1b: x, a1_: x}
        data: {z: "", x009y: "", x09y: "", x9y: "", b10: "", b002: "", b02: "", b2: "", c1: "", c00: "",
               c0: "", c.1: "", c-1: "", aB: "", ab: "", a_: "", A: "", a: "", "10": "", "9": "", "1_": "",
               _: "", e10: "", e01x: "", e0: "", k8s: "", k8: "", NODE_RED__PORT: "", NODE_RED_ENABLE: ""}
        """,
    "shapes/yaml/kustomization.yaml": """
        resources: [hr.yaml]
        images: [{name: busybox, newTag: "1.37"}]  # no object has containers: nothing to change
        """,
    "shapes/yaml/hr.yaml": """
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {name: &app anchored}
        spec:
          values:
            defaults: &defaults {image: busybox, pull: IfNotPresent}
            first:
              <<: *defaults
              image: override
            both:
              <<: [*defaults, {pull: Always, extra: 1}]
            name: *app
            redefined: &app again
            renamed: *app
            folded: >
              one long line
              folded into one
            literal: |
              kept
                as is
            more_indented: >
              [
                one,
                  two

                three
              ]
              after
                again
            starts_indented: >2

                indented first
              then normal
            plain: a plain scalar
              over two lines
            quoted: "double \\"quoted\\"
              and \\u00e9scaped"
            single: 'it''s
              single'
            equals: =
            numbers: {octal: 0775, hex: 0x1F, binary: 0b101, under: 1_000, plus: +12, minus: -0400}
            yaml11: {a: yes, b: No, c: on, d: OFF, e: True, f: FALSE, g: Null, h: NULL}
            yes: a key only PyYAML takes for a boolean
            flow: {empty: , list: [{inner: }]}
        """,
    # -- a Flux-generated kustomization (no kustomization file) ----------------------------------
    "shapes/generated/app.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: gen}\ndata: {a: b}\n",
    "shapes/generated/nested/more.yml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: more}\n",
    # -- Flux Kustomizations: targetNamespace, patches and components from the spec -------------
    "flux/apps.yaml": """
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: components, namespace: flux-system}
        spec:
          path: ./shapes/components
          targetNamespace: media
          components: [../../components/extra]
          patches:
            - target: {group: helm.toolkit.fluxcd.io, kind: HelmRelease}
              patch: |
                apiVersion: helm.toolkit.fluxcd.io/v2
                kind: HelmRelease
                metadata: {name: not-used}
                spec:
                  upgrade: {remediation: {retries: 3}}
                  values: {emptied: again}
          sourceRef: {kind: GitRepository, name: flux-system}
        ---
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: generated, namespace: flux-system}
        spec:
          path: ./shapes/generated
          targetNamespace: gen
          sourceRef: {kind: GitRepository, name: flux-system}
        ---
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: generators, namespace: flux-system}
        spec:
          path: ./shapes/generators
          targetNamespace: apps
          sourceRef: {kind: GitRepository, name: flux-system}
        """,
}

SHAPES = ["shapes/components", "shapes/generators", "shapes/configurations", "shapes/namespace",
          "shapes/labels", "shapes/patches", "shapes/sharing", "shapes/patchtext", "shapes/keys",
          "shapes/chain", "shapes/yaml"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("shapes")
    (base / "shapes" / "generators").mkdir(parents=True)
    (base / "shapes" / "generators" / "blob.bin").write_bytes(bytes(range(256)) * 2)  # not UTF-8: binaryData
    (base / "shapes" / "patchtext").mkdir(parents=True)
    (base / "shapes" / "patchtext" / "flow.txt").write_text("\n[{op: add, path: /spec/flow, value: x}]\n")
    return make_repo(base, FIXTURE)


def test_every_shape_is_built_natively_and_exactly_as_kustomize_does(repo):
    root, files = repo
    requests = [BuildRequest(f"k:{d}", d) for d in kustomization_dirs(files) if not d.startswith("components/")]
    requests += flux_requests(root, files)
    native = engine(root, files, "native").build_many(requests)
    binary = engine(root, files, "binary").build_many(requests)
    not_native = {r.key: n.gaps[-1].message for r, n in zip(requests, native) if n.how != HOW_NATIVE}
    assert not_native == {}
    for req, n, b in zip(requests, native, binary):
        assert b.how == "kustomize", (req.key, b.errors)
        assert outcome_view(n) == outcome_view(b), req.key
        assert n.files_used == b.files_used, req.key
    assert {f"k:{s}" for s in SHAPES} <= {r.key for r in requests}


def _objects(outcome) -> dict:
    return {(o.body["kind"], o.body["metadata"]["name"]): o for o in outcome.objects}


def test_generated_objects_get_kustomizes_hash_and_references_follow(repo):
    root, files = repo
    out = build(root, files, "shapes/generators", mode="native")
    objects = _objects(out)
    names = {name for kind, name in objects if kind in ("ConfigMap", "Secret")}
    assert "plain" in names and "empty-6ct58987ht" in names  # kustomize's hash of an empty ConfigMap
    settings = next(n for n in names if n.startswith("settings-"))
    deploy = objects[("Deployment", "web")].body["spec"]["template"]["spec"]
    assert deploy["volumes"][0]["configMap"]["name"] == settings
    assert deploy["volumes"][3]["configMap"]["name"] == "not-generated"
    assert deploy["containers"][0]["env"][0]["valueFrom"]["configMapKeyRef"]["name"] == "plain"
    cm = objects[("ConfigMap", settings)]
    assert cm.generated_by == "shapes/generators/kustomization.yaml" and cm.source_path is None
    assert cm.body["metadata"]["labels"] == {"scope": "global", "shared": "local"}
    assert cm.body["data"]["quoted"] == "x" and cm.body["data"]["half"] == "\"z'"
    assert cm.body["data"]["NOEQUALS"] == "" and cm.body["data"]["WIN"] == "crlf"
    blob = cm.body["binaryData"]["blob.bin"]  # not UTF-8: base64 in kyaml's 70-character lines
    assert blob.endswith("\n") and {len(line) for line in blob.splitlines()[:-1]} == {70}


def test_a_strategic_merge_drops_empty_values_and_keeps_explicit_nulls(repo):
    root, files = repo
    hr = _objects(build(root, files, "shapes/patches", mode="native"))[("HelmRelease", "web")].body
    values = hr["spec"]["values"]
    assert "emptied" not in values and values["tilde"] is None
    assert values["flow"] == {"kept": 1} and values["flowlist"] == [{"empty": ""}]  # go-yaml: `{a: }` is ""
    assert values["explicit"] == "set"
    assert values["keep"] == {"a": 1, "nested": {"stays": "x", "added": True}}
    assert values["list"] == [{"name": "replaced"}]
    assert values["fresh"] == {"inner": {"a": 1}} and "nullnew" not in values
    assert hr["metadata"] == {"name": "web", "labels": {"tier": "front", "patched": "true"}}
    assert hr["apiVersion"] == "helm.toolkit.fluxcd.io/v2"


def test_the_namespace_transformer_renames_namespaces_and_default_subjects(repo):
    root, files = repo
    objects = _objects(build(root, files, "shapes/namespace", mode="native"))
    assert ("Namespace", "apps") in objects and ("Namespace", "placeholder") not in objects
    subjects = objects[("RoleBinding", "rb")].body["subjects"]
    assert [s.get("namespace") for s in subjects] == ["apps", "apps", "other"]
    assert objects[("ClusterRoleBinding", "crb")].body["subjects"][0]["namespace"] == "apps"  # a name reference
    hook = objects[("MutatingWebhookConfiguration", "hooks")].body["webhooks"][0]["clientConfig"]["service"]
    assert hook["namespace"] == "somewhere"  # named elsewhere: the Service here is not it
    assert objects[("ClusterIssuer", "letsencrypt")].body["metadata"]["namespace"] == "apps"  # kustomize's view


def test_labels_reach_selectors_and_templates_as_their_field_specs_say(repo):
    root, files = repo
    objects = _objects(build(root, files, "shapes/labels", mode="native"))
    svc = objects[("Service", "svc")].body
    assert svc["spec"]["selector"] == {"selected": "s", "tier": "front", "app": "web"}  # created: a Service spec
    assert svc["metadata"]["annotations"] == {"owner": "team-a"}
    assert objects[("StatefulSet", "claims")].body["spec"]["volumeClaimTemplates"] == []  # a null made a list
    assert "matchLabels" not in objects[("NetworkPolicy", "np")].body["spec"]["podSelector"]  # not created there
    assert objects[("Widget", "custom")].body["spec"]["selector"]["matchLabels"] == {"untouched": "true"}
    template = objects[("Deployment", "nulls")].body["spec"]["template"]["metadata"]["labels"]
    assert template == {"templated": "t", "selected": "s", "tier": "front", "app": "web"}


def test_a_flux_overlay_is_merged_into_the_built_kustomization(repo):
    root, files = repo
    overlay = FluxOverlay(target_namespace="media", components=("../../components/alerts",))
    out = build(root, files, "shapes/generated", FluxOverlay(target_namespace="gen"), mode="native")
    assert [(o.body["metadata"]["name"], o.body["metadata"]["namespace"], o.source_path) for o in out.objects] == [
        ("gen", "gen", "shapes/generated/app.yaml"), ("more", "gen", "shapes/generated/nested/more.yml")]
    twice = build(root, files, "shapes/components", overlay, mode="native")
    assert twice.how != HOW_NATIVE  # the component's Alert twice: kustomize refuses the build too
