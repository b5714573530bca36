"""The parse cache gives exactly what parsing gives, parses only changed files, and never writes a
plain Secret's value to disk."""
from __future__ import annotations

from pathlib import Path

import pytest

from scanner.sources import parse_cache
from scanner.sources.parse import parse_files
from tests.support.paths import CORPUS

MANIFESTS = {
    "apps/deploy.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: demo}\n"
                        "spec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27\n",
    "apps/anchors.yaml": "a: &x {k: 1, 2: two, yes: true}\nb: *x\n---\n---\nc: [1.5, ~, '010', 0o10]\n",
    "apps/copy.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\ndata: {k: v}\n",
    "apps/copy2.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: same}\ndata: {k: v}\n",
    "apps/broken.yaml": "a: [1, 2\n",
    "apps/dup.yaml": "kind: Secret\nkind: ConfigMap\n",
    "apps/sops.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {token: 'ENC[AES256_GCM,data:abc=,iv:x,tag:y,type:str]'}\n",
}
PLAIN_SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: plain}\nstringData: {password: hunter2-plaintext-value}\n"


def _view(docs, errors):
    return ([(d.path, d.line, d.index, d.body, d.lines) for d in docs], [e.as_dict() for e in errors])


def _write(root: Path, files: dict[str, str]) -> list[str]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return sorted(files)


def test_cached_parse_equals_a_fresh_parse_and_only_changed_files_are_parsed(tmp_path, monkeypatch):
    repo, cache = tmp_path / "repo", tmp_path / "cache"
    rels = _write(repo, MANIFESTS)
    fresh = _view(*parse_files(str(repo), rels))
    assert fresh[1], "the broken and duplicate-key files must give errors"

    assert _view(*parse_files(str(repo), rels, cache_dir=str(cache))) == fresh  # cold: fills the pack
    parsed: list[str] = []
    real = parse_cache.ParseCache.put

    def counting_put(self, key, text, docs, errors):
        parsed.append(key)
        return real(self, key, text, docs, errors)

    monkeypatch.setattr(parse_cache.ParseCache, "put", counting_put)
    assert _view(*parse_files(str(repo), rels, cache_dir=str(cache))) == fresh  # warm: from the pack
    assert parsed == []

    (repo / "apps/deploy.yaml").write_text(MANIFESTS["apps/deploy.yaml"].replace("1.27", "1.28"))
    edited = parse_files(str(repo), rels, cache_dir=str(cache))
    assert len(parsed) == 1
    assert _view(*edited) == _view(*parse_files(str(repo), rels))


def test_files_with_the_same_text_get_separate_objects(tmp_path):
    repo, cache = tmp_path / "repo", tmp_path / "cache"
    rels = _write(repo, MANIFESTS)
    parse_files(str(repo), rels, cache_dir=str(cache))
    docs, _ = parse_files(str(repo), rels, cache_dir=str(cache))
    first, second = (d for d in docs if d.path in ("apps/copy.yaml", "apps/copy2.yaml"))
    assert first.body == second.body and first.body is not second.body
    first.body["data"]["k"] = "changed"
    assert second.body["data"]["k"] == "v"


CREDENTIAL_FILES = {
    "apps/plain.yaml": PLAIN_SECRET,
    "apps/remote/kustomization.yaml": "resources:\n  - https://bot:hunter2-url-password@git.example/org/r//k?ref=v1\n",
    "apps/query.yaml": "url: https://hooks.example/x?token=hunter2-query-token\n",
    "apps/token.yaml": "env: {GH: ghp_hunter2hunter2hunter2hunter2hunter2xx}\n",
}


def test_a_secret_value_is_never_written_to_the_cache(tmp_path):
    repo, cache = tmp_path / "repo", tmp_path / "cache"
    rels = _write(repo, {**MANIFESTS, **CREDENTIAL_FILES})
    docs, _ = parse_files(str(repo), rels, cache_dir=str(cache))
    assert any(d.path == "apps/plain.yaml" for d in docs)
    packs = list((cache / "parsed").iterdir())
    assert len(packs) == 1
    blob = packs[0].read_bytes()
    assert b"hunter2" not in blob
    assert b"ENC[AES256_GCM" in blob  # SOPS ciphertext is not a secret value: its file is kept
    again, _ = parse_files(str(repo), rels, cache_dir=str(cache))
    assert [d.body for d in again if d.path == "apps/plain.yaml"][0]["stringData"]["password"] == "hunter2-plaintext-value"


def test_a_damaged_pack_is_ignored(tmp_path):
    repo, cache = tmp_path / "repo", tmp_path / "cache"
    rels = _write(repo, MANIFESTS)
    fresh = _view(*parse_files(str(repo), rels))
    parse_files(str(repo), rels, cache_dir=str(cache))
    for pack in (cache / "parsed").iterdir():
        pack.write_bytes(pack.read_bytes()[:100])
    assert _view(*parse_files(str(repo), rels, cache_dir=str(cache))) == fresh
    for pack in (cache / "parsed").iterdir():
        pack.write_bytes(b"\x00garbage")
    assert _view(*parse_files(str(repo), rels, cache_dir=str(cache))) == fresh


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the corpus (../shared/corpus) is absent")
def test_every_corpus_file_reads_back_from_the_cache_as_parsed(tmp_path):
    from scanner.sources.discover import discover
    for repo in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        fs = discover(str(repo))
        fresh = _view(*parse_files(fs.root, fs.yaml_files))
        cache = tmp_path / repo.name
        parse_files(fs.root, fs.yaml_files, cache_dir=str(cache))
        assert _view(*parse_files(fs.root, fs.yaml_files, cache_dir=str(cache))) == fresh, repo.name
