"""The scanned repo is hostile: no kustomization may read a file outside the repo, run anything,
or hang the scan. Paths are refused before anything runs."""
from __future__ import annotations

import json
import os
import uuid

import pytest

from scanner.inventory.builder import HOW_FAILED, BuildRequest
from tests.support.builder import engine, make_repo

ESCAPES = {
    "generator-file": """
        configMapGenerator:
          - name: loot
            files: [passwd=../../outside/secret.txt]
        """,
    "generator-env": "secretGenerator:\n  - name: loot\n    envs: [../../outside/secret.txt]\n",
    "absolute-resource": "resources: [{outside}/secret.yaml]\n",
    "absolute-generator": "configMapGenerator:\n  - name: loot\n    files: [{outside}/secret.txt]\n",
    "dir-resource": "resources: [../../outside]\n",
    "patch-path": "resources: [cm.yaml]\npatches: [{path: ../../outside/secret.yaml}]\n",
    "smp-path": "resources: [cm.yaml]\npatchesStrategicMerge: [../../outside/secret.yaml]\n",
    "inline-transformer": """
        resources: [cm.yaml]
        transformers:
          - |
            apiVersion: builtin
            kind: PatchTransformer
            metadata: {name: p}
            path: ../../outside/secret.yaml
        """,
    "transformer-file": "resources: [cm.yaml]\ntransformers: [t.yaml]\n",
    "component": "components: [../../outside]\n",
    "crds": "resources: [cm.yaml]\ncrds: [../../outside/secret.yaml]\n",
}


@pytest.fixture
def planted(tmp_path):
    """A repo, and beside it a directory with a secret no build may read."""
    secret = f"TOPSECRET-{uuid.uuid4()}"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"KEY={secret}\n")
    (outside / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm}}\ndata: {{loot: {secret}}}\n")
    (outside / "kustomization.yaml").write_text("resources: [secret.yaml]\n")
    return tmp_path, outside, secret


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_paths_leaving_the_repo_are_refused_and_nothing_is_read(planted, case):
    base, outside, secret = planted
    repo = base / "repo"
    root, files = make_repo(repo, {
        "app/kustomization.yaml": ESCAPES[case].replace("{outside}", str(outside)),
        "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
        "app/t.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata: {name: p}\npath: ../../outside/secret.yaml\n",
    })
    for mode in ("binary", "auto"):
        eng = engine(root, files, mode)
        (out,) = eng.build_many([BuildRequest("r", "app")])
        assert out.how == HOW_FAILED and out.objects == []
        assert any(e.code == "kustomize-path-refused" for e in out.errors), out.errors
        assert any(g.code == "path-escape" for g in out.gaps)
        assert eng.runner is None or eng.runner.processes == 0  # refused before kustomize ran
        dump = json.dumps([[o.body for o in out.objects], [e.message for e in out.errors],
                           [g.message for g in out.gaps]])
        assert secret not in dump


def test_escaping_paths_are_refused_anywhere_in_the_graph(planted):
    base, outside, secret = planted
    root, files = make_repo(base / "repo", {
        "app/kustomization.yaml": "resources: [../base]\n",
        "base/kustomization.yaml": "resources: [../nested]\n",
        "nested/kustomization.yaml": "configMapGenerator:\n  - name: loot\n    envs: [../../outside/secret.txt]\n",
    })
    (out,) = engine(root, files).build_many([BuildRequest("r", "app")])
    assert out.how == HOW_FAILED and out.gaps[0].path == "nested/kustomization.yaml"
    assert secret not in json.dumps([e.message for e in out.errors])


def test_a_flux_path_cannot_leave_the_repo(planted):
    base, outside, secret = planted
    root, files = make_repo(base / "repo", {"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"})
    # kustomize-controller joins spec.path to the source root securely: `..` stops at the root.
    (out,) = engine(root, files).build_many([BuildRequest("r", "../../outside")])
    assert out.how == HOW_FAILED and secret not in json.dumps([o.body for o in out.objects])


def test_plugins_and_functions_never_run(tmp_path):
    marker = tmp_path / "ran"
    root, files = make_repo(tmp_path / "repo", {
        "app/kustomization.yaml": "resources: [cm.yaml]\ngenerators: [gen.yaml]\ntransformers: [fn.yaml]\n",
        "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n",
        "app/gen.yaml": f"""
            apiVersion: example.com/v1
            kind: MyGen
            metadata:
              name: gen
              annotations:
                config.kubernetes.io/function: |
                  exec:
                    path: ./fn.sh
            """,
        "app/fn.yaml": """
            apiVersion: example.com/v1
            kind: MyFn
            metadata:
              name: fn
              annotations:
                config.kubernetes.io/function: |
                  container:
                    image: docker.io/library/busybox
            """,
        "app/fn.sh": f"#!/bin/sh\ntouch {marker}\n",
    })
    (tmp_path / "repo" / "app" / "fn.sh").chmod(0o755)
    (out,) = engine(root, files).build_many([BuildRequest("r", "app")])
    assert out.how == HOW_FAILED
    assert "plugin" in out.errors[0].message
    assert not marker.exists()


def test_cycles_and_absurd_nesting_end_in_clear_errors(tmp_path):
    deep = {f"d{i}/kustomization.yaml": f"resources: [../d{i + 1}]\n" for i in range(200)}
    deep["d200/kustomization.yaml"] = "resources: [cm.yaml]\n"
    deep["d200/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"
    root, files = make_repo(tmp_path, {
        "a/kustomization.yaml": "resources: [../b]\n",
        "b/kustomization.yaml": "resources: [../c]\n",
        "c/kustomization.yaml": "resources: [../a]\n",
        "self/kustomization.yaml": "resources: [.]\n",
        **deep,
    })
    eng = engine(root, files)
    cyc, selfref, nested = eng.build_many([BuildRequest("c", "a"), BuildRequest("s", "self"),
                                           BuildRequest("n", "d0")])
    assert cyc.how == HOW_FAILED and "kustomization cycle: a -> b -> c -> a" in cyc.errors[0].message
    assert selfref.how == HOW_FAILED and "cycle" in selfref.errors[0].message
    assert nested.how == HOW_FAILED and "nested deeper than" in nested.errors[0].message
    assert eng.runner is None or eng.runner.processes == 0


def test_links_out_of_the_repo_are_not_followed(planted):
    base, outside, secret = planted
    repo = base / "repo"
    root, _ = make_repo(repo, {"app/kustomization.yaml": "resources: [cm.yaml, leak.yaml]\n",
                               "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n"})
    os.symlink(outside / "secret.yaml", repo / "app" / "leak.yaml")
    from tests.support.flux_requests import repo_files
    files = repo_files(root)  # as discovery lists them: regular files only
    assert "app/leak.yaml" not in files
    (out,) = engine(root, files).build_many([BuildRequest("r", "app")])
    assert out.how == HOW_FAILED
    assert secret not in json.dumps([[o.body for o in out.objects], [e.message for e in out.errors]])
