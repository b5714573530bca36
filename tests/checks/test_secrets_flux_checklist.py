"""`secrets.no-plaintext-credentials` in each place the Flux security checklist names: HelmRelease
values, Flux postBuild.substitute, Flux and kustomize patches, ConfigMap data, configMapGenerator and
secretGenerator literals, envs and files, and KEY=value strings. `ENC[` values and `${VAR}`
references are not credentials, and no planted value reaches any output."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.scanning import scan
from tests.support.sops import AgeKey, APP_DIR, add_app_file, encrypt, make_repo, rule, sops_binary, write_sops_config

CID = "secrets.no-plaintext-credentials"
KUST = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
PLANTED = {
    "values": "Zq81xTTa-values-pw", "substitute": "ghp_Q7cPlantedM0nk3yW4rrenZx81LpTkd92H",
    "json-patch": "Kp3vX9wQ-json-patch-pw", "smp-patch": "Lm9wKx2-kustomize-patch-pw", "configmap": "Zq7Vt3pLm9wK-cm",
    "cm-literal": "Rt5yU8iO-cm-literal", "cm-key": "sk9fKd02LmQ7xYzAbcQ7", "cm-env": "Ew3rT6yU9iO2pA5sD",
    "cm-file": "Hj4kL7zX0cV3bN6m-ini", "sec-literal": "plain-session-4Tg7", "sec-env": "Vb8nM1qW4eR7tY0u",
    "sec-file": "-----tls-material-Qw8Er5Ty2Ui9-----", "args": "Op6aS9dF2gH5jK8l", "conn": "Cz1xV4bN7mQ0wE3r",
}


def _fails(report) -> dict[str, dict]:
    c = next(c for c in report["checks"] if c["id"] == CID)
    assert c["error"] is None, c["error"]
    return {f["subject"]: f for f in c["findings"] if f["status"] == "fail"}


def _scan(repo) -> dict[str, dict]:
    report = scan(str(repo), only=[CID]).report.to_json_dict()
    assert not any(v in str(report) for v in PLANTED.values()), "a planted credential reached the report"
    return _fails(report)


def _where(f) -> tuple:
    return f["location"]["path"], f["location"]["line"]


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "r")


def test_helmrelease_values(repo):
    add_app_file(repo, "hr.yaml", f"""apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: web}}
spec:
  chartRef: {{kind: OCIRepository, name: web}}
  values:
    admin:
      user: admin
      password: {PLANTED['values']}
""")
    fails = _scan(repo)
    assert list(fails) == ["HelmRelease web: spec.values.admin.password"]
    assert _where(fails["HelmRelease web: spec.values.admin.password"]) == (f"{APP_DIR}/hr.yaml", 9)


def test_flux_postbuild_substitute(repo):
    ks = repo / "kubernetes/apps/demo/ks.yaml"
    ks.write_text(ks.read_text() + f"  postBuild:\n    substitute:\n      CLUSTER: home\n"
                                   f"      GITHUB_TOKEN: {PLANTED['substitute']}\n")
    fails = _scan(repo)
    key = "Kustomization flux-system/demo: spec.postBuild.substitute.GITHUB_TOKEN"
    assert list(fails) == [key] and _where(fails[key]) == ("kubernetes/apps/demo/ks.yaml", 14)


def test_flux_patches_json6902_value(repo):
    ks = repo / "kubernetes/apps/demo/ks.yaml"
    ks.write_text(ks.read_text() + f"""  patches:
    - target: {{kind: HelmRelease}}
      patch: |
        - op: add
          path: /spec/values/auth/password
          value: {PLANTED['json-patch']}
""")
    fails = _scan(repo)
    key = "Kustomization flux-system/demo: spec.patches.0.patch.0.value"
    assert list(fails) == [key]
    assert _where(fails[key]) == ("kubernetes/apps/demo/ks.yaml", 16)  # the `value:` line inside the patch
    assert fails[key]["evidence"]["key"] == "password"


def test_kustomize_patches_strategic_merge(repo):
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + f"""resources: []
patches:
  - target: {{kind: HelmRelease, name: web}}
    patch: |
      apiVersion: helm.toolkit.fluxcd.io/v2
      kind: HelmRelease
      metadata: {{name: web}}
      spec:
        values:
          admin:
            password: {PLANTED['smp-patch']}
""")
    fails = _scan(repo)
    key = f"kustomization {APP_DIR}/kustomization.yaml: patches.0.patch.spec.values.admin.password"
    assert list(fails) == [key] and _where(fails[key]) == (f"{APP_DIR}/kustomization.yaml", 13)


def test_configmap_data(repo):
    add_app_file(repo, "cm.yaml", f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: web}}
data:
  LOG_LEVEL: info
  DB_PASSWORD: {PLANTED['configmap']}
  DB_PASSWORD_FILE: /run/secrets/db
""")
    fails = _scan(repo)
    assert list(fails) == ["ConfigMap web: data.DB_PASSWORD"]
    assert _where(fails["ConfigMap web: data.DB_PASSWORD"]) == (f"{APP_DIR}/cm.yaml", 6)


def test_config_map_generator_literals(repo):
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + f"""resources: []
configMapGenerator:
  - name: web
    literals:
      - LOG_LEVEL=info
      - DB_PASSWORD={PLANTED['cm-literal']}
      - STRIPE_KEY={PLANTED['cm-key']}
""")
    fails = _scan(repo)
    label = f"kustomization {APP_DIR}/kustomization.yaml"
    assert sorted(fails) == [f"{label}: configMapGenerator.0.literals.1", f"{label}: configMapGenerator.0.literals.2"]
    assert _where(fails[f"{label}: configMapGenerator.0.literals.2"]) == (f"{APP_DIR}/kustomization.yaml", 9)
    assert fails[f"{label}: configMapGenerator.0.literals.2"]["message"].count("KEY=value literal") == 1


def test_config_map_generator_envs(repo):
    (repo / APP_DIR / "web.env").write_text(f"# web\nLOG_LEVEL=info\nexport API_TOKEN={PLANTED['cm-env']}\n"
                                            "DB_PASSWORD=${DB_PASSWORD}\n")
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + "resources: []\nconfigMapGenerator:\n"
                                                       "  - name: web\n    envs: [web.env]\n")
    fails = _scan(repo)
    key = f"kustomization {APP_DIR}/kustomization.yaml: configMapGenerator.0.envs.0 API_TOKEN"
    assert list(fails) == [key] and _where(fails[key]) == (f"{APP_DIR}/web.env", 3)


def test_config_map_generator_files(repo):
    (repo / APP_DIR / "app.ini").write_text(f"[db]\nhost = db\npassword = {PLANTED['cm-file']}\n")
    (repo / APP_DIR / "motd.txt").write_text("hello\n")
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + "resources: []\nconfigMapGenerator:\n"
                                                       "  - name: web\n    files: [app.ini, banner=motd.txt]\n")
    fails = _scan(repo)
    key = f"kustomization {APP_DIR}/kustomization.yaml: configMapGenerator.0.files.0 password"
    assert list(fails) == [key] and _where(fails[key]) == (f"{APP_DIR}/app.ini", 3)


def test_secret_generator_literals_whatever_their_name(repo):
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + f"""resources: []
secretGenerator:
  - name: web
    literals: ["session={PLANTED['sec-literal']}", "TOKEN=${{TOKEN}}", "EMPTY="]
""")
    fails = _scan(repo)
    key = f"kustomization {APP_DIR}/kustomization.yaml: secretGenerator.0.literals.0"
    assert list(fails) == [key] and _where(fails[key]) == (f"{APP_DIR}/kustomization.yaml", 6)


def test_secret_generator_envs(repo):
    (repo / APP_DIR / "secret.env").write_text(f"SESSION={PLANTED['sec-env']}\nREF=${{REF}}\n")
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + "resources: []\nsecretGenerator:\n"
                                                       "  - name: web\n    envs: [secret.env]\n")
    fails = _scan(repo)
    key = f"kustomization {APP_DIR}/kustomization.yaml: secretGenerator.0.envs.0 SESSION"
    assert list(fails) == [key] and _where(fails[key]) == (f"{APP_DIR}/secret.env", 1)


def test_secret_generator_files(repo):
    (repo / APP_DIR / "tls.txt").write_text(PLANTED["sec-file"] + "\n")
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + "resources: []\nsecretGenerator:\n"
                                                       "  - name: web\n    files: [tls.key=tls.txt]\n")
    fails = _scan(repo)
    key = f"kustomization {APP_DIR}/kustomization.yaml: secretGenerator.0.files.0"
    assert list(fails) == [key] and _where(fails[key]) == (f"{APP_DIR}/tls.txt", 1)


def test_generator_files_outside_the_repo_are_not_read(repo, tmp_path):
    outside = tmp_path / "outside.env"
    outside.write_text(f"SESSION={PLANTED['sec-env']}\n")
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + "resources: []\nsecretGenerator:\n"
                                                       "  - name: web\n    envs: [../../../../../outside.env, "
                                                       f"{outside}]\n")
    assert _scan(repo) == {}


@pytest.mark.skipif(sops_binary() is None, reason="sops binary not available")
def test_sops_encrypted_generator_inputs_are_not_plaintext(repo):
    key = AgeKey.create(repo.parent)
    write_sops_config(repo, [rule(r".*\.sops\.(env|txt)$", key.recipient, encrypted_regex=None)])
    (repo / APP_DIR / "secret.sops.env").write_text(f"SESSION={PLANTED['sec-env']}\n")
    encrypt(repo, f"{APP_DIR}/secret.sops.env", key)
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + "resources: []\nsecretGenerator:\n"
                                                       "  - name: web\n    envs: [secret.sops.env]\n")
    assert _scan(repo) == {}


def test_key_value_strings(repo):
    add_app_file(repo, "deploy.yaml", f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: ghcr.io/example/web:1.2.3
          args: ["--db-password={PLANTED['args']}", "--log-level=info", "--api-key=${{API_KEY}}"]
          command: ["sh", "-c", "CONNECTION_STRING='Server=db;Password={PLANTED['conn']}' exec web"]
          env:
            - {{name: OPTS, value: "MODE=prod PUBLIC_KEY=ssh-ed25519-AAAAC3NzaC1lZDI1NTE5"}}
""")
    fails = _scan(repo)
    base = "Deployment web: spec.template.spec.containers.0"
    assert sorted(fails) == [f"{base}.args.0", f"{base}.command.2"]
    assert {f["evidence"]["key"] for f in fails.values()} == {"args → db-password", "command → CONNECTION_STRING"}


def test_enc_values_and_references_are_not_credentials(repo):
    add_app_file(repo, "hr.yaml", """apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web}
spec:
  chartRef: {kind: OCIRepository, name: web}
  values:
    env: ["API_KEY=${API_KEY}", "DB_PASSWORD=ENC[AES256_GCM,data:3q2+7w==,iv:x,tag:y,type:str]"]
    auth: {password: "${ADMIN_PASSWORD}", token: "ENC[AES256_GCM,data:3q2+7w==,iv:x,tag:y,type:str]"}
""")
    (repo / APP_DIR / "web.env").write_text("API_TOKEN=${API_TOKEN}\nDB_PASSWORD=$DB_PASSWORD\n")
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + """resources: [hr.yaml]
configMapGenerator:
  - name: web
    literals: ["DB_PASSWORD=${DB_PASSWORD}", "SIGNING_KEY=ENC[AES256_GCM,data:3q2+7w==,iv:x,tag:y,type:str]"]
    envs: [web.env]
secretGenerator:
  - name: web
    literals: ["TOKEN=${TOKEN}"]
""")
    assert _scan(repo) == {}


def test_planted_values_reach_no_output(repo, tmp_path):
    """Every place at once, every report format: fingerprints and key names only."""
    add_app_file(repo, "cm.yaml", f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: web}}\n"
                                  f"data: {{DB_PASSWORD: {PLANTED['configmap']}}}\n")
    (repo / APP_DIR / "web.env").write_text(f"API_TOKEN={PLANTED['cm-env']}\n")
    (repo / APP_DIR / "secret.env").write_text(f"SESSION={PLANTED['sec-env']}\n")
    (repo / APP_DIR / "kustomization.yaml").write_text(KUST + f"""resources: [cm.yaml]
configMapGenerator:
  - name: web
    literals: ["STRIPE_KEY={PLANTED['cm-key']}"]
    envs: [web.env]
secretGenerator:
  - name: web
    literals: ["session={PLANTED['sec-literal']}"]
    envs: [secret.env]
""")
    ks = repo / "kubernetes/apps/demo/ks.yaml"
    ks.write_text(ks.read_text() + f"  postBuild:\n    substitute: {{GITHUB_TOKEN: {PLANTED['substitute']}}}\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", str(repo), "--format",
                           "json,html,sarif,markdown,junit", "--output-dir", str(out), "-vv"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    texts = [p.read_text(errors="replace") for p in out.iterdir() if p.is_file()] + [proc.stdout, proc.stderr]
    assert len(texts) >= 7
    for name, value in PLANTED.items():
        assert not any(value in t for t in texts), f"planted {name} value reached an output"
    assert sum(t.count("sha256:") for t in texts) > 5
