"""YAML that hides what a document says, or costs minutes to walk."""
from __future__ import annotations

from tests.hostile.support import errors_for, repo_with, scan_ok, write

DUPLICATE_KIND = """\
apiVersion: v1
kind: Secret
metadata: {name: dup, namespace: default}
stringData: {PASSWORD: PLANTED-dup-value-7Hq2}
kind: ConfigMap
"""


def test_duplicate_kind_does_not_hide_a_plaintext_secret(tmp_path):
    repo = repo_with(tmp_path)
    write(repo, "dup.yaml", DUPLICATE_KIND)
    report = scan_ok(repo, tmp_path)
    dup = errors_for(report, "duplicate key")
    assert [(e["path"], e["line"]) for e in dup] == [("dup.yaml", 5)]
    assert "lines 2 and 5" in dup[0]["message"] and "first value" in dup[0]["message"]
    sops = next(c for c in report["checks"] if c["id"] == "secrets.sops-encrypted")
    failing = [f for f in sops["findings"] if f["status"] == "fail"]
    assert [f["location"]["path"] for f in failing] == ["dup.yaml"]  # judged as the Secret it first said
    assert "PLANTED-dup-value" not in str(report)


def test_duplicate_keys_nested_and_with_merge_keys(tmp_path):
    repo = repo_with(tmp_path)
    write(repo, "nested.yaml", "base: &b {x: 1}\nm:\n  <<: *b\n  x: 2\n  y: 3\n  y: 4\n")
    report = scan_ok(repo, tmp_path)
    dup = errors_for(report, "duplicate key")
    assert [(e["path"], e["line"]) for e in dup] == [("nested.yaml", 6)]  # a merge key is no duplicate


def test_alias_near_bomb_ends_with_a_clear_error(tmp_path):
    """Under the absolute cap (2 million nodes) but a thousandfold growth: checks walking the
    expanded tree took minutes; the loader refuses it."""
    repo = repo_with(tmp_path)
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdef":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    lines.append("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}")
    write(repo, "near-bomb.yaml", "\n".join(lines) + "\n")
    report = scan_ok(repo, tmp_path)
    bombs = errors_for(report, "alias bomb")
    assert [e["path"] for e in bombs] == ["near-bomb.yaml"]
    assert "-fold" in bombs[0]["message"]


def test_anchors_of_real_manifests_are_not_bombs(tmp_path):
    repo = repo_with(tmp_path)
    env = "\n".join(f"    - {{name: V{i}, value: '{i}'}}" for i in range(50))
    write(repo, "anchors.yaml", f"common: &env\n{env}\n" + "".join(f"c{i}: {{env: *env}}\n" for i in range(40)))
    report = scan_ok(repo, tmp_path)
    assert not errors_for(report, "alias bomb")
