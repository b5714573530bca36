"""JUnit XML: parses, one suite per layer, one case per subject, failures carry the finding."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports import junit
from scanner.core.model import LAYERS
from tests.support.reports import SCRIPT, make_report, minimal_report, render


@pytest.fixture(scope="module")
def report():
    return make_report(120)


@pytest.fixture(scope="module")
def root(report):
    return ET.fromstring(render(junit, report).encode("utf-8"))


def test_module_contract():
    assert junit.FILENAME == "posture-report.junit.xml"


def test_one_suite_per_layer_plus_inputs(root):
    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == list(LAYERS) + ["scan-inputs"]


def test_counts_match_the_report(root, report):
    findings = [f for c in report["checks"] for f in c["findings"]]
    n_fail = sum(f["status"] == "fail" for f in findings)
    n_waived = sum(f["status"] == "waived" for f in findings)
    no_findings = [c for c in report["checks"] if not c["findings"] and c["status"] != "error"]
    errored = [c for c in report["checks"] if c["status"] == "error"]
    n_na = sum(c["status"] == "not_applicable" for c in no_findings)
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(findings) + len(no_findings) + len(errored) + len(report["errors"])
    assert int(root.get("tests")) == len(cases)
    assert int(root.get("failures")) == n_fail == len(root.findall("testsuite/testcase/failure"))
    assert int(root.get("skipped")) == n_waived + n_na == len(root.findall("testsuite/testcase/skipped"))
    assert int(root.get("errors")) == len(errored) + len(report["errors"])
    for suite in root.findall("testsuite"):
        assert int(suite.get("tests")) == len(suite.findall("testcase"))
        assert int(suite.get("failures")) == len(suite.findall("testcase/failure"))


def test_cases_name_check_and_subject(root, report):
    check = report["checks"][0]
    f = next(f for f in check["findings"] if f["status"] == "fail" and f["location"])
    case = next(tc for tc in root.iter("testcase") if tc.get("classname") == check["id"] and tc.get("name") == f["subject"])
    failure = case.find("failure")
    assert failure.get("message") == f["message"]
    assert failure.get("type") == f["severity"]
    assert f"Location: {f['location']['path']}:{f['location']['line']}" in failure.text
    assert "Remediation: " in failure.text
    assert case.get("file") == f["location"]["path"]
    assert SCRIPT in failure.text or SCRIPT not in f["message"]  # text survives, escaped by the XML writer


def test_warn_is_visible_but_not_a_failure(root, report):
    f = next(f for c in report["checks"] for f in c["findings"] if f["status"] == "warn")
    case = next(tc for tc in root.iter("testcase") if tc.get("name") == f["subject"])
    assert case.find("failure") is None
    assert case.find("system-out").text.startswith("WARNING: ")


def test_control_characters_do_not_break_xml():
    r = make_report(6)
    r["checks"][0]["findings"][0]["message"] = "bad \x1b[31mred\x00 \x07 \ufffe & < > \" ' end"
    r["checks"][0]["findings"][0]["subject"] = "sub\x0bject"
    text = render(junit, r)
    root = ET.fromstring(text.encode("utf-8"))
    msgs = [fl.get("message") for fl in root.iter("failure")]
    assert any("\\x1b[31mred\\x00" in m and "& < >" in m for m in msgs)
    assert any(tc.get("name") == "sub\\x0bject" for tc in root.iter("testcase"))


def test_empty_report():
    root = ET.fromstring(render(junit, minimal_report()))
    assert root.tag == "testsuites" and root.get("tests") == "0"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, blacklist_categories=()), max_size=40))
def test_clean_replaces_exactly_what_xml_cannot_carry(text):
    # (clean skips the search for printable text: every character XML cannot carry is unprintable)
    expected = junit._INVALID_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    assert junit.clean(text) == expected
