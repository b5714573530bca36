"""Build outcomes are cached by the content of their inputs."""
from __future__ import annotations

from pathlib import Path

from scanner.inventory.builder import BuildRequest, FluxOverlay
from tests.support.builder import canonical, engine, make_repo


def _repo(tmp_path):
    files = {}
    for name in ("one", "two", "three"):
        files[f"apps/{name}/kustomization.yaml"] = (
            "resources: [deploy.yaml]\nconfigMapGenerator:\n  - name: cfg\n    files: [app.conf]\n")
        files[f"apps/{name}/app.conf"] = f"name={name}\n"
        files[f"apps/{name}/deploy.yaml"] = f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\n"
    return make_repo(tmp_path / "repo", files)


REQUESTS = [BuildRequest(n, f"apps/{n}", FluxOverlay(target_namespace=n)) for n in ("one", "two", "three")]


def test_a_warm_run_hits_and_an_edit_rebuilds_only_its_request(tmp_path):
    root, files = _repo(tmp_path)
    cache = str(tmp_path / "cache")
    cold = engine(root, files, cache_dir=cache).build_many(REQUESTS)
    assert [o.cached for o in cold] == [False] * 3

    eng = engine(root, files, cache_dir=cache)
    warm = eng.build_many(REQUESTS)
    assert [o.cached for o in warm] == [True] * 3
    assert eng.runner.processes == 0
    assert [canonical(o) for o in warm] == [canonical(o) for o in cold]
    assert [o.files_used for o in warm] == [o.files_used for o in cold]

    Path(root, "apps/two/app.conf").write_text("name=edited\n")
    eng = engine(root, files, cache_dir=cache)
    edited = eng.build_many(REQUESTS)
    assert [o.cached for o in edited] == [True, False, True]
    cm = next(o for o in edited[1].objects if o.body["kind"] == "ConfigMap")
    assert cm.body["data"] == {"app.conf": "name=edited\n"}

    # Another overlay is another build.
    other = engine(root, files, cache_dir=cache).build_many(
        [BuildRequest("one-elsewhere", "apps/one", FluxOverlay(target_namespace="elsewhere"))])
    assert not other[0].cached and other[0].objects[0].body["metadata"]["namespace"] == "elsewhere"


def test_a_new_file_in_a_generated_path_is_a_new_build(tmp_path):
    root, files = make_repo(tmp_path / "repo", {"plain/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    cache = str(tmp_path / "cache")
    engine(root, files, cache_dir=cache).build_many([BuildRequest("p", "plain")])
    root, files = make_repo(tmp_path / "repo", {"plain/b.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"})
    (out,) = engine(root, files, cache_dir=cache).build_many([BuildRequest("p", "plain")])
    assert not out.cached and len(out.objects) == 2


def test_a_corrupt_entry_is_ignored(tmp_path):
    root, files = _repo(tmp_path)
    cache = tmp_path / "cache"
    cold = engine(root, files, cache_dir=str(cache)).build_many(REQUESTS)
    entries = list((cache / "kustomize-builds").rglob("*.json"))
    assert len(entries) == 3
    entries[0].write_text("{not json")
    entries[1].write_text('{"objects": 3}')
    again = engine(root, files, cache_dir=str(cache)).build_many(REQUESTS)
    assert sorted(o.cached for o in again) == [False, False, True]
    assert [canonical(o) for o in again] == [canonical(o) for o in cold]


def test_secrets_with_plain_values_are_never_written_to_the_cache(tmp_path):
    root, files = make_repo(tmp_path / "repo", {
        "plain/kustomization.yaml": "secretGenerator:\n  - name: creds\n    literals: [password=hunter2-value]\n",
        "sops/kustomization.yaml": "resources: [secret.sops.yaml]\n",
        "sops/secret.sops.yaml": """
            apiVersion: v1
            kind: Secret
            metadata: {name: creds}
            stringData: {password: "ENC[AES256_GCM,data:abc=,iv:def=,tag:ghi=,type:str]"}
            sops: {mac: "ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]", version: 3.9.0}
            """,
    })
    cache = tmp_path / "cache"
    plain, sops = engine(root, files, cache_dir=str(cache)).build_many(
        [BuildRequest("p", "plain"), BuildRequest("s", "sops")])
    assert plain.objects[0].body["kind"] == "Secret" and sops.objects[0].body["kind"] == "Secret"
    entries = list((cache / "kustomize-builds").rglob("*.json"))
    assert len(entries) == 1 and "ENC[AES256_GCM" in entries[0].read_text()  # ciphertext may be kept
    assert not any("aHVudGVyMi12YWx1ZQ" in p.read_text() or "hunter2" in p.read_text() for p in entries)
    every_file = [p for p in cache.rglob("*") if p.is_file()]
    assert not any(b"aHVudGVyMi12YWx1ZQ" in p.read_bytes() or b"hunter2" in p.read_bytes() for p in every_file)
