"""The facts the Flux checklist checks stand on: semver constraints, registry hosts, FluxInstance specs
wherever they are written, controller flags, the tenancy decision, and verdicts on real repositories."""
from __future__ import annotations

from pathlib import Path

import pytest

from checks.gitops_supply_chain import cloud_of, host_of
from scanner.analysis import fluxinstance, tenancy
from scanner.analysis.versions import constraint_kind, is_semver_tag
from scanner.inventory.build import build_inventory
from scanner.sources.discover import discover
from scanner.sources.parse import parse_files
from tests.support.paths import CORPUS, ROOT
from tests.support.scanning import scan


def _inventory(path: Path):
    fs = discover(str(path))
    docs, errors = parse_files(fs.root, fs.yaml_files)
    return build_inventory(str(path), docs, fs.files, list(errors))


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.mark.parametrize("constraint,kind", [
    ("1.2.3", "exact"), ("v1.2.3", "exact"), ("2.11.2-Chart6", "exact"), ("1.2.3 || 1.3.0", "bounded"),
    (">=1.0.0 <2.0.0", "bounded"), (">= 1.0, < 2", "bounded"), ("^1.2", "bounded"), ("~1.2.3", "bounded"),
    ("2.14.*", "bounded"), ("2.x", "bounded"), ("1.2 - 1.4", "bounded"),
    ("*", "unbounded"), ("", "unbounded"), (None, "unbounded"), ("x", "unbounded"), (">=1.0.0", "unbounded"),
    (">1.0.0-0", "unbounded"), ("!=1.0.0", "unbounded"), (">=1 || 2.0.0", "unbounded"), ("latest", "unbounded"),
])
def test_constraint_kind(constraint, kind):
    assert constraint_kind(constraint) == kind


def test_semver_tags():
    assert [is_semver_tag(t) for t in ("4.4.0", "v1.5.0", "1.2.3-rc.1", "latest", "1.2", "main", "v1")] == \
        [True, True, True, False, False, False, False]


def test_registry_hosts():
    assert host_of("oci://123456789012.dkr.ecr.eu-west-1.amazonaws.com/app") == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert host_of("git@github.com:org/repo.git") == host_of("ssh://git@github.com/org/repo") == "github.com"
    assert host_of("example.azurecr.io/web:1.0") == "example.azurecr.io"
    assert cloud_of("oci://europe-west1-docker.pkg.dev/p/r/c")[0] == "gcp"
    assert cloud_of("oci://mirror.gcr.io/envoyproxy/gateway-helm")[0] == "gcp"
    assert cloud_of("oci://public.ecr.aws/x/y") is None and cloud_of("oci://ghcr.io/x") is None


def test_instance_specs_in_all_three_places(tmp_path):
    repo = _write(tmp_path / "r", {
        "flux/instance.yaml": "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\n"
                              "metadata: {name: flux, namespace: flux-system}\n"
                              "spec:\n  distribution: {version: '2.x', registry: ghcr.io/fluxcd}\n"
                              "  cluster: {networkPolicy: false}\n",
        "apps/inline/helmrelease.yaml": "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\n"
                                        "metadata: {name: flux-instance, namespace: flux-system}\nspec:\n"
                                        "  chartRef: {kind: OCIRepository, name: flux-instance}\n"
                                        "  values:\n    instance:\n      cluster: {multitenant: true}\n",
        "apps/wrapped/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                           "resources: [resourceset.yaml]\nconfigMapGenerator:\n"
                                           "  - name: flux-instance-values\n    files: [values.yaml=./values.yaml]\n",
        "apps/wrapped/resourceset.yaml": "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSet\n"
                                         "metadata: {name: flux-instance, namespace: flux-system}\nspec: {resources: []}\n",
        "apps/wrapped/values.yaml": "instance:\n  sync: {kind: OCIRepository, url: 'oci://ghcr.io/x/y', ref: latest, path: ./}\n",
    })
    inv = _inventory(repo)
    specs = {(s.subject, s.doc.path, s.base) for s in fluxinstance.instance_specs(inv)}
    assert specs == {
        ("FluxInstance flux-system/flux", "flux/instance.yaml", ("spec",)),
        ("HelmRelease flux-system/flux-instance", "apps/inline/helmrelease.yaml", ("spec", "values", "instance")),
        ("flux-instance values apps/wrapped/values.yaml", "apps/wrapped/values.yaml", ("instance",)),
    }
    (sync,) = fluxinstance.sync_sources(inv)
    assert (sync.kind, sync.namespace, sync.name, sync.ref) == ("OCIRepository", "flux-system", "flux-system", "latest")
    fi = next(s for s in fluxinstance.instance_specs(inv) if s.subject.startswith("FluxInstance"))
    assert fi.location(inv, "cluster", "networkPolicy").line == 6


def test_homelab_values_file_is_read_through_its_release():
    inv = _inventory(ROOT / "examples" / "homelab")
    (spec,) = fluxinstance.instance_specs(inv)
    assert spec.subject == "HelmRelease flux-system/flux-instance"
    assert spec.doc.path == "kubernetes/apps/flux-system/flux-instance/app/helm-values.yaml"
    assert spec.get("cluster", "networkPolicy") is True


def test_controller_flags(tmp_path):
    repo = _write(tmp_path / "r", {"instance.yaml": """apiVersion: fluxcd.controlplane.io/v1
kind: FluxInstance
metadata: {name: flux, namespace: flux-system}
spec:
  distribution: {version: '2.x', registry: ghcr.io/fluxcd}
  kustomize:
    patches:
      - target: {kind: Deployment, name: "(kustomize-controller|helm-controller)"}
        patch: |
          - op: add
            path: /spec/template/spec/containers/0/args/-
            value: --default-service-account=flux-tenant
          - op: add
            path: /spec/template/spec/containers/0/args/-
            value: --no-cross-namespace-refs=false
"""})
    flags = fluxinstance.controller_flags(_inventory(repo))
    sa = flags.enabled("default-service-account")
    assert sa.value == "flux-tenant" and sa.where.line == 12
    assert sa.controllers == ("kustomize-controller", "helm-controller")
    assert flags.enabled("no-cross-namespace-refs") is None
    assert flags.effective("no-cross-namespace-refs").value == "false"


ROOT_KS = ("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: flux-system, "
           "namespace: flux-system}\nspec: {interval: 1h, path: ./, prune: true, sourceRef: {kind: GitRepository, "
           "name: flux-system}}\n---\n")


@pytest.mark.parametrize("doc,evidence", [
    ("apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata: {name: flux, namespace: flux-system}\n"
     "spec: {distribution: {version: '2.x', registry: ghcr.io/fluxcd}, cluster: {multitenant: true}}\n",
     "sets cluster.multitenant: true"),
    ("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: team-a}\n"
     "spec: {interval: 1h, path: ./, prune: true, serviceAccountName: team-a, sourceRef: {kind: GitRepository, name: a}}\n",
     "impersonates ServiceAccount team-a"),
    ("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a, labels: {toolkit.fluxcd.io/tenant: team-a}}\n",
     "is labelled toolkit.fluxcd.io/tenant"),
    ("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: gotk-reconciler, namespace: team-a}\n"
     "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}\n"
     "subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: 'gotk:team-a:reconciler'}]\n",
     "grants Flux reconciler User gotk:team-a:reconciler"),
])
def test_tenancy_signals(tmp_path, doc, evidence):
    t = tenancy.decide(_inventory(_write(tmp_path / "r", {"all.yaml": ROOT_KS + doc})))
    assert t.multi_tenant and len(t.evidence) == 1 and evidence in t.evidence[0], t.evidence


def test_tenants_folder_is_a_signal(tmp_path):
    repo = _write(tmp_path / "r", {"root.yaml": ROOT_KS.rstrip("-\n") + "\n",
                                   "tenants/team-a/sync.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\n"
                                   "kind: GitRepository\nmetadata: {name: team-a, namespace: team-a}\n"
                                   "spec: {interval: 1h, url: 'https://github.com/example/team-a', ref: {branch: main}}\n"})
    t = tenancy.decide(_inventory(repo))
    assert t.multi_tenant and "tenants/ folder" in t.evidence[0] and t.tenant_namespaces == {"team-a"}


def test_single_tenant_says_what_it_looked_for():
    t = tenancy.decide(_inventory(ROOT / "examples" / "homelab"))
    assert not t.multi_tenant and t.evidence == []
    assert t.summary().startswith("none of: FluxInstance cluster.multitenant: true")


# ---- real repositories: findings that are true when the files are opened ----------------------------

CORPUS_NETPOL_OFF = {
    "bjw-s-labs__home-ops": ("kubernetes/apps/flux-system/flux-instance/app/helmrelease.yaml", 18),
    "dapperdivers__dapper-cluster": ("kubernetes/apps/flux-system/flux-operator/instance/helm-values.yaml", 4),
    "j0sh3rs__home-ops": ("kubernetes/apps/flux-system/flux-instance/app/helm/values.yaml", 8),
    "roblandry__home-ops": ("kubernetes/apps/flux-system/flux-instance/app/helm/values.yaml", 7),
}


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not present")
@pytest.mark.parametrize("repo", sorted(CORPUS_NETPOL_OFF))
def test_corpus_network_policy_switched_off(repo):
    report = scan(str(CORPUS / repo), only=["gitops.flux-network-policies"]).report.to_json_dict()
    (f,) = report["checks"][0]["findings"]
    assert f["status"] == "fail" and (f["location"]["path"], f["location"]["line"]) == CORPUS_NETPOL_OFF[repo]
    path, line = CORPUS_NETPOL_OFF[repo]
    assert "networkPolicy: false" in (CORPUS / repo / path).read_text().splitlines()[line - 1]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not present")
def test_corpus_oci_sync_on_a_branch_tag():
    report = scan(str(CORPUS / "xunholy__k8s-gitops"), only=["gitops.oci-immutable-ref",
                                                            "gitops.flux-network-policies"]).report.to_json_dict()
    by_id = {c["id"]: c for c in report["checks"]}
    fails = [f for f in by_id["gitops.oci-immutable-ref"]["findings"] if f["status"] == "fail"]
    assert [(f["location"]["path"], f["location"]["line"]) for f in fails] == \
        [("kubernetes/clusters/cluster-00/flux-system/flux-instance/app/values.yaml", 30)]
    assert [f["status"] for f in by_id["gitops.flux-network-policies"]["findings"]] == ["pass"]


def test_a_fluxinstance_rendered_from_a_release_is_read_once(tmp_path):
    """With the chart cache, the flux-instance chart renders a FluxInstance (`producer` names the
    release): its spec is the release's values, judged once, at the values' lines."""
    repo = _write(tmp_path / "r", {"flux.yaml": ROOT_KS + (
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: flux-instance, namespace: flux-system}\n"
        "spec:\n  chartRef: {kind: OCIRepository, name: flux-instance}\n"
        "  values:\n    instance:\n      cluster: {networkPolicy: false}\n---\n"
        "apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata: {name: flux, namespace: flux-system}\n"
        "spec:\n  cluster: {networkPolicy: false}\n")})
    inv = _inventory(repo)
    (fi,) = inv.of_kind("FluxInstance", deployed_only=False)
    assert len(fluxinstance.instance_specs(inv)) == 2  # a FluxInstance of its own is judged too
    fi.producer = "HelmRelease/flux-system/flux-instance"
    inv.__dict__.pop("_check_memo", None)
    (spec,) = fluxinstance.instance_specs(inv)
    assert spec.subject == "HelmRelease flux-system/flux-instance" and spec.base == ("spec", "values", "instance")
