"""The checks' speed-ups keep every verdict: background sops answers are reused only while valid, the
list-based credential walk equals the plain one, and per-inventory indexes are never stale."""
from __future__ import annotations

import random

import pytest

import checks.secrets as cs
from scanner import sops as sops_mod
from scanner.api import scan
from tests.support.sops import AgeKey, add_app_file, encrypt, make_repo, rule, sops_binary, write_sops_config

SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData:\n  {key}: {value}\n"
MAC = "secrets.sops-mac-verified"


def _findings(report, cid):
    c = next(c for c in report["checks"] if c["id"] == cid)
    return {f["location"]["path"]: (f["status"], f["message"]) for f in c["findings"]}


class _Str(str):
    pass


def test_credential_walk_equals_reference():
    rnd = random.Random(7)
    keys = ["password", "PASSWORD", "dbPassword", "existingSecret", "existing-secret", "name", "value", "literals",
            "sops", "token", "apiKey", "url", "config", "env", "x", 3, "secretKey", "key", "passwordLength", True,
            _Str("existingFoo"), _Str("password"), None]
    vals = ["hunter2hunter2", "Zx9!kLm2pQr8#vB", "${SECRET}", "postgres://u:pw12345@host/db",
            "a\npassword: sup3rS3cretValue9\n", "ENC[AES256_GCM,data:abc", "short", "my-name", "changeme",
            "K8sAbcdEfgh123XyZ!!", "key=Zx9!kLm2pQr8#vB", "password=Zx9!kLm2pQr8#vB", None, 5, True,
            _Str("Zx9!kLm2pQr8#vB")]

    def gen(depth):
        r = rnd.random()
        if depth > 3 or r < 0.4:
            return rnd.choice(vals)
        if r < 0.7:
            return {rnd.choice(keys): gen(depth + 1) for _ in range(rnd.randint(0, 5))}
        return [gen(depth + 1) for _ in range(rnd.randint(0, 4))]

    found = 0
    for _ in range(5000):
        body = gen(0)
        if isinstance(body, dict) and rnd.random() < 0.3:
            body["kind"] = "ExternalSecret"
        got = cs.credential_findings(body)
        assert got == cs._credential_findings_reference(body)
        found += len(got)
    assert found > 100


needs_sops = pytest.mark.skipif(sops_binary() is None, reason="sops binary not available")


@needs_sops
def test_prefetched_answer_is_not_reused_after_the_file_changed(tmp_path, monkeypatch):
    key = AgeKey.create(tmp_path / "keys")
    repo = make_repo(tmp_path / "repo")
    write_sops_config(repo, [rule(r"kubernetes/.*\.sops\.ya?ml", key.recipient)])
    rel = add_app_file(repo, "s.sops.yaml", SECRET.format(name="s", key="TOKEN", value="prefetch-value"))
    encrypt(repo, rel, key)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(key.key_file))
    pf = sops_mod.prefetch(str(repo), [rel])
    assert pf is not None and pf.take("filestatus", rel).status == "ok"
    assert pf.take("verify", rel).status == "ok"
    p = repo / rel
    p.write_text(p.read_text().replace("name: s\n", "name: s-renamed\n", 1))  # tampered after the prefetch
    report = scan(str(repo), only=[MAC]).report
    status, message = _findings(report, MAC)[rel]
    assert status == "fail" and "MAC" in message


@needs_sops
def test_early_prefetch_gives_the_same_verdicts(tmp_path, monkeypatch):
    key = AgeKey.create(tmp_path / "keys")
    repo = make_repo(tmp_path / "repo")
    write_sops_config(repo, [rule(r"kubernetes/.*\.sops\.ya?ml", key.recipient)])
    rels = []
    for i in range(3):
        rel = add_app_file(repo, f"s{i}.sops.yaml", SECRET.format(name=f"s{i}", key="TOKEN", value=f"v-{i}"))
        encrypt(repo, rel, key)
        rels.append(rel)
    plain = scan(str(repo), only=[MAC]).report
    sops_mod.prefetch(str(repo), rels + ["kubernetes/not-there.sops.yaml"])
    early = scan(str(repo), only=[MAC]).report
    assert _findings(plain, MAC) == _findings(early, MAC) and len(_findings(plain, MAC)) == 3
