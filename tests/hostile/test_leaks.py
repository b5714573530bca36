"""Credentials by shape in any text file (detect-secrets), the same in `posture leaks`; files that
only look like SOPS files, and SOPS files in every mode."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.scanning import scan
from tests.hostile.support import PROJECT, repo_with, write
from tests.support.sops import AgeKey, encrypt, rule, sops_binary, write_sops_config

CID = "secrets.no-plaintext-credentials"
GITHUB = "ghp_" + "Zq7mW2xR9kT4vB8nL3pY6sD1fH5jC0aE2gUx"  # 36 characters after the prefix
GITHUB_FINE = "github_pat_" + "11ABCDEFG0123456789abc" + "_" + "Zq7mW2xR9kT4vB8nL3pY6sD1fH5jC0aE2gUxQ7mW2xR9kT4vB8nL3pY6sD1fH5j"
AWS = "AKIA" + "Q3EGRIMJTXWZ7PLK"
SLACK = "xoxb-" + "123456789012-1234567890123-" + "Zq7mW2xR9kT4vB8nL3pY6sD1"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJQTEFOVEVELWp3dCIsIm5hbWUiOiJhZG1pbiJ9."
       "dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk0")
ENTROPY = "q8Zr4LmW2pXv9TnK7bYc3HsDfG6j"


def _private_key_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()


PEM = _private_key_pem()
PEM_BODY = PEM.splitlines()[1]
VALUES = [GITHUB, GITHUB_FINE, AWS, SLACK, JWT, ENTROPY, PEM_BODY]


def _planted_repo(tmp_path):
    repo = repo_with(tmp_path)
    write(repo, "app.env", f"GH_TOKEN={GITHUB}\nAPI_SECRET={ENTROPY}\nLOG_LEVEL=debug\n")
    write(repo, "config.json", json.dumps({"slack": {"hook": SLACK}, "aws": AWS}, indent=2))
    write(repo, "id.key", PEM.replace("\n", "\r\n").encode())  # CRLF line ends
    write(repo, "id-nul.key", b"\x00" + PEM.encode())  # a NUL: not text to the PEM pass
    write(repo, "nul.txt", b"binary\x00junk\xff\xfe\ntoken: " + JWT.encode() + b"\n")
    write(repo, "notes.md", f"old pat {GITHUB_FINE}\n")
    big = b"# filler\n" * (9 * 1024 * 1024 // 9) + f"AWS_KEY={AWS}\n".encode()  # over the 8 MiB parse limit
    write(repo, "dump.txt", big)
    return repo


def _shape_findings(report):
    check = next(c for c in report["checks"] if c["id"] == CID)
    return {(f["location"]["path"], f["evidence"].get("type")) for f in check["findings"]
            if f["status"] == "fail" and f["evidence"].get("type")}


def test_tokens_by_shape_in_any_text_file(tmp_path):
    report = scan(str(_planted_repo(tmp_path)), only=[CID]).report.to_json_dict()
    found = _shape_findings(report)
    check = next(c for c in report["checks"] if c["id"] == CID)
    assert any(f["location"]["path"] == "id.key" and f["status"] == "fail" and f["severity"] == "critical"
               for f in check["findings"])  # the PEM pass parses the CRLF key
    assert {("app.env", "GitHub Token"), ("app.env", "High Entropy String"), ("config.json", "Slack Token"),
            ("config.json", "AWS Access Key"), ("id-nul.key", "Private Key"), ("nul.txt", "JSON Web Token"),
            ("notes.md", "GitHub Token"), ("dump.txt", "AWS Access Key")} <= found, found
    text = json.dumps(report)
    assert not any(v in text for v in VALUES)
    assert any(e["path"] == "dump.txt" and e["code"] == "leak-scan-chunked" for e in report["errors"])  # never silently


def test_leaks_command_uses_the_same_detector(tmp_path):
    repo = _planted_repo(tmp_path)
    for name in ("app.env", "id.key", "id-nul.key", "config.json", "nul.txt"):
        proc = subprocess.run([sys.executable, "-m", "scanner", "leaks", str(repo / name)], capture_output=True,
                              timeout=120, cwd=PROJECT)
        out = proc.stdout.decode() + proc.stderr.decode()
        assert proc.returncode == 1, (name, out)
        assert not any(v in out for v in VALUES), out
    clean = write(repo, "clean.env", "LOG_LEVEL=debug\nURL=https://example.org/path\n")
    proc = subprocess.run([sys.executable, "-m", "scanner", "leaks", str(clean)], capture_output=True, timeout=120,
                          cwd=PROJECT)
    assert proc.returncode == 0, proc.stdout.decode()


def _sops_findings(report, path):
    check = next(c for c in report["checks"] if c["id"] == "secrets.sops-encrypted")
    return [f for f in check["findings"] if f["location"] and f["location"]["path"] == path]


def test_lock_file_naming_sops_is_not_a_sops_file(tmp_path):
    repo = repo_with(tmp_path)
    write(repo, "Brewfile.lock.json", json.dumps({"entries": {"brew": {"sops": {"version": "3.9.0"}, "age": {}}}}))
    report = scan(str(repo), only=["secrets.sops-encrypted"]).report.to_json_dict()
    assert _sops_findings(report, "Brewfile.lock.json") == []


def test_empty_sops_yaml_is_a_finding(tmp_path):
    repo = repo_with(tmp_path)
    write(repo, "secret.sops.yaml", "")
    report = scan(str(repo), only=["secrets.sops-encrypted"]).report.to_json_dict()
    got = _sops_findings(report, "secret.sops.yaml")
    assert [f["status"] for f in got] == ["fail"], got


@pytest.mark.skipif(not sops_binary(), reason="no sops binary")
@pytest.mark.parametrize("name, content, extra", [
    ("kubeconfig.sops", "apiVersion: v1\nclusters: []\ntoken: PLANTED-binary-Qw3\n", ("--input-type", "binary")),
    ("app.sops.env", "PASSWORD=PLANTED-dotenv-Qw3\nUSER=admin\n", ()),
], ids=["binary", "dotenv"])
def test_sops_files_in_binary_and_dotenv_mode_are_encrypted(tmp_path, name, content, extra):
    repo = repo_with(tmp_path)
    key = AgeKey.create(tmp_path / "keys")
    write_sops_config(repo, [rule(".*", key.recipient, encrypted_regex=None)])
    write(repo, name, content)
    encrypt(repo, name, key, *extra)
    report = scan(str(repo), only=["secrets.sops-encrypted"]).report.to_json_dict()
    got = _sops_findings(report, name)
    assert got and all(f["status"] == "pass" for f in got), got
    assert "PLANTED" not in json.dumps(report)
