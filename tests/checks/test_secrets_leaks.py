"""Plaintext credentials, PEM material, `posture leaks`, and redaction across every output."""
from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from scanner.analysis import pem
from tests.support.scanning import scan
from tests.support.sops import AgeKey, add_app_file, encrypt, make_repo, rule, sops_binary, write_sops_config

CID = "secrets.no-plaintext-credentials"
PLANTED = ["PLANTED-pw-Zq81xTTa", "PLANTED-tok-9fKd02LmQ7xYzA", "PLANTED-db-Ab12Cd34", "PLANTED-sec-Xx99Yy88",
           "PLANTED-enc-Qw12Er34"]


def _key_pem(bits=2048) -> str:
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                           serialization.NoEncryption()).decode()


def _cert_pem(key, days=365, algo=None, expired=False) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test.example")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "some ca")])
    now = dt.datetime.now(dt.timezone.utc)
    start, end = (now - dt.timedelta(days=400), now - dt.timedelta(days=10)) if expired else (now, now + dt.timedelta(days=days))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .sign(key, algo or hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.strip().splitlines())


def _check(report, cid=CID):
    c = next(c for c in report["checks"] if c["id"] == cid)
    assert c["error"] is None, c["error"]
    return c


def test_plaintext_credentials_in_values_and_env(tmp_path):
    r = make_repo(tmp_path / "r")
    add_app_file(r, "hr.yaml", f"""apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: app}}
spec:
  chart: {{spec: {{chart: thing, sourceRef: {{kind: HelmRepository, name: x}}}}}}
  values:
    auth:
      adminPassword: {PLANTED[0]}
      existingSecret: my-existing-secret
      passwordSecretRef: {{name: foo, key: password}}
      passwordKey: admin-password
    apiToken: "${{API_TOKEN}}"
    apiKey: "{{{{ .Values.key }}}}"
    PASSWORD_FILE: /run/secrets/password
    database:
      url: postgres://app:{PLANTED[2]}@db.example:5432/app
      safeUrl: postgres://app:${{DB_PASS}}@db.example:5432/app
""")
    add_app_file(r, "deploy.yaml", f"""apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          env:
            - {{name: GITHUB_TOKEN, value: {PLANTED[1]}}}
            - {{name: LOG_LEVEL, value: debug}}
""")
    report = scan(str(r), only=[CID]).report.to_json_dict()
    fails = [f for f in _check(report)["findings"] if f["status"] == "fail"]
    keys = sorted(f["evidence"]["key_path"] for f in fails)
    assert keys == ["spec.template.spec.containers.0.env.0.value", "spec.values.auth.adminPassword",
                    "spec.values.database.url"], keys
    for f in fails:
        assert f["location"]["line"] and "fingerprint" not in f["evidence"]  # no key: no value fingerprint
    assert not any(p in str(report) for p in PLANTED)
    keyed = scan(str(r), only=[CID], fingerprint_key=b"k" * 32).report.to_json_dict()
    again = scan(str(r), only=[CID], fingerprint_key=b"k" * 32).report.to_json_dict()
    other = scan(str(r), only=[CID], fingerprint_key=b"x" * 32).report.to_json_dict()

    def fps(rep):
        return sorted(f["evidence"]["fingerprint"] for f in _check(rep)["findings"] if f["status"] == "fail")
    assert all(fp.startswith("hmac:") for fp in fps(keyed))
    assert fps(keyed) == fps(again) and fps(keyed) != fps(other)  # stable under one key, not guessable without it
    assert [f["fingerprint"] for f in _check(keyed)["findings"]] == [f["fingerprint"] for f in _check(report)["findings"]]


def test_configmap_with_pem_private_key_and_weak_certs(tmp_path):
    r = make_repo(tmp_path / "r")
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    good = ec.generate_private_key(ec.SECP256R1())
    try:
        weak_cert = _cert_pem(weak, algo=hashes.SHA1())
        sha1 = True
    except Exception:  # OpenSSL builds without SHA-1 signing
        weak_cert, sha1 = _cert_pem(weak), False
    add_app_file(r, "cm.yaml", f"""apiVersion: v1
kind: ConfigMap
metadata: {{name: certs}}
data:
  tls.key: |
{_indent(_key_pem(), 4)}
  weak.crt: |
{_indent(weak_cert, 4)}
  expired.crt: |
{_indent(_cert_pem(good, expired=True), 4)}
  ok.crt: |
{_indent(_cert_pem(good), 4)}
""")
    report = scan(str(r), only=[CID]).report.to_json_dict()
    findings = _check(report)["findings"]
    crit = [f for f in findings if f["status"] == "fail" and f["severity"] == "critical"]
    assert len(crit) == 1 and "RSA PRIVATE KEY" in crit[0]["message"] and crit[0]["location"]["line"] == 6
    msgs = " ".join(f["message"] for f in findings if f["status"] == "fail")
    assert "RSA key of 1024 bits" in msgs and "expired on" in msgs and (not sha1 or "SHA1" in msgs)
    assert any(f["status"] == "pass" and "certificate" in f["subject"] for f in findings)
    assert "BEGIN RSA PRIVATE KEY" not in str(report)


def test_base64_private_key_in_talos_config_and_age_identity(tmp_path):
    import base64

    r = make_repo(tmp_path / "r")
    b64 = base64.b64encode(_key_pem().encode()).decode()
    (r / "talos").mkdir()
    (r / "talos/controlplane.yaml").write_text(f"machine:\n  token: {PLANTED[3]}\n  ca:\n    key: {b64}\ncluster:\n  secret: x\n")
    age = AgeKey.create(tmp_path / "k")
    (r / "age.agekey").write_text(age.secret + "\n")
    report = scan(str(r), only=[CID]).report.to_json_dict()
    fails = [f for f in _check(report)["findings"] if f["status"] == "fail"]
    where = {(f["location"]["path"], f["severity"]) for f in fails}
    assert ("talos/controlplane.yaml", "critical") in where  # the base64 PEM key
    assert ("age.agekey", "critical") in where
    assert any(f.get("evidence", {}).get("key_path") == "machine.token" for f in fails)
    assert age.secret not in str(report) and PLANTED[3] not in str(report)


def test_pem_helpers():
    assert pem.public_fingerprint("x").startswith("sha256:") and len(pem.public_fingerprint("x")) == 15
    assert pem.secret_fingerprint("x") is None
    found = pem.scan_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    assert found[0].kind == "unparsable-private-key"


def test_leaks_command(tmp_path):
    from scanner.cli.main import main

    r = make_repo(tmp_path / "r")
    bad = add_app_file(r, "plain.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: p}}\nstringData: {{A: {PLANTED[0]}}}\n")
    ok = add_app_file(r, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {LOG: debug}\n")
    runner = CliRunner()
    res = runner.invoke(main, ["leaks", str(r / bad), str(r / ok)])
    assert res.exit_code == 1, res.output
    assert "plain.yaml" in res.output and "stringData.A" in res.output and PLANTED[0] not in res.output
    res = runner.invoke(main, ["leaks", str(r / ok)])
    assert res.exit_code == 0, res.output


def test_redaction_everywhere(tmp_path, caplog):
    """Planted values appear in no output: terminal, every report format, errors, logs."""
    from reports.registry import formatters
    from scanner.cli.main import main

    r = make_repo(tmp_path / "r")
    add_app_file(r, "plain.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: p}}\nstringData: {{A: {PLANTED[0]}}}\n")
    add_app_file(r, "hr.yaml", f"apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {{name: h}}\n"
                                f"spec:\n  values:\n    token: {PLANTED[1]}\n    dsn: mysql://u:{PLANTED[2]}@db/x\n")
    if sops_binary():
        key = AgeKey.create(tmp_path / "k")
        write_sops_config(r, [rule(r"kubernetes/.*\.sops\.ya?ml", key.recipient)])
        rel = add_app_file(r, "s.sops.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\nstringData: {{B: {PLANTED[4]}}}\n")
        encrypt(r, rel, key)
        p = r / rel
        p.write_text(p.read_text().replace("stringData:\n", f"stringData:\n    EXTRA: {PLANTED[3]}\n", 1))
        os.environ["SOPS_AGE_KEY_FILE"] = str(key.key_file)  # decrypt runs: output must go nowhere
    try:
        out = tmp_path / "out"
        fmts = ",".join(sorted(formatters()))
        caplog.set_level(logging.DEBUG)
        res = CliRunner().invoke(main, ["scan", str(r), "--format", fmts, "-o", str(out), "-vv"])
        assert res.exit_code in (0, 1), res.output
        blobs = [res.output, caplog.text]
        for f in out.iterdir():
            blobs.append(f.read_text(errors="replace"))
        assert len(blobs) >= 2 + len(formatters())
        text = "\n".join(blobs)
        assert "secrets.sops-encrypted" in text
        for v in PLANTED:
            assert v not in text, f"planted value {v} leaked"
        # and through a real process (stdout/stderr of the console script)
        posture = Path(sys.executable).parent / "posture"
        proc = subprocess.run([str(posture), "scan", str(r), "--format", "json", "-o", str(tmp_path / "o2"), "-vv"],
                              capture_output=True, text=True, timeout=300)
        assert "secrets.sops-encrypted" in proc.stdout
        for v in PLANTED:
            assert v not in proc.stdout + proc.stderr
    finally:
        os.environ.pop("SOPS_AGE_KEY_FILE", None)


def test_no_secret_in_exception_text(tmp_path, monkeypatch):
    """A check that crashes reports type and location, never the value it was looking at."""
    import checks.secrets as cs

    def boom(key, value):
        raise ValueError("bad")  # the engine records the message; our code never puts values in messages

    monkeypatch.setattr(cs, "looks_like_credential", boom)
    r = make_repo(tmp_path / "r")
    add_app_file(r, "hr.yaml", f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c}}\ndata: {{PASSWORD: {PLANTED[0]}}}\n")
    report = scan(str(r), only=[CID]).report.to_json_dict()
    assert _check.__name__  # noqa
    c = next(c for c in report["checks"] if c["id"] == CID)
    assert c["error"] and PLANTED[0] not in str(report)
