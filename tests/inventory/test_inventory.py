"""Inventory: Flux entry point, deployed marking, effective namespaces, patches, derivation."""
from __future__ import annotations

from tests.support.scanning import scan
from tests.support.repos import flux_repo, write

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ignored}
spec:
  template:
    spec:
      containers: [{name: web, image: "ghcr.io/example/web:1.0.0"}]
"""


def _inv(root):
    return scan(str(root)).inventory


def test_targetnamespace_beats_kustomize_namespace_beats_metadata(tmp_path):
    flux_repo(tmp_path, {"media": {"deploy.yaml": DEPLOYMENT}})
    inv = _inv(tmp_path)
    dep = inv.find("Deployment", "web")[0]
    assert dep.namespace == "media" and dep.deployed
    assert dep.flux_kustomization == "media/media-app"
    # The Namespace object named `_` is renamed by the enclosing kustomize `namespace:`.
    assert {r.name for r in inv.of_kind("Namespace")} == {"media"}
    # Flux Kustomizations themselves take the outer kustomize namespace.
    assert inv.find("Kustomization", "media-app")[0].namespace == "media"


def test_outermost_kustomize_namespace_wins(tmp_path):
    write(tmp_path, "outer/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: outer\nresources: [../inner]\n")
    write(tmp_path, "inner/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: inner\nresources: [cm.yaml]\n")
    write(tmp_path, "inner/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: meta}\n")
    write(tmp_path, "flux/ks.yaml", """
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: flux-system, namespace: flux-system}
        spec: {path: ./outer, sourceRef: {kind: GitRepository, name: flux-system}}
        """)
    inv = _inv(tmp_path)
    assert inv.entry.found and "gotk-sync" in inv.entry.kind
    cm = [r for r in inv.of_kind("ConfigMap")]
    assert [(r.name, r.namespace) for r in cm] == [("cm", "outer")]


def test_not_deployed_files_are_marked(tmp_path):
    flux_repo(tmp_path, {"media": {"deploy.yaml": DEPLOYMENT}})
    write(tmp_path, "kubernetes/apps/media/old/app/deploy.yaml", DEPLOYMENT.replace("web", "old"))
    write(tmp_path, ".archive/thing/deploy.yaml", DEPLOYMENT.replace("web", "archived"))
    # A commented-out entry leaves its tree on disk but not deployed.
    kfile = tmp_path / "kubernetes/apps/media/kustomization.yaml"
    kfile.write_text(kfile.read_text().replace("resources: [./namespace.yaml, ./app/ks.yaml]",
                                               "resources:\n  - ./namespace.yaml\n  - ./app/ks.yaml\n  # - ./old/app/deploy.yaml\n"))
    inv = _inv(tmp_path)
    assert inv.find("Deployment", "web")[0].deployed
    assert inv.find("Deployment", "old") == [] and not inv.find("Deployment", "old", deployed_only=False)[0].deployed
    assert not inv.find("Deployment", "archived", deployed_only=False)[0].deployed
    assert "kubernetes/apps/media/old/app/deploy.yaml" not in inv.deployed_files


def test_parent_patches_reach_children_and_substitutions_resolve_names(tmp_path):
    flux_repo(tmp_path, {"media": {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${APP}-config\n"}})
    ks = tmp_path / "kubernetes/flux/cluster/ks.yaml"
    ks.write_text(ks.read_text() + """  patches:
    - patch: |-
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: not-used}
        spec:
          decryption: {provider: sops, secretRef: {name: sops-age}}
      target: {group: kustomize.toolkit.fluxcd.io, kind: Kustomization}
""")
    inv = _inv(tmp_path)
    child = inv.find("Kustomization", "media-app")[0]
    assert child.body["spec"]["decryption"]["provider"] == "sops"
    assert "decryption" not in child.doc.body["spec"], "the document itself is not modified"
    assert inv.find("ConfigMap", "media-app-config", "media")


def test_no_entry_point_is_said_and_every_flux_kustomization_is_a_root(tmp_path):
    write(tmp_path, "apps/ks.yaml", """
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: apps, namespace: flux-system}
        spec: {path: ./apps/app, targetNamespace: web, sourceRef: {kind: GitRepository, name: flux-system}}
        """)
    write(tmp_path, "apps/app/deploy.yaml", DEPLOYMENT)
    run = scan(str(tmp_path))
    report = run.report.to_json_dict()
    assert report["scan"]["entry_point"]["found"] is False
    assert "no Flux entry point" in report["scan"]["entry_point"]["note"]
    # the repository root is read as one generated build, so the Flux Kustomization in it is followed
    [root] = run.inventory.roots
    assert root.implicit and root.path == ""
    assert run.inventory.find("Deployment", "web", "web")[0].deployed


APP_TEMPLATE_V3 = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: demo}
spec:
  chart:
    spec: {chart: app-template, version: 3.7.3, sourceRef: {kind: HelmRepository, name: bjw-s}}
  values:
    defaultPodOptions:
      securityContext: {runAsNonRoot: true, runAsUser: 1000}
    controllers:
      main:
        pod:
          hostNetwork: true
        containers:
          main:
            image: {repository: ghcr.io/example/demo, tag: 1.2.3}
            env:
              TZ: Europe/Paris
              PASS: {valueFrom: {secretKeyRef: {name: demo-db, key: password}}}
            envFrom: [{secretRef: {name: demo-secret}}]
        initContainers:
          init:
            image: {repository: busybox, tag: latest}
      worker:
        type: cronjob
        containers:
          job:
            image: {repository: ghcr.io/example/job, tag: 2.0.0@sha256:abc}
    ingress:
      main:
        className: external
        hosts: [{host: "{{ .Release.Name }}.example.com", paths: [{path: /, service: {identifier: main, port: http}}]}]
    persistence:
      config: {existingClaim: demo-config}
      host: {type: hostPath, hostPath: /var/run/docker.sock}
"""

APP_TEMPLATE_V4_OCI = """
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: app-template}
spec: {url: oci://ghcr.io/bjw-s-labs/helm/app-template, ref: {tag: 4.4.0}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: other}
spec:
  chartRef: {kind: OCIRepository, name: app-template}
  values:
    controllers:
      other:
        serviceAccount: {identifier: other}
        containers:
          app:
            image: {repository: ghcr.io/example/other, tag: 1.0.0}
            securityContext: {privileged: true}
    route:
      app:
        hostnames: [other.example.com]
        parentRefs: [{name: internal, namespace: network}]
        annotations: {authentik.home.arpa/forward-auth: "true"}
"""


def test_app_template_v3_derivation(tmp_path):
    flux_repo(tmp_path, {"media": {"hr.yaml": APP_TEMPLATE_V3}})
    inv = _inv(tmp_path)
    ws = {w.name: w for w in inv.workloads}
    assert set(ws) == {"demo-main", "demo-worker"}
    main = ws["demo-main"]
    assert main.kind == "Deployment" and main.namespace == "media" and main.source == "app-template"
    assert main.pod["hostNetwork"] is True and main.pod["securityContext"]["runAsUser"] == 1000
    assert main.pod["automountServiceAccountToken"] is True  # chart default before v5
    c = {c.name: c for c in main.containers}
    assert c["main"].spec["image"] == "ghcr.io/example/demo:1.2.3"
    assert {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "demo-db", "key": "password"}}} in c["main"].spec["env"]
    assert c["init"].init and c["init"].spec["image"] == "busybox:latest"
    assert ws["demo-worker"].kind == "CronJob"
    vols = {v["name"]: v for v in main.pod["volumes"]}
    assert vols["host"]["hostPath"]["path"] == "/var/run/docker.sock"
    assert vols["config"]["persistentVolumeClaim"]["claimName"] == "demo-config"
    # Lines point into the HelmRelease values.
    line = inv.line_of(main.resource, main.pod_paths["hostNetwork"])
    text = (tmp_path / main.resource.path).read_text().splitlines()
    assert "hostNetwork" in text[line - 1]
    route = inv.routes[0]
    assert route.kind == "Ingress" and route.hosts == ["demo.example.com"] and route.ingress_class == "external"


def test_app_template_v4_via_oci_chartref(tmp_path):
    flux_repo(tmp_path, {"media": {"hr.yaml": APP_TEMPLATE_V4_OCI}})
    inv = _inv(tmp_path)
    hr = inv.find("HelmRelease", "other")[0]
    assert inv.chart(hr).name == "app-template" and inv.chart(hr).version == "4.4.0"
    (w,) = inv.workloads
    assert w.name == "other" and w.pod["serviceAccountName"] == "other-other"
    line = inv.line_of(w.resource, w.containers[0].path + ("securityContext", "privileged"))
    assert "privileged: true" in (tmp_path / hr.path).read_text().splitlines()[line - 1]
    (r,) = inv.routes
    assert r.kind == "HTTPRoute" and r.parent_refs[0]["name"] == "internal" and r.name == "other"


def test_app_template_v5_does_not_mount_token_by_default(tmp_path):
    flux_repo(tmp_path, {"media": {"hr.yaml": APP_TEMPLATE_V4_OCI.replace("4.4.0", "5.1.0")}})
    (w,) = _inv(tmp_path).workloads
    assert w.pod["automountServiceAccountToken"] is False


def test_shared_component_instantiated_per_namespace(tmp_path):
    write(tmp_path, "components/common/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources: [./cm.yaml]\n")
    write(tmp_path, "components/common/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\n")
    flux_repo(tmp_path, {"a": {"x.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"},
                         "b": {"y.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n"}})
    for ns in ("a", "b"):
        k = tmp_path / f"kubernetes/apps/{ns}/kustomization.yaml"
        k.write_text(k.read_text() + "components: [../../../components/common]\n")
    inv = _inv(tmp_path)
    assert sorted(r.namespace for r in inv.find("ConfigMap", "shared")) == ["a", "b"]


def test_label_selectors_equality_and_set_based():
    from scanner.core.selectors import label_selector_matches as m

    labels = {"app": "web", "tier": "front"}
    assert m("app=web,tier in (front, back)", labels)
    assert not m("app=web,tier notin (front)", labels)
    assert m("substitution.flux.home.arpa/disabled notin (true)", labels)
    assert not m("substitution.flux.home.arpa/disabled notin (true)", dict(labels, **{"substitution.flux.home.arpa/disabled": "true"}))
    assert m("!missing,app", labels) and not m("app!=web", labels) and not m("missing", labels)


def test_helmrelease_values_from_a_generated_configmap_file(tmp_path):
    """`valuesFrom` a configMapGenerator's values.yaml: the workload is derived and its lines point
    into values.yaml, while its identity stays the HelmRelease's."""
    hr = """
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: vals}
spec:
  chart: {spec: {chart: app-template, version: 4.4.0, sourceRef: {kind: HelmRepository, name: bjw-s}}}
  valuesFrom:
    - {kind: ConfigMap, name: vals-values}
  values:
    defaultPodOptions: {hostNetwork: true}
"""
    flux_repo(tmp_path, {"media": {"hr.yaml": hr}})
    app = tmp_path / "kubernetes/apps/media/app/resources"
    (app / "values.yaml").write_text(
        "controllers:\n  vals:\n    containers:\n      app:\n        image: {repository: ghcr.io/x/vals, tag: 1.0.0}\n"
        "        securityContext:\n          privileged: true\n")
    k = app / "kustomization.yaml"
    k.write_text(k.read_text() + "configMapGenerator:\n  - name: vals-values\n    files: [values.yaml=./values.yaml]\n")
    inv = _inv(tmp_path)
    (w,) = inv.workloads
    assert (w.name, w.namespace, w.resource.kind, w.resource.name) == ("vals", "media", "HelmRelease", "vals")
    assert w.pod["hostNetwork"] is True, "spec.values are merged on top of the file's values"
    assert w.resource.path.endswith("values.yaml")
    line = inv.line_of(w.resource, w.containers[0].path + ("securityContext", "privileged"))
    assert line == 7


def test_multi_cluster_repo_has_a_root_per_cluster(tmp_path):
    for cluster in ("staging", "production"):
        write(tmp_path, f"clusters/{cluster}/flux-system/gotk-sync.yaml", f"""
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: {{name: flux-system, namespace: flux-system}}
            spec: {{path: ./clusters/{cluster}/apps, sourceRef: {{kind: GitRepository, name: flux-system}}}}
            """)
        write(tmp_path, f"clusters/{cluster}/apps/cm.yaml", f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {cluster}-cm, namespace: default}}\n")
    write(tmp_path, ".archive/clusters/old/gotk-sync.yaml", """
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {name: flux-system, namespace: flux-system}
        spec: {path: ./.archive/clusters/old/apps, sourceRef: {kind: GitRepository, name: flux-system}}
        """)
    write(tmp_path, ".archive/clusters/old/apps/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: old-cm, namespace: default}\n")
    inv = _inv(tmp_path)
    assert inv.find("ConfigMap", "staging-cm") and inv.find("ConfigMap", "production-cm")
    assert not inv.find("ConfigMap", "old-cm"), "an archived sync is not a root"
    assert [r.name for r in inv.roots] == ["production", "staging"]
    assert {r.cluster for r in inv.resources if r.deployed and r.kind == "ConfigMap"} == {"production", "staging"}
