"""SARIF 2.1.0 for code-scanning UIs (GitHub, GitLab, Azure DevOps).

One rule per check; one result per failing or warning finding. The finding's fingerprint goes into
`partialFingerprints` so an alert keeps its identity (and its dismissal) across runs even when the
line it points at moves. Waived and passing findings are left out: code scanning lists problems.
Mitigated findings are listed as passing results (`kind: pass`, `level: none`) naming the layer that
enforces the control.
"""
from __future__ import annotations

import re
from urllib.parse import quote

from reports.interface import RenderOptions
from reports.jsontext import dumps
from scanner.engine.report_model import CheckResult, ErrorEntry, Finding, Report

FILENAME = "posture-report.sarif"

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "postureFinding/v1"
# GitHub reads `security-severity` (a string, 0.0-10.0) to bucket alerts: >= 9 critical, >= 7 high,
# >= 4 medium, else low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
_URL = re.compile(r"^https?://\S+$", re.IGNORECASE)


def _text(value: object, fallback: str) -> str:
    s = str(value).strip() if value is not None else ""
    return s or fallback


def _rule(check: CheckResult) -> dict:
    refs = check.references
    urls = [r for r in refs if _URL.match(r)]
    remediation = _text(check.remediation, "No remediation recorded.")
    ref_text = "".join(f"\n- {r}" for r in refs)
    ref_md = "".join(f"\n- <{r}>" if _URL.match(r) else f"\n- {r}" for r in refs)
    sev = check.severity
    rule = {
        "id": check.id,
        "name": "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", check.id) if p),
        "shortDescription": {"text": _text(check.title, check.id)},
        "fullDescription": {"text": _text(check.rationale, _text(check.title, check.id))},
        "help": {
            "text": remediation + (f"\n\nReferences:{ref_text}" if refs else ""),
            "markdown": f"**Remediation:** {remediation}" + (f"\n\n**References:**{ref_md}" if refs else ""),
        },
        "defaultConfiguration": {"level": LEVEL[sev]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[sev],
            # SARIF tags are a set: the "gitops" layer must not repeat the "gitops" tag.
            "tags": list(dict.fromkeys(["security", "gitops", check.layer])),
            "layer": check.layer,
            "severity": sev,
        },
    }
    if urls:
        rule["helpUri"] = urls[0]
    return rule


def _is_repo_path(path: object) -> bool:
    return isinstance(path, str) and bool(path) and "://" not in path and not path.startswith("/")


def _uri(path: str) -> str:
    """Repo-relative path as a URI reference: spaces and the like percent-encoded."""
    return quote(path[2:] if path.startswith("./") else path, safe="/")


def _physical(path: str, line: int | None) -> dict:
    return {"artifactLocation": {"uri": _uri(path), "uriBaseId": "SRCROOT"},
            "region": {"startLine": line if isinstance(line, int) and line >= 1 else 1}}


def _locations(f: Finding) -> list[dict]:
    loc, res = f.location, f.resource
    out: dict = {}
    if loc is not None and _is_repo_path(loc.path):
        out["physicalLocation"] = _physical(loc.path, loc.line)
    if res is not None and res.name:
        # Kubernetes identity as a logical location; the only location for live-cluster findings.
        fqn = f"{res.kind or 'Object'}/{res.namespace or '-'}/{res.name}"
        out["logicalLocations"] = [{"name": res.name, "fullyQualifiedName": fqn, "kind": "resource",
                                    "properties": {"apiVersion": res.apiVersion, "origin": res.origin}}]
    elif not out and f.subject:
        out["logicalLocations"] = [{"name": f.subject, "kind": "resource"}]
    if out and "physicalLocation" not in out and loc is not None and loc.path:
        out["message"] = {"text": loc.path}
    return [out] if out else []


def _result(f: Finding, check: CheckResult, rule_index: int) -> dict:
    sev = f.severity
    msg = _text(f.message, _text(check.title, check.id))
    remediation = f.remediation or check.remediation
    mitigated = f.status == "mitigated"
    if mitigated:  # listed as a passing result: the problem in the manifest, and the layer that covers it
        msg = f"Mitigated: {msg}\n{f.mitigation_text}"
    out = {
        "ruleId": check.id,
        "ruleIndex": rule_index,
        "level": "none" if mitigated else LEVEL[sev],
        "message": {"text": msg + (f"\nRemediation: {remediation}" if remediation else "")},
        "locations": _locations(f),
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {
            "status": f.status,
            "severity": sev,
            "security-severity": SECURITY_SEVERITY[sev],
            "subject": f.subject,
            "namespace": f.namespace,
        },
    }
    if mitigated:
        out["kind"] = "pass"
        out["properties"]["mitigated_by"] = [c.model_dump(mode="json") for c in f.mitigated_by or []]
    return out


def _notification(e: ErrorEntry) -> dict:
    n = {"level": "note" if e.kind == "notice" else "warning",
         "message": {"text": f"[{e.code}] {_text(e.message, 'scan error')}"},
         "descriptor": {"id": e.code},
         "properties": {"kind": e.kind, "code": e.code}}
    if _is_repo_path(e.path):
        n["locations"] = [{"physicalLocation": _physical(e.path, e.line)}]
    return n


def _notifications(report: Report, rule_ids: dict[str, int]) -> list[dict]:
    out = [{"level": "error", "message": {"text": _text(c.error, "check failed")},
            "associatedRule": {"id": c.id, "index": rule_ids[c.id]}}
           for c in report.checks if c.status == "error" or c.error]
    return out + [_notification(e) for e in report.errors]


def build(report: Report, options: RenderOptions | None = None) -> dict:
    """The SARIF log as a dict (tests validate it against the schema)."""
    options = options or RenderOptions()
    scan = report.scan
    rule_ids: dict[str, int] = {}
    rules = []
    for c in report.checks:
        if c.id not in rule_ids:
            rule_ids[c.id] = len(rules)
            rules.append(_rule(c))
    results = [_result(f, c, rule_ids[c.id]) for c, f in report.findings("fail", "warn", "mitigated")]
    version = report.tool.version
    driver = {"name": report.tool.name, "rules": rules, "version": version, "semanticVersion": version}
    invocation = {"executionSuccessful": not any(c.status == "error" for c in report.checks),
                  "startTimeUtc": scan.started_at}
    if scan.finished_at:
        invocation["endTimeUtc"] = scan.finished_at
    notes = _notifications(report, rule_ids)
    if notes:
        invocation["toolExecutionNotifications"] = notes
    run = {
        "tool": {"driver": driver},
        "automationDetails": {"id": "gitops-posture/"},
        "originalUriBaseIds": {"SRCROOT": {"description": {"text": "Root of the scanned GitOps repository."}}},
        "invocations": [invocation],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {"score": report.score.overall, "grade": report.score.grade,
                       "gate": report.gate.model_dump(mode="json")},
    }
    git = next((s for s in scan.sources if s.type == "git"), None)
    web = options.web_url or (git.web_url if git else None)
    commit = (git.commit if git else None) or scan.git_commit
    if isinstance(web, str) and _URL.match(web):
        vcp = {"repositoryUri": web.rstrip("/")}
        if commit:
            vcp["revisionId"] = str(commit)
        vcp["mappedTo"] = {"uriBaseId": "SRCROOT"}
        run["versionControlProvenance"] = [vcp]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: Report, options: RenderOptions | None = None) -> str:
    return dumps(build(report, options), indent=2) + "\n"  # every key is a str: built here
