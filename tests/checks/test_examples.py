"""Every check ships named example cases with exact expectations (checks/examples/<id>/).

A case is `<case>.yaml` (one file, scanned as a repository) or `<case>/` (a small repository), with
`<case>.expected.yaml` beside it listing every finding of the check, subject and status, no more
and no fewer (order-free). `pass` and `fail` are the first two cases of every check; a check that
fails in several ways has a case for each. tests/support/examples.py writes a first expectation
for a new case (to be read and corrected, never accepted blindly)."""
from __future__ import annotations

import pytest

from scanner.engine.plugins import discover
from tests.support.examples import EXAMPLES, SUFFIX, actual, cases, expectation_path, expected, scan_case

SPECS, _ = discover()
# Live-only checks judge cluster objects; their examples are the fake API server's fixture clusters
# (tests/fakekube, tests/test_live_*.py), not repositories.
BUILTIN = [s for s in SPECS if s.module.startswith("checks.") and s.module != "checks.live"]
ALL_CASES = [(s, name, src) for s in BUILTIN for name, src in cases(s.id).items()]


@pytest.mark.parametrize("spec", BUILTIN, ids=lambda s: s.id)
def test_every_check_has_pass_and_fail_cases_with_expectations(spec):
    found = cases(spec.id)
    assert {"pass", "fail"} <= set(found), f"{spec.id}: needs pass and fail cases in {EXAMPLES / spec.id}"
    missing = [name for name in found if not expectation_path(spec.id, name).exists()]
    assert not missing, f"{spec.id}: cases without {SUFFIX}: {missing}"
    assert any(status == "fail" for name in found for _, status in expected(spec.id, name)), \
        f"{spec.id}: no case expects a failing subject"
    assert any(status == "pass" for _, status in expected(spec.id, "pass")), f"{spec.id}: pass case passes nothing"
    assert not any(status == "fail" for _, status in expected(spec.id, "pass")), f"{spec.id}: pass case fails"


def test_no_expectation_without_its_case():
    known = {(s.id, name) for s, name, _ in ALL_CASES}
    stray = [p for p in EXAMPLES.glob(f"*/*{SUFFIX}") if (p.parent.name, p.name[: -len(SUFFIX)]) not in known
             and p.parent.name in {s.id for s in BUILTIN}]
    assert not stray, f"expectations with no case beside them: {stray}"


@pytest.mark.parametrize("spec,case,src", ALL_CASES, ids=[f"{s.id}/{n}" for s, n, _ in ALL_CASES])
def test_case_gives_exactly_the_expected_findings(spec, case, src, tmp_path):
    if not expectation_path(spec.id, case).exists():
        pytest.fail(f"{spec.id}/{case}: no {SUFFIX}")
    check = scan_case(spec.id, src, tmp_path)
    assert check.error is None, check.error
    want, got = expected(spec.id, case), actual(check)
    assert got == want, {"missing": sorted((want - got).elements()), "unexpected": sorted((got - want).elements()),
                         "messages": [f"{f.subject}: {f.status}: {f.message}" for f in check.findings]}
    for f in check.findings:
        if f.status in ("fail", "warn"):
            assert f.location or f.resource, f"{spec.id}/{case}: {f.subject}: a finding names its file or object"
            assert f.remediation, f"{spec.id}/{case}: a finding must say how to fix it"
