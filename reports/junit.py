"""JUnit XML for CI test views: one testsuite per layer, one testcase per check subject.

Mapping: fail -> <failure>; waived -> <skipped> (an accepted risk is deliberately not enforced);
warn -> a passing case with the warning in <system-out> (a warning should show, not break the
build: the gate decides that); mitigated -> a passing case whose <system-out> names the layer that
enforces the control; a check that crashed -> <error>; a check with nothing to judge ->
one case, skipped when not applicable. Scan input errors get a suite of their own.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from reports.sarif import mitigation_text

FILENAME = "posture-report.junit.xml"

LAYERS = ("perimeter", "segmentation", "nodes", "workloads", "secrets", "authentication", "policy",
          "gitops", "backups", "monitoring")
# Characters XML 1.0 cannot carry at all, even escaped (C0 controls but tab/LF/CR, surrogates, FFFE/FFFF).
_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(value: object) -> str:
    """Text safe for XML: invalid characters shown as \\xNN instead of breaking the parser."""
    s = "" if value is None else str(value)
    return _INVALID_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", s)


def _loc(f: dict) -> str:
    loc = f.get("location") or {}
    if not loc.get("path"):
        return ""
    return f"{loc['path']}:{loc['line']}" if loc.get("line") else str(loc["path"])


def _details(f: dict, check: dict) -> str:
    lines = [clean(f.get("message"))]
    res = f.get("resource") or {}
    if _loc(f):
        lines.append(f"Location: {clean(_loc(f))}")
    if res.get("name"):
        lines.append(f"Resource: {clean(res.get('kind'))} {clean(res.get('namespace') or '-')}/{clean(res['name'])}")
    lines.append(f"Severity: {clean(f.get('severity') or check.get('severity'))}")
    remediation = f.get("remediation") or check.get("remediation")
    if remediation:
        lines.append(f"Remediation: {clean(remediation)}")
    refs = check.get("references") or []
    if refs:
        lines.append("References: " + ", ".join(clean(r) for r in refs))
    if f.get("fingerprint"):
        lines.append(f"Fingerprint: {clean(f['fingerprint'])}")
    return "\n".join(lines)


class _Suite:
    def __init__(self, name: str, timestamp: str | None):
        self.el = ET.Element("testsuite", name=clean(name))
        if timestamp:
            self.el.set("timestamp", clean(timestamp))
        self.n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(self, classname: str, name: str, *, file: str | None = None, line: int | None = None) -> ET.Element:
        self.n["tests"] += 1
        tc = ET.SubElement(self.el, "testcase", classname=clean(classname), name=clean(name), time="0")
        if file and "://" not in file:
            tc.set("file", clean(file))
            if isinstance(line, int):
                tc.set("line", str(line))
        return tc

    def mark(self, tc: ET.Element, tag: str, message: str, text: str | None = None, type_: str | None = None):
        self.n[{"failure": "failures", "error": "errors", "skipped": "skipped"}[tag]] += 1
        el = ET.SubElement(tc, tag, message=clean(message)[:1000])
        if type_:
            el.set("type", clean(type_))
        if text:
            el.text = text
        return el

    def close(self) -> ET.Element:
        for k, v in self.n.items():
            self.el.set(k, str(v))
        self.el.set("time", "0")
        return self.el


def _check_cases(suite: _Suite, check: dict) -> None:
    cid = check.get("id") or "unknown"
    findings = check.get("findings") or []
    if check.get("status") == "error" or check.get("error"):
        tc = suite.case(cid, "(check)")
        suite.mark(tc, "error", check.get("error") or "check failed", clean(check.get("error")), "check-error")
    if not findings and check.get("status") != "error":
        tc = suite.case(cid, "(check)")
        if check.get("status") == "not_applicable":
            suite.mark(tc, "skipped", "not applicable: nothing in the scan for this check to judge")
        elif check.get("status") in ("fail", "warn"):
            # A verdict without subjects (engine-level): still visible in the CI view.
            suite.mark(tc, "failure", check.get("title") or cid, clean(check.get("remediation")), check.get("severity"))
    for f in findings:
        loc = f.get("location") or {}
        tc = suite.case(cid, f.get("subject") or f.get("message") or "(subject)", file=loc.get("path"), line=loc.get("line"))
        status = f.get("status")
        if status == "fail":
            suite.mark(tc, "failure", f.get("message") or "", _details(f, check), f.get("severity") or check.get("severity"))
        elif status == "waived":
            w = f.get("waiver") or {}
            suite.mark(tc, "skipped", f"waived: {w.get('reason') or 'no reason'} (expires {w.get('expires') or 'never'})")
        elif status == "warn":
            ET.SubElement(tc, "system-out").text = "WARNING: " + _details(f, check)
        elif status == "mitigated":  # passes: another layer enforces what the manifest lacks
            ET.SubElement(tc, "system-out").text = clean(f"MITIGATED: {f.get('message') or ''}\n{mitigation_text(f)}")


def build(report: dict) -> ET.Element:
    scan = report.get("scan") or {}
    stamp = (scan.get("started_at") or "")[:19] or None  # JUnit's timestamp has no zone
    checks = report.get("checks") or []
    present = [l for l in LAYERS if any(c.get("layer") == l for c in checks)]
    present += sorted({c.get("layer") or "unknown" for c in checks} - set(present))
    root = ET.Element("testsuites", name=clean((report.get("tool") or {}).get("name") or "gitops-posture"))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    suites = []
    for layer in present:
        suite = _Suite(layer, stamp)
        layer_score = ((report.get("score") or {}).get("layers") or {}).get(layer) or {}
        props = ET.SubElement(suite.el, "properties")  # before the cases, as the JUnit schema orders it
        ET.SubElement(props, "property", name="score", value=clean(layer_score.get("score")))
        ET.SubElement(props, "property", name="grade", value=clean(layer_score.get("grade")))
        for c in checks:
            if (c.get("layer") or "unknown") == layer:
                _check_cases(suite, c)
        suites.append(suite)
    errors = [e for e in report.get("errors") or [] if e.get("kind") != "notice"]
    if errors:
        suite = _Suite("scan-inputs", stamp)
        for e in errors:
            tc = suite.case(f"scan.{clean(e.get('kind') or 'input')}", str(e.get("path") or "?"),
                            file=e.get("path"), line=e.get("line"))
            where = f"{e.get('path')}:{e.get('line')}" if e.get("line") else str(e.get("path"))
            suite.mark(tc, "error", e.get("message") or "scan error", f"{clean(e.get('message'))}\nLocation: {clean(where)}", e.get("kind"))
        suites.append(suite)
    for suite in suites:
        root.append(suite.close())
        for k in totals:
            totals[k] += suite.n[k]
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{scan.get('duration_s') or 0:.3f}")
    return root


def render(report: dict, options: dict | None = None) -> str:
    root = build(report)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
