"""The bench's inputs are what it says they are: the synthetic repo is a well-formed Flux tree whose
apps build (every file a kustomization lists exists, every variable a manifest uses is substituted:
Flux 2.x fails an app with an unset one), and the bench's edit changes one value of one app, a new
value each run (each warm-edit run must miss the build cache). No timings here."""
from __future__ import annotations

import importlib.util
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up there)
    spec.loader.exec_module(module)
    return module


synth = _load("synth")
run = _load("run")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic-1x")
    return root, synth.generate(str(root), 1)


def test_synthetic_repo_is_a_whole_flux_tree(repo):
    root, shape = repo
    docs = {path: list(yaml.safe_load_all(path.read_text())) for path in root.rglob("*.yaml")}
    kinds = [d.get("kind") for ds in docs.values() for d in ds if d]
    assert kinds.count("HelmRelease") == shape["apps"] == synth.BASE_APPS
    assert kinds.count("Namespace") == shape["namespaces"]
    for path, ds in docs.items():
        for doc in ds:
            if doc and doc.get("kind") == "Kustomization" and "resources" in doc:  # kustomize's, not Flux's
                for entry in doc["resources"]:
                    assert (path.parent / entry).exists(), f"{path} lists missing {entry}"
    for ks in root.glob("kubernetes/apps/*/*/ks.yaml"):
        defined = set(yaml.safe_load(ks.read_text())["spec"]["postBuild"]["substitute"])
        used = set(re.findall(r"\$\{(\w+)\}", "".join(p.read_text() for p in (ks.parent / "app").iterdir())))
        assert used <= defined, f"{ks}: {used - defined} not substituted"


def test_edit_changes_one_value_of_one_app_each_time(repo, tmp_path):
    found = run.app_helmrelease(str(repo[0]))
    assert os.path.basename(found) == "helmrelease.yaml"
    before = Path(found).read_text()
    path = tmp_path / "helmrelease.yaml"
    path.write_text(before)
    run.edit_one_app(path, 11)
    first = Path(path).read_text()
    run.edit_one_app(path, 12)
    second = Path(path).read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), first.splitlines()) if a != b]
    assert changed == [("  interval: 30m", "  interval: 11m")]
    assert second == first.replace("interval: 11m", "interval: 12m")
    assert [d["spec"]["interval"] for d in yaml.safe_load_all(second) if d["kind"] == "HelmRelease"] == ["12m"]


def test_leak_files_are_five_neighbours_with_a_sops_secret(repo):
    files = run.leak_files(str(repo[0]))
    assert len(files) == 5 and any(f.endswith(".sops.yaml") for f in files)
