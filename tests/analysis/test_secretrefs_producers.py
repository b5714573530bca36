"""Every controller that makes a Secret from something in the repo is a producer: a Secret it makes is
never flagged by secrets.externalsecret-coverage."""
from __future__ import annotations

import os

from checks.secrets import externalsecret_coverage
from scanner.analysis import secretrefs
from scanner.core.model import Document, Resource
from scanner.inventory.model import build_inventory
from scanner.sources.discover import discover
from scanner.sources.parse import parse_files
from tests.support.sops import add_app_file, make_repo

APP = "kubernetes/apps/demo/app"


def deploy(*secrets: str) -> str:
    env = "".join(f"            - name: S{i}\n              valueFrom: {{secretKeyRef: {{name: {s}, key: k}}}}\n"
                  for i, s in enumerate(secrets))
    return ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n"
            "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n        - name: web\n"
            "          image: nginx:1.27\n          env:\n" + env)


def inventory(root):
    fs = discover(str(root))
    docs, errors = parse_files(fs.root, fs.yaml_files)
    return build_inventory(os.path.abspath(root), docs, fs.files, fs.errors + errors)


def verdicts(inv) -> dict:
    return {f.subject: f for f in externalsecret_coverage(inv, {"producers": []})}


def test_operator_custom_resources_produce_their_documented_secrets(tmp_path):
    r = make_repo(tmp_path / "repo")
    add_app_file(r, "deploy.yaml", deploy("pg-app", "pg-superuser", "rook-ceph-mon", "maria-root", "grafana-admin-credentials",
                                          "bucket", "tuppr", "pg-other"))
    add_app_file(r, "crs.yaml", """apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: pg}
spec: {instances: 1}
---
apiVersion: ceph.rook.io/v1
kind: CephCluster
metadata: {name: ceph}
spec: {external: {enable: true}}
---
apiVersion: k8s.mariadb.com/v1alpha1
kind: MariaDB
metadata: {name: maria}
spec:
  rootPasswordSecretKeyRef: {name: maria-root, key: password, generate: true}
---
apiVersion: grafana.integreatly.org/v1beta1
kind: Grafana
metadata: {name: grafana}
spec: {}
---
apiVersion: objectbucket.io/v1alpha1
kind: ObjectBucketClaim
metadata: {name: bucket}
spec: {generateBucketName: b, storageClassName: s3}
---
apiVersion: talos.dev/v1alpha1
kind: ServiceAccount
metadata: {name: tuppr}
spec: {roles: ["os:etcd:backup"]}
""")
    got = verdicts(inventory(r))
    kinds = {s.split("/")[-1]: (f.status, f.evidence.get("producer", {}).get("kind")) for s, f in got.items()}
    assert kinds["pg-app"] == ("pass", "Cluster operator")
    assert kinds["pg-superuser"] == ("pass", "Cluster operator")
    assert kinds["rook-ceph-mon"] == ("pass", "CephCluster operator")
    assert kinds["maria-root"] == ("pass", "MariaDB operator")
    assert kinds["grafana-admin-credentials"] == ("pass", "Grafana operator")
    assert kinds["bucket"] == ("pass", "ObjectBucketClaim operator")
    assert kinds["tuppr"] == ("pass", "Talos ServiceAccount")
    # a name the operator does not make is not produced by it
    assert kinds["pg-other"][0] == "fail"


def test_mariadb_ref_without_generate_is_not_produced(tmp_path):
    r = make_repo(tmp_path / "repo")
    add_app_file(r, "deploy.yaml", deploy("maria-root"))
    add_app_file(r, "maria.yaml", "apiVersion: k8s.mariadb.com/v1alpha1\nkind: MariaDB\nmetadata: {name: maria}\n"
                                  "spec:\n  rootPasswordSecretKeyRef: {name: maria-root, key: password}\n")
    assert verdicts(inventory(r))["Secret demo/maria-root"].status == "fail"


def _built(inv, doc_path: str, body: dict, how: str, producer: str | None = None) -> Resource:
    """An object as the real-kustomize / chart inventory holds it: a generator output is a document of
    its kustomization (index -1), a chart's object names the HelmRelease that renders it."""
    doc = Document(doc_path, 1, -1 if how == "kustomize" else 0, body)
    res = Resource(doc=doc, namespace="demo", name=body["metadata"]["name"], deployed=True, how=how,
                   producer=producer, cluster="main")
    inv.add(res)
    return res


def test_generated_and_rendered_secrets_are_producers(tmp_path):
    r = make_repo(tmp_path / "repo")
    add_app_file(r, "deploy.yaml", deploy("app-env-5f2k9h7b8c", "chart-made", "app-env"))
    kz = r / APP / "kustomization.yaml"
    kz.write_text(kz.read_text() + "secretGenerator:\n  - name: app-env\n    envs: [app.env]\n")
    (r / APP / "app.env").write_text("A=1\n")
    inv = inventory(r)
    before = verdicts(inv)
    # today's inventory reads the generator from the kustomization file
    assert before["Secret demo/app-env"].evidence["producer"]["kind"] == "kustomize secretGenerator"
    _built(inv, f"{APP}/kustomization.yaml", {"apiVersion": "v1", "kind": "Secret",
                                               "metadata": {"name": "app-env-5f2k9h7b8c", "namespace": "demo"}}, "kustomize")
    _built(inv, "kubernetes/apps/demo/app/helmrelease.yaml", {"apiVersion": "v1", "kind": "Secret",
                                                               "metadata": {"name": "chart-made", "namespace": "demo"}},
           "helm", producer="HelmRelease/demo/chart")
    got = verdicts(inv)
    gen = got["Secret demo/app-env-5f2k9h7b8c"]
    assert (gen.status, gen.evidence["producer"]["kind"]) == ("pass", "kustomize secretGenerator")
    assert gen.evidence["producer"]["path"] == f"{APP}/kustomization.yaml"
    chart = got["Secret demo/chart-made"]
    assert (chart.status, chart.evidence["producer"]["kind"]) == ("pass", "Secret rendered from HelmRelease/demo/chart")
    # once the build's output is held, the unhashed entry name is no producer: a reference to it would
    # not find the Secret kustomize made (its name carries the content hash)
    assert got["Secret demo/app-env"].status == "fail"
    assert [p.name for p in secretrefs.secret_producers(inv) if p.kind == "kustomize secretGenerator"] == \
        ["app-env-5f2k9h7b8c"]
