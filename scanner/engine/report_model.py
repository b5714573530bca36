"""Turn check outcomes into the report dict that every formatter renders (the JSON report)."""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from scanner import __version__
from scanner.engine.runner import CheckOutcome, fingerprint
from scanner.core.model import LAYERS, SEVERITIES, SEVERITY_RANK
from scanner.engine.scoring import FORMULA, check_score, grade, layer_score, overall_score

SCHEMA_VERSION = "1.0"


_EMPTY: dict = {}
_LOCATIONS: dict = {}  # (path, line) -> one shared dict: large scans repeat the same locations


def _location(loc) -> dict | None:
    if loc is None:
        return None
    key = (loc.path, loc.line)
    got = _LOCATIONS.get(key)
    if got is None:
        got = _LOCATIONS[key] = loc.as_dict()
    return got


def _finding(spec, r, waiver) -> dict:
    status = "waived" if waiver else r.status
    return {
        "fingerprint": fingerprint(spec.id, r),
        "status": status,
        "severity": r.severity or spec.severity,
        "subject": r.subject,
        "message": r.message,
        "namespace": r.namespace if r.namespace is not None else (r.resource or {}).get("namespace"),
        "resource": r.resource,
        "location": _location(r.location),
        "remediation": r.remediation or spec.remediation,
        "evidence": r.evidence or _EMPTY,  # shared empty dict: treat findings as read-only
        "waiver": ({"reason": waiver.reason, "expires": waiver.expires.isoformat() if waiver.expires else None}
                   if waiver else None),
        # for a mitigated finding: the layers that enforce the control, each with its evidence
        "mitigated_by": r.mitigated_by or None,
    }


_STATUS_ORDER = {"fail": 0, "warn": 1, "waived": 2, "mitigated": 3, "pass": 4}


def build_checks(outcomes: list[CheckOutcome]) -> list[dict]:
    checks = []
    _LOCATIONS.clear()  # shared only within one report
    for out in outcomes:
        spec = out.spec
        findings = [_finding(spec, r, out.waived.get(i)) for i, r in enumerate(out.results)]
        out.results = []  # each Result is now a finding dict: free it rather than hold both (peak memory)
        findings.sort(key=lambda f: (_STATUS_ORDER.get(f["status"], 9), -SEVERITY_RANK.get(f["severity"], 0),
                                     (f["location"] or {}).get("path") or "", (f["location"] or {}).get("line") or 0))
        counts = defaultdict(int)
        for f in findings:
            counts[f["status"]] += 1
        total = len(findings)
        if out.error:
            status = "error"
        elif total == 0:
            status = "not_applicable"
        elif counts["fail"]:
            status = "fail"
        elif counts["warn"]:
            status = "warn"
        else:
            status = "pass"
        score = None if out.error else check_score(counts["pass"] + counts["mitigated"], counts["waived"],
                                                   counts["warn"], total)
        bare = None if out.error else check_score(counts["pass"], counts["waived"], counts["warn"], total)
        checks.append({
            "id": spec.id, "title": spec.title, "layer": spec.layer, "severity": spec.severity,
            "status": status, "score": score, "score_without_mitigations": bare,
            "mitigated_by": list(spec.mitigated_by),
            "subjects": {"total": total, "passing": counts["pass"], "failing": counts["fail"],
                         "warning": counts["warn"], "waived": counts["waived"], "mitigated": counts["mitigated"]},
            "rationale": spec.rationale, "remediation": spec.remediation, "references": list(spec.references),
            "error": out.error, "findings": findings,
        })
    return checks


def build_score(checks: list[dict], weights: dict[str, float]) -> dict:
    layers = {}
    for layer in LAYERS:
        mine = [c for c in checks if c["layer"] == layer]
        score = layer_score([(c["score"], c["severity"]) for c in mine])
        sev_counts = {s: 0 for s in SEVERITIES}
        for c in mine:
            for f in c["findings"]:
                if f["status"] in ("fail", "warn"):
                    sev_counts[f["severity"]] += 1
        layers[layer] = {"score": score, "grade": grade(score), "weight": weights.get(layer, 1.0),
                         "checks": len(mine), "failed_checks": sum(1 for c in mine if c["status"] == "fail"),
                         "findings": sev_counts}
    overall = overall_score({k: v["score"] for k, v in layers.items()}, weights)
    return {"overall": overall, "grade": grade(overall), "formula": FORMULA, "layers": layers,
            "without_mitigations": _score_without_mitigations(checks, weights)}


def _score_without_mitigations(checks: list[dict], weights: dict[str, float]) -> dict:
    """What each manifest would score on a cluster without the layers that mitigate it: mitigated
    subjects count as failing."""
    layers = {}
    for layer in LAYERS:
        mine = [c for c in checks if c["layer"] == layer]
        layers[layer] = layer_score([(c.get("score_without_mitigations"), c["severity"]) for c in mine])
    overall = overall_score(layers, weights)
    mitigated = sum(c["subjects"].get("mitigated", 0) for c in checks)
    return {"overall": overall, "grade": grade(overall), "layers": layers, "mitigated_findings": mitigated}


def namespace_matrix(checks: list[dict]) -> dict:
    acc: dict = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))  # ns -> layer -> [ok, failing, total]
    for c in checks:
        for f in c["findings"]:
            ns = f.get("namespace")
            if not ns:
                continue
            cell = acc[ns][c["layer"]]
            cell[2] += 1
            if f["status"] in ("pass", "waived", "mitigated"):
                cell[0] += 1
            elif f["status"] == "warn":
                cell[0] += 0.5
            else:
                cell[1] += 1
    return {ns: {layer: {"score": round(100.0 * ok / total, 2), "failing": failing, "total": total}
                 for layer, (ok, failing, total) in sorted(layers.items())}
            for ns, layers in sorted(acc.items())}


def build_report(*, outcomes, weights, scan_meta: dict, waivers: list[dict], errors: list[dict],
                 exposure: list[dict], flux_graph: dict, extra: dict | None = None) -> dict:
    checks = build_checks(outcomes)
    report = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gitops-posture", "version": __version__},
        "scan": scan_meta,
        "score": build_score(checks, weights),
        "gate": {"evaluated": False, "passed": True, "reasons": [], "fail_under": None, "fail_on": None},
        "checks": checks,
        "waivers": waivers,
        "errors": errors,
        "namespaces": namespace_matrix(checks),
        "exposure": exposure,
        "flux_graph": flux_graph,
    }
    if extra:
        report.update(extra)
    return report


def source_slug(report: dict) -> str:
    """A short name for what was scanned: the repo folder, `cluster[-context]`, or both."""
    parts = []
    for src in (report.get("scan") or {}).get("sources") or []:
        if not isinstance(src, dict):
            continue
        if src.get("type") == "cluster":
            parts.append("cluster" + (f"-{src['context']}" if src.get("context") else ""))
        else:
            name = Path(str(src.get("path") or "")).name
            if not name and src.get("web_url"):
                name = str(src["web_url"]).rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
            parts.append(name or "repo")
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")[:40].strip("-")
    return slug or "scan"
