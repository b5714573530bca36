"""`posture inventory`: the listed objects exactly (kind, namespace, name, source, how known), the
gaps, the rendered manifests without Secret values, determinism, and exit 3 when nothing can be
deployed. Every repository is a fixture written here; builds use the real kustomize."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.support.repos import write

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "reports" / "schema" / "inventory" / "inventory.schema.json").read_text())
PLANTED = "PlantedInventoryValue-4k2Q"


def posture(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def listing(repo: Path, *args: str) -> dict:
    out = posture("inventory", str(repo), "--format", "json", *args)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, SCHEMA)
    return doc


def objects(doc: dict) -> set[tuple]:
    """(cluster, producer, kind, namespace, name, source file, how known); a build by the real kustomize
    and one by the exact native subset are both "built" (which one ran depends on the kustomization)."""
    return {(o["cluster"], o["producer"], o["kind"], o["namespace"], o["name"], o["source"]["path"],
             "built" if o["how"] in ("kustomize", "native") else o["how"])
            for c in doc["clusters"] for o in c["objects"]}


def _flux_root(repo: Path, sync_path: str = "kubernetes/flux/cluster", name: str = "instance.yaml") -> None:
    write(repo, f"{sync_path.rsplit('/', 1)[0]}/{name}", f"""
        apiVersion: fluxcd.controlplane.io/v1
        kind: FluxInstance
        metadata: {{name: flux, namespace: flux-system}}
        spec:
          distribution: {{version: "2.5.1", registry: ghcr.io/fluxcd}}
          sync: {{kind: GitRepository, url: "https://github.com/example/ops", ref: refs/heads/main, path: {sync_path}}}
        """)


def _ks(repo: Path, rel: str, name: str, path: str, extra: str = "") -> None:
    write(repo, rel, f"""
        apiVersion: kustomize.toolkit.fluxcd.io/v1
        kind: Kustomization
        metadata: {{name: {name}, namespace: flux-system}}
        spec:
          interval: 30m
          path: {path}
          prune: true
          sourceRef: {{kind: GitRepository, name: flux-system}}
        """ + extra)


DEPLOY = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {{name: {name}}}
    spec:
      selector: {{matchLabels: {{app: {name}}}}}
      template:
        metadata: {{labels: {{app: {name}}}}}
        spec: {{containers: [{{name: app, image: "ghcr.io/example/{name}:1.0"}}]}}
    """


def test_a_plain_kustomization_without_flux_is_listed_as_one_build(tmp_path):
    write(tmp_path, "kustomization.yaml", "resources: [deploy.yaml]\nnamespace: tools\n")
    write(tmp_path, "deploy.yaml", DEPLOY.format(name="web"))
    doc = listing(tmp_path)
    assert objects(doc) == {("cluster", "Kustomization/flux-system/flux-system", "Deployment", "tools", "web",
                             "deploy.yaml", "built")}
    assert doc["clusters"][0]["root"]["implicit"] is True


def test_flux_target_namespace_substitution_component_generated_configmap_and_remote_gap(tmp_path):
    _flux_root(tmp_path)
    _ks(tmp_path, "kubernetes/flux/cluster/apps.yaml", "apps", "./kubernetes/apps/web", """
          targetNamespace: web
          components: [../../components/labels]
          postBuild:
            substitute: {APP_NAME: whoami, DOMAIN: example.org}
        """)
    write(tmp_path, "kubernetes/apps/web/kustomization.yaml", """
        resources:
          - ./deploy.yaml
          - https://github.com/example/remote-base//deploy?ref=v1.2.3
        configMapGenerator:
          - name: web-settings
            literals: [MODE=fast]
        """)
    write(tmp_path, "kubernetes/apps/web/deploy.yaml", """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: ${APP_NAME}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec: {containers: [{name: app, image: "ghcr.io/example/web:1.0"}]}
        """)
    write(tmp_path, "kubernetes/components/labels/kustomization.yaml", """
        apiVersion: kustomize.config.k8s.io/v1alpha1
        kind: Component
        labels: [{pairs: {team: web}}]
        """)
    doc = listing(tmp_path)
    got = objects(doc)
    producer = "Kustomization/flux-system/apps"
    assert ("cluster", producer, "Deployment", "web", "whoami", "kubernetes/apps/web/deploy.yaml", "built") in got
    generated = [o for c in doc["clusters"] for o in c["objects"] if o["kind"] == "ConfigMap"]
    assert [(o["namespace"], o["name"].startswith("web-settings-"), o["source"]["path"]) for o in generated] == [
        ("web", True, "kubernetes/apps/web/kustomization.yaml")]
    assert ("cluster", "Kustomization/flux-system/flux-system", "Kustomization", "flux-system", "apps",
            "kubernetes/flux/cluster/apps.yaml", "built") in got
    remote = [g for g in doc["gaps"] if g["code"] == "remote-resource"]
    assert [(g["path"], g["subject"]) for g in remote] == [
        ("kubernetes/apps/web/kustomization.yaml", "https://github.com/example/remote-base//deploy?ref=v1.2.3")]
    rendered = posture("inventory", str(tmp_path), "--rendered", "--kind", "Deployment")
    [dep] = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    assert dep["metadata"]["labels"]["team"] == "web"  # the component applied
    assert dep["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"] == "apps"


def test_app_template_release_is_listed_and_its_workload_derived_from_values(tmp_path):
    _flux_root(tmp_path)
    _ks(tmp_path, "kubernetes/flux/cluster/apps.yaml", "media", "./kubernetes/apps/media", "  targetNamespace: media\n")
    write(tmp_path, "kubernetes/apps/media/helmrelease.yaml", """
        apiVersion: helm.toolkit.fluxcd.io/v2
        kind: HelmRelease
        metadata: {name: jellyfin}
        spec:
          chartRef: {kind: OCIRepository, name: app-template}
          values:
            controllers:
              jellyfin:
                containers:
                  app: {image: {repository: ghcr.io/example/jellyfin, tag: 1.0.0}}
        """)
    doc = listing(tmp_path)
    assert ("cluster", "Kustomization/flux-system/media", "HelmRelease", "media", "jellyfin",
            "kubernetes/apps/media/helmrelease.yaml", "built") in objects(doc)
    assert not [g for g in doc["gaps"] if g["code"] == "opaque-chart"]  # app-template: derived, not opaque


def test_two_clusters_are_kept_apart(tmp_path):
    for cluster in ("main", "utility"):
        _flux_root(tmp_path, f"kubernetes/{cluster}/flux/cluster")
        _ks(tmp_path, f"kubernetes/{cluster}/flux/cluster/apps.yaml", "apps", f"./kubernetes/{cluster}/apps",
            "  targetNamespace: media\n")
        write(tmp_path, f"kubernetes/{cluster}/apps/deploy.yaml", DEPLOY.format(name=f"{cluster}-web"))
    doc = listing(tmp_path)
    assert [c["name"] for c in doc["clusters"]] == ["main", "utility"]
    by_cluster = {c["name"]: {(o["kind"], o["namespace"], o["name"]) for o in c["objects"] if o["kind"] == "Deployment"}
                  for c in doc["clusters"]}
    assert by_cluster == {"main": {("Deployment", "media", "main-web")},
                          "utility": {("Deployment", "media", "utility-web")}}
    only = listing(tmp_path, "--cluster-root", "utility")
    assert [c["name"] for c in only["clusters"]] == ["utility"]


def test_rendered_output_never_holds_a_secret_value_and_runs_are_byte_identical(tmp_path):
    _flux_root(tmp_path)
    _ks(tmp_path, "kubernetes/flux/cluster/apps.yaml", "apps", "./kubernetes/apps", "  targetNamespace: demo\n")
    b64 = base64.b64encode(PLANTED.encode()).decode()
    write(tmp_path, "kubernetes/apps/secret.yaml", f"""
        apiVersion: v1
        kind: Secret
        metadata: {{name: plain}}
        data: {{token: {b64}}}
        stringData: {{password: {PLANTED}}}
        """)
    write(tmp_path, "kubernetes/apps/deploy.yaml", DEPLOY.format(name="worker"))
    first = posture("inventory", str(tmp_path), "--rendered")
    second = posture("inventory", str(tmp_path), "--rendered")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert PLANTED not in first.stdout and b64 not in first.stdout
    docs = [d for d in yaml.safe_load_all(first.stdout) if d]
    [secret] = [d for d in docs if d["kind"] == "Secret"]
    assert secret["data"] == {"token": "REDACTED"} and secret["stringData"] == {"password": "REDACTED"}
    a = posture("inventory", str(tmp_path), "--format", "json").stdout
    assert a == posture("inventory", str(tmp_path), "--format", "json").stdout and PLANTED not in a


def test_a_templated_root_exits_3_naming_root_and_root_fixes_it(tmp_path):
    write(tmp_path, "kubernetes/flux/instance.yaml", """
        apiVersion: fluxcd.controlplane.io/v1
        kind: FluxInstance
        metadata: {name: flux, namespace: flux-system}
        spec:
          sync: {kind: GitRepository, url: "https://github.com/example/ops", path: "${CLUSTER_SYNC_PATH}"}
        """)
    write(tmp_path, "kubernetes/flux/cluster/deploy.yaml", DEPLOY.format(name="web").replace("name: web}", "name: web, namespace: web}", 1))
    out = posture("inventory", str(tmp_path), "--format", "json")
    assert out.returncode == 3 and "--root" in out.stderr
    gaps = json.loads(out.stdout)["gaps"]
    assert [(g["code"], g["subject"]) for g in gaps] == [("root-unresolved", "${CLUSTER_SYNC_PATH}")]
    fixed = listing(tmp_path, "--root", "kubernetes/flux/cluster")
    assert {(o["kind"], o["namespace"], o["name"]) for c in fixed["clusters"] for o in c["objects"]} == {
        ("Deployment", "web", "web")}


def test_table_and_filters(tmp_path):
    _flux_root(tmp_path)
    _ks(tmp_path, "kubernetes/flux/cluster/apps.yaml", "apps", "./kubernetes/apps", "  targetNamespace: demo\n")
    write(tmp_path, "kubernetes/apps/deploy.yaml", DEPLOY.format(name="worker"))
    table = posture("inventory", str(tmp_path), "--format", "table")
    assert table.returncode == 0
    assert "Kustomization/flux-system/apps" in table.stdout
    assert any(line.split()[:3] == ["Deployment", "demo", "worker"] for line in table.stdout.splitlines())
    only_ks = listing(tmp_path, "--ks", "apps", "--kind", "Deployment")
    assert [(o["kind"], o["name"]) for c in only_ks["clusters"] for o in c["objects"]] == [("Deployment", "worker")]
    unseen = listing(tmp_path, "--unseen")
    assert all(c["objects"] == [] for c in unseen["clusters"])


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_yaml_and_json_carry_the_same_document(tmp_path, fmt):
    _flux_root(tmp_path)
    _ks(tmp_path, "kubernetes/flux/cluster/apps.yaml", "apps", "./kubernetes/apps", "  targetNamespace: demo\n")
    write(tmp_path, "kubernetes/apps/deploy.yaml", DEPLOY.format(name="worker"))
    out = posture("inventory", str(tmp_path), "--format", fmt)
    doc = yaml.safe_load(out.stdout) if fmt == "yaml" else json.loads(out.stdout)
    jsonschema.validate(doc, SCHEMA)


def test_committed_inventory_schema_is_generated_from_the_model_and_closed():
    """The committed schema is what `python -m reports.inventory --schema` prints, and every object in it
    closes its fields (a consumer can rely on no field appearing unannounced)."""
    from reports import inventory as inv_report

    assert json.loads(json.dumps(inv_report.schema())) == SCHEMA, \
        "regenerate: python -m reports.inventory --schema > reports/schema/inventory/inventory.schema.json"

    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield node
            for v in node.values():
                yield from objects(v)
        elif isinstance(node, list):
            for v in node:
                yield from objects(v)

    found = list(objects(SCHEMA))
    assert found and all(o.get("additionalProperties") is False for o in found)


def test_a_root_native_mode_cannot_build_exits_3_naming_the_build_and_the_mode(tmp_path):
    """The root is found but `--kustomize native` cannot build it exactly (a float: kustomize's JSON
    round trip rewrites it): nothing is deployed, and the message says which build and which flag,
    never "no Flux root was found"."""
    _flux_root(tmp_path)
    write(tmp_path, "kubernetes/flux/cluster/kustomization.yaml", "resources: [cm.yaml]\n")
    write(tmp_path, "kubernetes/flux/cluster/cm.yaml", """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: settings, namespace: apps}
        data: {ratio: "1.5"}
        spec: {ratio: 1.5}
        """)
    out = posture("inventory", str(tmp_path), "--format", "json", "--kustomize", "native")
    assert out.returncode == 3
    assert "no Flux root" not in out.stderr and "--kustomize auto" in out.stderr
    assert "kubernetes/flux/cluster" in out.stderr
    assert posture("inventory", str(tmp_path), "--format", "json").returncode == 0
