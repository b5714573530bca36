"""JUnit XML for CI test views: one testsuite per layer, one testcase per check subject.

Mapping: fail -> <failure>; waived -> <skipped> (an accepted risk is deliberately not enforced);
warn -> a passing case with the warning in <system-out> (a warning should show, not break the
build: the gate decides that); mitigated -> a passing case whose <system-out> names the layer that
enforces the control; a check that crashed -> <error>; a check with nothing to judge ->
one case, skipped when not applicable. Scan input errors get a suite of their own, one case per
error, named by its code.

The XML is built with junitparser (its TestSuite/TestCase classes keep the counts consistent);
`clean` stays ours: no XML writer can carry C0 control characters, so they are shown as \\xNN.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from junitparser import Attr, Error, Failure, IntAttr, JUnitXml, Skipped, TestCase, TestSuite

from reports.interface import RenderOptions
from scanner.core.model import LAYERS
from scanner.engine.report_model import CheckResult, Finding, Report

FILENAME = "posture-report.junit.xml"

# Characters XML 1.0 cannot carry at all, even escaped (C0 controls but tab/LF/CR, surrogates, FFFE/FFFF).
_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(value: object) -> str:
    """Text safe for XML: invalid characters shown as \\xNN instead of breaking the parser."""
    s = "" if value is None else str(value)
    if s.isprintable():  # no control character, surrogate or noncharacter: nothing to replace (most text)
        return s
    return _INVALID_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


class _Case(TestCase):
    """A testcase with the file and line attributes CI views use to annotate sources."""

    file = Attr()
    line = IntAttr()


def _case(classname: str, name: str, *, file: str | None = None, line: int | None = None) -> _Case:
    tc = _Case(clean(name), clean(classname), 0)
    if file and "://" not in file:
        tc.file = clean(file)
        if isinstance(line, int):
            tc.line = line
    return tc


def _mark(tc: TestCase, result_cls, message: str, text: str | None = None, type_: str | None = None) -> None:
    result = result_cls(clean(message)[:1000], clean(type_) if type_ else None)
    if text:
        result.text = text
    tc.result = [result]


def _details(f: Finding, check: CheckResult) -> str:
    lines = [clean(f.message)]
    res = f.resource
    if f.where:
        lines.append(f"Location: {clean(f.where)}")
    if res is not None and res.name:
        lines.append(f"Resource: {clean(res.kind)} {clean(res.namespace or '-')}/{clean(res.name)}")
    lines.append(f"Severity: {clean(f.severity)}")
    remediation = f.remediation or check.remediation
    if remediation:
        lines.append(f"Remediation: {clean(remediation)}")
    if check.references:
        lines.append("References: " + ", ".join(clean(r) for r in check.references))
    lines.append(f"Fingerprint: {clean(f.fingerprint)}")
    return "\n".join(lines)


def _check_cases(check: CheckResult) -> list[TestCase]:
    cases = []
    if check.status == "error" or check.error:
        tc = _case(check.id, "(check)")
        _mark(tc, Error, check.error or "check failed", clean(check.error), "check-error")
        cases.append(tc)
    if not check.findings and check.status != "error":
        tc = _case(check.id, "(check)")
        if check.status == "not_applicable":
            _mark(tc, Skipped, "not applicable: nothing in the scan for this check to judge")
        elif check.status in ("fail", "warn"):
            # A verdict without subjects (engine-level): still visible in the CI view.
            _mark(tc, Failure, check.title or check.id, clean(check.remediation), check.severity)
        cases.append(tc)
    for f in check.findings:
        loc = f.location
        tc = _case(check.id, f.subject or f.message or "(subject)", file=loc.path if loc else None,
                   line=loc.line if loc else None)
        if f.status == "fail":
            _mark(tc, Failure, f.message, _details(f, check), f.severity)
        elif f.status == "waived":
            w = f.waiver
            _mark(tc, Skipped, f"waived: {(w.reason if w else None) or 'no reason'} "
                               f"(expires {(w.expires if w else None) or 'never'})")
        elif f.status == "warn":
            tc.system_out = "WARNING: " + _details(f, check)
        elif f.status == "mitigated":  # passes: another layer enforces what the manifest lacks
            tc.system_out = clean(f"MITIGATED: {f.message}\n{f.mitigation_text}")
        cases.append(tc)
    return cases


def _new_suite(name: str, stamp: str | None) -> TestSuite:
    suite = TestSuite(clean(name))
    if stamp:
        suite.timestamp = stamp
    return suite


def build(report: Report) -> JUnitXml:
    stamp = report.scan.started_at[:19] or None  # JUnit's timestamp has no zone
    root = JUnitXml(clean(report.tool.name))
    for layer in (l for l in LAYERS if any(c.layer == l for c in report.checks)):
        suite = _new_suite(layer, stamp)
        score = report.score.layers.get(layer)
        # properties before the cases, as the JUnit schema orders them
        suite.add_property("score", clean(score.score if score else None))
        suite.add_property("grade", clean(score.grade if score else None))
        for check in report.checks:
            if check.layer == layer:
                suite.extend(_check_cases(check))
        root.add_testsuite(suite)
    problems = report.problems()
    if problems:
        suite = _new_suite("scan-inputs", stamp)
        for e in problems:
            tc = _case(f"scan.{e.kind}", f"{e.code}: {e.path}", file=e.path, line=e.line)
            where = f"{e.path}:{e.line}" if e.line else e.path
            _mark(tc, Error, f"[{e.code}] {e.message}", f"{clean(e.message)}\nLocation: {clean(where)}", e.code)
            suite.append(tc)
        root.add_testsuite(suite)
    # Counted once here, for every suite and the root: junitparser's add_testcase(s) recounts the
    # whole suite on each call (quadratic in the cases of a layer).
    root.update_statistics()
    root.time = round(report.scan.duration_s, 3)
    return root


def render(report: Report, options: RenderOptions | None = None) -> str:
    xml = build(report)
    elem = xml._elem
    if not isinstance(elem, ET.Element):  # junitparser on lxml: indent with the standard library
        elem = ET.fromstring(xml.tostring())
    ET.indent(elem, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(elem, encoding="unicode") + "\n"
