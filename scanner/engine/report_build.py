"""Turn check outcomes into the `Report` (scanner.engine.report_model) that every formatter renders.

The parts are built as plain data and validated into the model once, at the end: one pass of
pydantic's core over the whole report is much cheaper than a model object per finding."""
from __future__ import annotations

from collections import defaultdict

from scanner import __version__
from scanner.core.model import LAYERS, SEVERITIES, SEVERITY_RANK
from scanner.core.redact import clean_tree
from scanner.engine.report_model import SCHEMA_VERSION, Report
from scanner.engine.runner import CheckOutcome, fingerprint
from scanner.engine.scoring import (FORMULA, check_score, check_score_without_waivers, grade, layer_score,
                                    overall_score)

_EMPTY: dict = {}
_STATUS_ORDER = {"fail": 0, "warn": 1, "waived": 2, "mitigated": 3, "pass": 4}


def _finding(spec, r, waiver, locations: dict) -> dict:
    loc = r.location
    if loc is not None:  # large scans repeat the same locations: one dict per (path, line)
        key = (loc.path, loc.line)
        loc = locations.get(key) or locations.setdefault(key, loc.as_dict())
    return {
        "fingerprint": fingerprint(spec.id, r),
        "status": "waived" if waiver else r.status,
        "severity": r.severity or spec.severity,
        "subject": r.subject,
        "message": r.message,
        "namespace": r.namespace if r.namespace is not None else (r.resource or {}).get("namespace"),
        "resource": r.resource,
        "location": loc,
        "remediation": r.remediation or spec.remediation,
        "evidence": r.evidence or _EMPTY,
        "waiver": waiver.finding_view(r.status) if waiver else None,
        "mitigated_by": r.mitigated_by or None,  # a mitigated finding: the layers that enforce the control
        "cluster": r.cluster,
    }


def _sort_key(f: dict):
    loc = f["location"] or _EMPTY
    return (_STATUS_ORDER.get(f["status"], 9), -SEVERITY_RANK.get(f["severity"], 0), loc.get("path") or "",
            loc.get("line") or 0)


def build_checks(outcomes: list[CheckOutcome]) -> list[dict]:
    checks = []
    locations: dict = {}
    for out in outcomes:
        spec = out.spec
        findings = [_finding(spec, r, out.waived.get(i), locations) for i, r in enumerate(out.results)]
        out.results = []  # each Result is now a finding dict: free it rather than hold both (peak memory)
        findings.sort(key=_sort_key)
        counts: dict[str, int] = defaultdict(int)
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
        # A mitigated subject passes (another layer enforces the control); without mitigations it fails.
        score = None if out.error else check_score(counts["pass"] + counts["mitigated"], counts["waived"],
                                                   counts["warn"], total)
        unmitigated = None if out.error else check_score(counts["pass"], counts["waived"], counts["warn"], total)
        waived_warnings = sum(1 for f in findings if f["waiver"] and f["waiver"]["status"] == "warn")
        bare = None if out.error else check_score_without_waivers(counts["pass"] + counts["mitigated"], counts["warn"],
                                                                  waived_warnings, total)
        checks.append({
            "id": spec.id, "title": spec.title, "layer": spec.layer, "severity": spec.severity,
            "status": status, "score": score, "score_without_waivers": bare,
            "score_without_mitigations": unmitigated, "mitigated_by": list(spec.mitigated_by),
            "subjects": {"total": total, "passing": counts["pass"], "failing": counts["fail"],
                         "warning": counts["warn"], "waived": counts["waived"], "mitigated": counts["mitigated"]},
            "rationale": spec.rationale, "remediation": spec.remediation, "references": list(spec.references),
            "error": out.error, "findings": findings,
        })
    return checks


def build_score(checks: list[dict], weights: dict[str, float], severity_weights: dict[str, float] | None = None) -> dict:
    layers = {}
    for layer in LAYERS:
        mine = [c for c in checks if c["layer"] == layer]
        score = layer_score([(c["score"], c["severity"]) for c in mine], severity_weights)
        bare = layer_score([(c.get("score_without_waivers", c["score"]), c["severity"]) for c in mine], severity_weights)
        sev_counts = {s: 0 for s in SEVERITIES}
        for c in mine:
            for f in c["findings"]:
                if f["status"] in ("fail", "warn"):
                    sev_counts[f["severity"]] += 1
        layers[layer] = {"score": score, "grade": grade(score), "score_without_waivers": bare,
                         "weight": weights.get(layer, 1.0),
                         "checks": len(mine), "failed_checks": sum(1 for c in mine if c["status"] == "fail"),
                         "findings": sev_counts}
    overall = overall_score({k: v["score"] for k, v in layers.items()}, weights)
    bare = overall_score({k: v["score_without_waivers"] for k, v in layers.items()}, weights)
    return {"overall": overall, "grade": grade(overall), "overall_without_waivers": bare,
            "grade_without_waivers": grade(bare), "formula": FORMULA, "layers": layers,
            "without_mitigations": _score_without_mitigations(checks, weights, severity_weights)}


def _score_without_mitigations(checks: list[dict], weights: dict[str, float], severity_weights) -> dict:
    """What each manifest would score on a cluster without the layers that mitigate it: mitigated
    subjects count as failing."""
    layers = {}
    for layer in LAYERS:
        mine = [c for c in checks if c["layer"] == layer]
        layers[layer] = layer_score([(c.get("score_without_mitigations", c["score"]), c["severity"]) for c in mine],
                                    severity_weights)
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


def cluster_scores(checks: list[dict], weights: dict[str, float], severity_weights, clusters: list[str]) -> dict:
    """Each cluster's score, from its own findings and those about the repository as a whole (no cluster)."""
    out = {}
    for name in clusters:
        mine = []
        for c in checks:
            findings = [f for f in c["findings"] if f.get("cluster") in (name, None)]
            counts: dict[str, int] = defaultdict(int)
            for f in findings:
                counts[f["status"]] += 1
            score = None if c["error"] else check_score(counts["pass"] + counts["mitigated"], counts["waived"],
                                                        counts["warn"], len(findings))
            mine.append({"layer": c["layer"], "severity": c["severity"], "score": score})
        layers = {}
        for layer in LAYERS:
            score = layer_score([(c["score"], c["severity"]) for c in mine if c["layer"] == layer], severity_weights)
            layers[layer] = {"score": score, "grade": grade(score), "weight": weights.get(layer, 1.0)}
        overall = overall_score({k: v["score"] for k, v in layers.items()}, weights)
        out[name] = {"overall": overall, "grade": grade(overall), "layers": layers}
    return out


def build_report(*, outcomes, weights, scan_meta: dict, waivers: list[dict], errors: list[dict],
                 exposure: list[dict], flux_graph: dict, severity_weights: dict[str, float] | None = None,
                 clusters: list[str] = ()) -> Report:
    """`clusters`: the repository's clusters when there are several (each gets its own score)."""
    checks = build_checks(outcomes)
    score = build_score(checks, weights, severity_weights)
    if len(clusters) > 1:
        score["clusters"] = cluster_scores(checks, weights, severity_weights, list(clusters))
    # Every string of the report came from the untrusted repo: no credential in a URL, no undecodable
    # file name reaches a writer (JSON, HTML, SARIF, ...), a snapshot or the terminal.
    return Report.model_validate(clean_tree({
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gitops-posture", "version": __version__},
        "scan": scan_meta,
        "score": score,
        "checks": checks,
        "waivers": waivers,
        "errors": errors,
        "namespaces": namespace_matrix(checks),
        "exposure": exposure,
        "flux_graph": flux_graph,
    }))
