"""Scan error codes: stable, kebab-case, registered, shown in every format beside the message."""
from __future__ import annotations

import json
import re

from reports import junit, markdown, prometheus, sarif
from scanner.core.errors import DEFAULT_CODE_FOR_KIND, ERROR_CODES
from scanner.core.model import ScanError
from tests.support.paths import ROOT
from tests.support.reports import make_report, render

KEBAB = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# code="...", and the positional code argument of the helpers that take one last.
USES = re.compile(r'code="([^"]+)"|_notice\(inv, "([^"]+)"|LoadError\([^()]*, "([a-z0-9-]+)"\)|"(yaml-[a-z-]+)"')


def test_codes_are_kebab_case_and_described():
    assert all(KEBAB.match(c) and ERROR_CODES[c] for c in ERROR_CODES)
    assert set(DEFAULT_CODE_FOR_KIND.values()) <= set(ERROR_CODES)


def test_every_code_used_in_the_tree_is_registered():
    used = set()
    for py in [*ROOT.glob("scanner/**/*.py"), *ROOT.glob("checks/*.py")]:
        for m in USES.finditer(py.read_text(encoding="utf-8")):
            used.add(next(g for g in m.groups() if g))
    assert len(used) >= 15
    assert used - set(ERROR_CODES) == set()


def test_a_scan_error_without_a_code_gets_its_kinds_fallback():
    assert ScanError("a.yaml", 1, "x").code == "input-error"
    assert ScanError("(sops)", None, "x", kind="notice").code == "notice"
    assert ScanError("a.yaml", 1, "x", code="yaml-invalid").as_dict()["code"] == "yaml-invalid"


def test_errors_are_sorted_deterministically():
    errs = [ScanError("b.yaml", 2, "m", code="yaml-invalid"), ScanError("a.yaml", None, "z", code="link-broken"),
            ScanError("a.yaml", 3, "a", code="file-binary"), ScanError("a.yaml", 3, "a", code="file-binary")]
    assert [(e.path, e.line) for e in sorted(errs, key=ScanError.sort_key)] == [
        ("a.yaml", None), ("a.yaml", 3), ("a.yaml", 3), ("b.yaml", 2)]


def test_every_format_shows_the_code():
    report = make_report(10)
    code = report["errors"][0]["code"]
    assert code == "yaml-invalid"
    assert f"[{code}]" in render(junit, report)
    doc = json.loads(render(sarif, report))
    notes = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any(n.get("descriptor", {}).get("id") == code for n in notes)
    assert "posture_scan_errors" in render(prometheus, report)  # a count: codes are in the JSON and the others
    assert f"scan errors: 1 (`{code}`)" in render(markdown, report)
