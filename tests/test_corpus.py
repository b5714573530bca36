"""Every real repo in ../shared/corpus scans to a schema-valid report (skipped when absent)."""
from __future__ import annotations

import json

import jsonschema
import pytest

from scanner.core.model import LAYERS
from scanner.engine.report_schema import SCHEMA_PATH
from tests.support.paths import CORPUS
from tests.support.scanning import scan

SCHEMA = json.loads(SCHEMA_PATH.read_text())
REPOS = sorted(p for p in CORPUS.glob("*") if p.is_dir()) if CORPUS.is_dir() else []
EXPECTED_INPUT_ERRORS = {"yaml-invalid", "yaml-helm-template", "yaml-duplicate-key", "yaml-invalid-value",
                         "kustomize-build-failed", "kustomize-ref-missing", "kustomize-cycle", "flux-path-missing",
                         "flux-path-not-found", "flux-postbuild-failed", "resourceset-failed"}


@pytest.fixture(scope="module")
def reports():
    if not REPOS:
        pytest.skip("../shared/corpus is not present")
    return {p.name: scan(str(p)) for p in REPOS}


@pytest.mark.parametrize("name", [p.name for p in REPOS] or ["(none)"])
def test_corpus_repo_scans_clean(reports, name):
    run = reports[name]
    report = run.report.to_json_dict()
    jsonschema.validate(json.loads(json.dumps(report)), SCHEMA)
    assert set(report["score"]["layers"]) >= set(LAYERS)
    assert {c["layer"] for c in report["checks"]} >= set(LAYERS)
    assert not [c["id"] for c in report["checks"] if c["status"] == "error"], "no check may crash"
    assert report["scan"]["entry_point"]["found"], "every corpus repo has a Flux entry point"
    # Scan errors are only for files that really are not YAML documents (templates, broken files), and
    # for builds Flux itself would fail (the YAML-only corpus copies lack generator source files).
    for err in report["errors"]:
        if err["kind"] == "input":
            assert err["code"] in EXPECTED_INPUT_ERRORS or err["code"].startswith("helm-"), err
    assert report["scan"]["stats"]["workloads"] > 0 and report["scan"]["stats"]["routes"] > 0


def test_target_cluster_shape(reports):
    name = "dapperdivers__dapper-cluster"
    if name not in reports:
        pytest.skip("target cluster not in corpus")
    inv = reports[name].inventory
    assert len([r for r in inv.of_kind("Kustomization") if r.api_version.startswith("kustomize.toolkit")]) >= 125
    assert len(inv.deployed_files) >= 650
    archived = [r for r in inv.resources if r.path.startswith(".archive/")]
    assert archived and not any(r.deployed for r in archived)
