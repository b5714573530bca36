"""SARIF 2.1.0 for code-scanning UIs (GitHub, GitLab, Azure DevOps).

One rule per check; one result per failing or warning finding. The finding's fingerprint goes into
`partialFingerprints` so an alert keeps its identity (and its dismissal) across runs even when the
line it points at moves. Waived and passing findings are left out: code scanning lists problems.
Mitigated findings are listed as passing results (`kind: pass`, `level: none`) naming the layer that
enforces the control.
"""
from __future__ import annotations

import json
import re
from urllib.parse import quote

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


def _rule(check: dict) -> dict:
    refs = [str(r) for r in check.get("references") or []]
    urls = [r for r in refs if _URL.match(r)]
    remediation = _text(check.get("remediation"), "No remediation recorded.")
    ref_text = "".join(f"\n- {r}" for r in refs)
    ref_md = "".join(f"\n- <{r}>" if _URL.match(r) else f"\n- {r}" for r in refs)
    sev = check.get("severity") or "info"
    rule = {
        "id": check["id"],
        "name": "".join(p[:1].upper() + p[1:] for p in re.split(r"[^0-9A-Za-z]+", check["id"]) if p),
        "shortDescription": {"text": _text(check.get("title"), check["id"])},
        "fullDescription": {"text": _text(check.get("rationale"), _text(check.get("title"), check["id"]))},
        "help": {
            "text": remediation + (f"\n\nReferences:{ref_text}" if refs else ""),
            "markdown": f"**Remediation:** {remediation}" + (f"\n\n**References:**{ref_md}" if refs else ""),
        },
        "defaultConfiguration": {"level": LEVEL.get(sev, "note")},
        "properties": {
            "security-severity": SECURITY_SEVERITY.get(sev, "1.0"),
            # SARIF tags are a set: the "gitops" layer must not repeat the "gitops" tag.
            "tags": list(dict.fromkeys(["security", "gitops", check.get("layer") or "unknown"])),
            "layer": check.get("layer"),
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


def _locations(f: dict) -> list[dict]:
    loc = f.get("location") or {}
    res = f.get("resource") or {}
    out: dict = {}
    if _is_repo_path(loc.get("path")):
        line = loc.get("line")
        out["physicalLocation"] = {
            "artifactLocation": {"uri": _uri(loc["path"]), "uriBaseId": "SRCROOT"},
            "region": {"startLine": line if isinstance(line, int) and line >= 1 else 1},
        }
    if res.get("name"):
        # Kubernetes identity as a logical location; the only location for live-cluster findings.
        fqn = f"{res.get('kind') or 'Object'}/{res.get('namespace') or '-'}/{res['name']}"
        out["logicalLocations"] = [{"name": str(res["name"]), "fullyQualifiedName": fqn,
                                    "kind": "resource", "properties": {"apiVersion": res.get("apiVersion"),
                                                                      "origin": res.get("origin")}}]
    elif not out and f.get("subject"):
        out["logicalLocations"] = [{"name": str(f["subject"]), "kind": "resource"}]
    if out and "physicalLocation" not in out and loc.get("path"):
        out["message"] = {"text": _text(loc.get("path"), "")}
    return [out] if out else []


def mitigation_text(f: dict) -> str:
    """`mitigated by <layer> (<detail> at <path>:<line>)`, one clause per enforcing layer."""
    parts = []
    for c in f.get("mitigated_by") or []:
        where = f" at {c['path']}:{c['line']}" if c.get("path") and c.get("line") else (f" in {c['path']}" if c.get("path") else "")
        parts.append(f"{c.get('layer')}: {c.get('detail')}{where}")
    return "mitigated by " + "; ".join(parts) if parts else "mitigated by another layer"


def _result(f: dict, check: dict, rule_index: int) -> dict:
    sev = f.get("severity") or check.get("severity") or "info"
    msg = _text(f.get("message"), _text(check.get("title"), check["id"]))
    remediation = f.get("remediation") or check.get("remediation")
    mitigated = f.get("status") == "mitigated"
    if mitigated:  # listed as a passing result: the problem in the manifest, and the layer that covers it
        msg = f"Mitigated: {msg}\n{mitigation_text(f)}"
    out = {
        "ruleId": check["id"],
        "ruleIndex": rule_index,
        "level": "none" if mitigated else LEVEL.get(sev, "note"),
        "message": {"text": msg + (f"\nRemediation: {remediation}" if remediation else "")},
        "locations": _locations(f),
        "partialFingerprints": {FINGERPRINT_KEY: _text(f.get("fingerprint"), "unknown")},
        "properties": {
            "status": f.get("status"),
            "severity": sev,
            "security-severity": SECURITY_SEVERITY.get(sev, "1.0"),
            "subject": f.get("subject"),
            "namespace": f.get("namespace"),
        },
    }
    if mitigated:
        out["kind"] = "pass"
        out["properties"]["mitigated_by"] = f.get("mitigated_by") or []
    return out


def _notifications(report: dict, rule_ids: dict[str, int]) -> list[dict]:
    out = []
    for c in report.get("checks") or []:
        if c.get("status") == "error" or c.get("error"):
            out.append({"level": "error", "message": {"text": _text(c.get("error"), "check failed")},
                        "associatedRule": {"id": c["id"], "index": rule_ids[c["id"]]}})
    for e in report.get("errors") or []:
        n = {"level": "note" if e.get("kind") == "notice" else "warning",
             "message": {"text": _text(e.get("message"), "scan error")},
             "properties": {"kind": e.get("kind")}}
        if _is_repo_path(e.get("path")):
            line = e.get("line")
            n["locations"] = [{"physicalLocation": {
                "artifactLocation": {"uri": _uri(e["path"]), "uriBaseId": "SRCROOT"},
                "region": {"startLine": line if isinstance(line, int) and line >= 1 else 1}}}]
        out.append(n)
    return out


def build(report: dict, options: dict | None = None) -> dict:
    """The SARIF log as a dict (tests validate it against the schema)."""
    options = options or {}
    tool = report.get("tool") or {}
    scan = report.get("scan") or {}
    checks = [c for c in report.get("checks") or [] if c.get("id")]
    rule_ids = {}
    rules = []
    for c in checks:
        if c["id"] not in rule_ids:
            rule_ids[c["id"]] = len(rules)
            rules.append(_rule(c))
    results = [
        _result(f, c, rule_ids[c["id"]])
        for c in checks
        for f in c.get("findings") or []
        if f.get("status") in ("fail", "warn", "mitigated")
    ]
    driver = {"name": tool.get("name") or "gitops-posture", "rules": rules}
    if tool.get("version"):
        driver["version"] = str(tool["version"])
        driver["semanticVersion"] = str(tool["version"])
    invocation = {"executionSuccessful": not any(c.get("status") == "error" for c in checks)}
    for key, src in (("startTimeUtc", "started_at"), ("endTimeUtc", "finished_at")):
        if scan.get(src):
            invocation[key] = scan[src]
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
        "properties": {
            "score": (report.get("score") or {}).get("overall"),
            "grade": (report.get("score") or {}).get("grade"),
            "gate": report.get("gate"),
        },
    }
    git = next((s for s in scan.get("sources") or [] if s.get("type") == "git"), {})
    web = options.get("web_url") or git.get("web_url")
    commit = git.get("commit") or scan.get("git_commit")
    if isinstance(web, str) and _URL.match(web):
        vcp = {"repositoryUri": web.rstrip("/")}
        if commit:
            vcp["revisionId"] = str(commit)
        vcp["mappedTo"] = {"uriBaseId": "SRCROOT"}
        run["versionControlProvenance"] = [vcp]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(report: dict, options: dict | None = None) -> str:
    return json.dumps(build(report, options), indent=2, ensure_ascii=False) + "\n"
