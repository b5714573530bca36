"""The checks' speed-ups keep every verdict: background sops answers are reused only while valid, the
list-based credential walk equals the plain one, and per-inventory indexes are never stale."""
from __future__ import annotations

import random

import pytest

import checks.secrets as cs
from scanner.analysis import sops as sops_mod
from tests.support.scanning import scan
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
            _Str("existingFoo"), _Str("password"), None, "args"]
    vals = ["hunter2hunter2", "Zx9!kLm2pQr8#vB", "${SECRET}", "postgres://u:pw12345@host/db",
            "a\npassword: sup3rS3cretValue9\n", "ENC[AES256_GCM,data:abc", "short", "my-name", "changeme",
            "K8sAbcdEfgh123XyZ!!", "key=Zx9!kLm2pQr8#vB", "password=Zx9!kLm2pQr8#vB", None, 5, True,
            _Str("Zx9!kLm2pQr8#vB"), "DB_PASSWORD=Zx9!kLm2pQr8#vB", "run STRIPE_KEY=sk9fKd02LmQ7xYzAbcQ --x",
            "CONNECTION_STRING=Server=db;Password=Zx9kLm2pQr", "--db-password=Zx9!kLm2pQr8#vB", "A=1 B=${X}",
            "STRIPE_KEY=sk9fKd02LmQ7xYzAbcQ\nAPI_TOKEN=${TOKEN}\n", "x=STRIPE_KEY=sk9fKd02LmQ7xYzAbcQ"]

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

