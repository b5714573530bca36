"""Secret consumers vs producers (secrets.externalsecret-coverage) and ExternalSecret hygiene."""
from __future__ import annotations

import pytest

from tests.support.scanning import scan
from tests.support.sops import add_app_file, make_repo

CID = "secrets.externalsecret-coverage"


def _results(repo, cid=CID):
    report = scan(str(repo), only=[cid]).report.to_json_dict()
    c = next(c for c in report["checks"] if c["id"] == cid)
    assert c["error"] is None, c["error"]
    return {f["subject"]: f for f in c["findings"]}


def es(name, target=None, ns=None):
    md = f"{{name: {name}{', namespace: ' + ns if ns else ''}}}"
    t = f"  target: {{name: {target}}}\n" if target else ""
    return (f"apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {md}\nspec:\n"
            f"  secretStoreRef: {{kind: ClusterSecretStore, name: vault}}\n  refreshInterval: 1h\n{t}"
            f"  dataFrom: [{{extract: {{key: {name}}}}}]\n")


DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      imagePullSecrets: [{name: pull-secret}]
      containers:
        - name: web
          image: nginx:1.27
          envFrom: [{secretRef: {name: envfrom-secret}}]
          env:
            - name: PASS
              valueFrom: {secretKeyRef: {name: keyref-secret, key: password}}
      volumes:
        - name: v
          secret: {secretName: volume-secret}
        - name: p
          projected: {sources: [{secret: {name: projected-secret}}]}
"""

HR = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: app}
spec:
  chartRef: {kind: OCIRepository, name: app-template}
  valuesFrom: [{kind: Secret, name: valuesfrom-secret}]
  values:
    controllers:
      app:
        containers:
          app:
            image: {repository: ghcr.io/x/app, tag: 1.0.0}
            envFrom: [{secretRef: {name: at-envfrom-secret}}, {secret: at-short-secret}]
            env:
              DB_PASS: {valueFrom: {secretKeyRef: {name: at-keyref-secret, key: pw}}}
    persistence:
      certs: {type: secret, name: at-persist-secret, globalMounts: [{path: /certs}]}
    ingress:
      app:
        className: internal
        hosts: [{host: app.example.com, paths: [{path: /}]}]
        tls: [{secretName: at-tls-secret, hosts: [app.example.com]}]
"""

OTHER = """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: grafana}
spec:
  chart: {spec: {chart: grafana, sourceRef: {kind: HelmRepository, name: grafana}}}
  values:
    admin:
      existingSecret: existing-secret
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  tls: [{secretName: ingress-tls-secret, hosts: [web.example.com]}]
  rules: [{host: web.example.com}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: issued
  annotations: {cert-manager.io/cluster-issuer: letsencrypt}
spec:
  tls: [{secretName: issued-tls, hosts: [issued.example.com]}]
  rules: [{host: issued.example.com}]
"""

FORMS = ["pull-secret", "envfrom-secret", "keyref-secret", "volume-secret", "projected-secret", "valuesfrom-secret",
         "at-envfrom-secret", "at-short-secret", "at-keyref-secret", "at-persist-secret", "at-tls-secret",
         "existing-secret", "ingress-tls-secret"]


@pytest.fixture
def repo(tmp_path):
    r = make_repo(tmp_path / "repo")
    add_app_file(r, "deploy.yaml", DEPLOY)
    add_app_file(r, "hr.yaml", HR)
    add_app_file(r, "other.yaml", OTHER)
    return r


def test_every_form_uncovered(repo):
    res = _results(repo)
    for name in FORMS:
        f = res.get(f"Secret demo/{name}")
        assert f is not None, f"reference form for {name} not collected: {sorted(res)}"
        assert f["status"] == "fail", (name, f["message"])
        assert f["location"]["path"].startswith("kubernetes/apps/demo/app/") and f["location"]["line"]
    assert "Secret demo/issued-tls" not in res  # cert-manager issues it


def test_every_form_covered_and_producer_reported(repo):
    docs = [es(n) for n in FORMS]
    add_app_file(repo, "externalsecrets.yaml", "---\n".join(docs))
    res = _results(repo)
    for name in FORMS:
        f = res[f"Secret demo/{name}"]
        assert f["status"] == "pass", (name, f["message"])
        assert f["evidence"]["producer"]["kind"] == "ExternalSecret"
        assert f["evidence"]["producer"]["path"].endswith("externalsecrets.yaml")


def test_other_producers(repo):
    add_app_file(repo, "producers.yaml", "---\n".join([
        es("es-with-target", target="envfrom-secret"),
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\nspec: {secretName: ingress-tls-secret}\n",
        "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: sealed}\n"
        "spec: {template: {metadata: {name: keyref-secret}}, encryptedData: {a: AgB}}\n",
        "apiVersion: onepassword.com/v1\nkind: OnePasswordItem\nmetadata: {name: volume-secret}\nspec: {itemPath: vaults/x/items/y}\n",
        "apiVersion: secrets.infisical.com/v1alpha1\nkind: InfisicalSecret\nmetadata: {name: inf}\n"
        "spec: {managedKubeSecretReferences: [{secretName: projected-secret, secretNamespace: demo}]}\n",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: pull-secret}\nstringData: {a: '${A}'}\n",
        "apiVersion: example.com/v1\nkind: MyOperatorSecret\nmetadata: {name: m}\nspec: {output: {name: existing-secret}}\n",
    ]))
    k = repo / "kubernetes/apps/demo/app/kustomization.yaml"
    # (without disableNameSuffixHash kustomize names it valuesfrom-secret-<hash>, which the HelmRelease's
    # valuesFrom would not find: Flux would fail)
    k.write_text(k.read_text() + "secretGenerator:\n  - name: valuesfrom-secret\n    literals: ['a=${A}']\n"
                 "    options: {disableNameSuffixHash: true}\n")
    (repo / "posture.yaml").write_text("checks:\n  secrets.externalsecret-coverage:\n    producers:\n"
                                       "      - {kind: MyOperatorSecret, name_path: spec.output.name}\n")
    res = _results(repo)
    want = {"envfrom-secret": "ExternalSecret", "ingress-tls-secret": "Certificate", "keyref-secret": "SealedSecret",
            "volume-secret": "OnePasswordItem", "projected-secret": "InfisicalSecret", "pull-secret": "Secret",
            "existing-secret": "MyOperatorSecret", "valuesfrom-secret": "kustomize secretGenerator"}
    for name, kind in want.items():
        f = res[f"Secret demo/{name}"]
        assert f["status"] == "pass", (name, f["message"])
        assert f["evidence"]["producer"]["kind"] == kind


def test_cross_namespace_producer_does_not_cover(repo):
    add_app_file(repo, "es-other-ns.yaml", es("envfrom-secret", ns="elsewhere"), listed=False)
    # listed via a second Flux ks would be heavier; a plain namespaced doc in the app dir keeps its namespace
    k = repo / "kubernetes/apps/demo/app/kustomization.yaml"
    text = k.read_text()
    k.write_text(text)
    ks = repo / "kubernetes/apps/other.yaml"
    ks.write_text(es("envfrom-secret", ns="elsewhere"))
    kz = repo / "kubernetes/apps/kustomization.yaml"
    kz.write_text(kz.read_text().replace("resources: [./demo]", "resources: [./demo, ./other.yaml]"))
    res = _results(repo)
    f = res["Secret demo/envfrom-secret"]
    assert f["status"] == "fail" and "elsewhere" in f["message"]


def test_cluster_external_secret_namespaces(repo):
    ces = ("apiVersion: external-secrets.io/v1\nkind: ClusterExternalSecret\nmetadata: {name: ces}\nspec:\n"
           "  namespaces: [demo]\n  externalSecretSpec:\n    secretStoreRef: {kind: ClusterSecretStore, name: vault}\n"
           "    target: {name: envfrom-secret}\n")
    kz = repo / "kubernetes/apps/kustomization.yaml"
    (repo / "kubernetes/apps/ces.yaml").write_text(ces)
    kz.write_text(kz.read_text().replace("resources: [./demo]", "resources: [./demo, ./ces.yaml]"))
    res = _results(repo)
    assert res["Secret demo/envfrom-secret"]["status"] == "pass"
    assert res["Secret demo/envfrom-secret"]["evidence"]["producer"]["kind"] == "ClusterExternalSecret"


def test_substitution_is_external_and_an_operator_cr_in_the_repo_produces(tmp_path):
    r = make_repo(tmp_path / "repo")
    add_app_file(r, "deploy.yaml", DEPLOY.replace("envfrom-secret", "'${UNKNOWN_VAR}-secret'")
                 .replace("keyref-secret", "pg-app"))
    add_app_file(r, "cnpg.yaml", "apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: {name: pg}\nspec: {instances: 1}\n")
    res = _results(r)
    assert res["Secret demo/${UNKNOWN_VAR}-secret"]["status"] == "warn"
    assert "external producer" in res["Secret demo/${UNKNOWN_VAR}-secret"]["message"]
    # the CloudNativePG Cluster in the repo makes `<cluster>-app`: a producer, not an "external" guess
    assert res["Secret demo/pg-app"]["status"] == "pass"
    assert res["Secret demo/pg-app"]["evidence"]["producer"]["kind"] == "Cluster operator"


def test_substitution_expanded_with_flux_variables(tmp_path):
    r = make_repo(tmp_path / "repo")
    ks = r / "kubernetes/apps/demo/ks.yaml"
    ks.write_text(ks.read_text() + "  postBuild:\n    substitute: {APP: web}\n")
    add_app_file(r, "deploy.yaml", DEPLOY.replace("envfrom-secret", "'${APP}-secret'"))
    add_app_file(r, "es.yaml", es("'${APP}'", target="'${APP}-secret'"))
    res = _results(r)
    assert res["Secret demo/web-secret"]["status"] == "pass"


def test_hygiene(tmp_path):
    r = make_repo(tmp_path / "repo")
    add_app_file(r, "store.yaml", "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {name: vault}\n"
                                  "spec: {provider: {vault: {server: http://vault:8200}}}\n")
    add_app_file(r, "good.yaml", es("good"))
    add_app_file(r, "bad.yaml", "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: bad}\nspec:\n"
                                "  secretStoreRef: {kind: ClusterSecretStore, name: vault}\n  refreshInterval: 0s\n"
                                "  target: {creationPolicy: Merge, deletionPolicy: Delete}\n  dataFrom: [{extract: {key: x}}]\n")
    add_app_file(r, "nostore.yaml", es("nostore").replace("name: vault", "name: missing-store"))
    res = _results(r, "secrets.externalsecret-hygiene")
    assert res["ExternalSecret demo/good"]["status"] == "pass"
    bad = res["ExternalSecret demo/bad"]
    assert bad["status"] == "fail" and "refreshInterval" in bad["message"] and "deletionPolicy Delete" in bad["message"]
    assert res["ExternalSecret demo/nostore"]["status"] == "warn"
