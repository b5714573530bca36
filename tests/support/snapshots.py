"""Synthetic report dicts in the engine's JSON report shape, for the snapshot, diff and history tests
(tests/snapshots, tests/engine/test_diff.py, tests/cli/test_snapshots.py, tests/hostile/test_snapshots.py).
Layers, severities, grades and the schema version are the project's own.
"""
from __future__ import annotations

import copy
import hashlib

from scanner.core.model import LAYERS, SEVERITIES
from scanner.engine.report_model import SCHEMA_VERSION
from scanner.engine.scoring import grade


def engine_fingerprint(check_id: str, f: dict) -> str:
    """What the engine computes (check id + resource identity + subject, no lines)."""
    res = f.get("resource") or {}
    if res.get("kind") or res.get("name"):
        ident = f"{res.get('kind')}/{res.get('namespace') or '-'}/{res.get('name')}"
    else:
        ident = "/".join(((f.get("location") or {}).get("path") or "").split("/")[-3:])
    return hashlib.sha256(f"{check_id}|{ident}|{f['subject']}".encode()).hexdigest()[:24]


def finding(kind, ns, name, path, line, *, subject=None, status="fail", severity=None, message=None):
    res = {"apiVersion": "v1", "kind": kind, "namespace": ns, "name": name, "origin": "git"} if kind else None
    return {
        "status": status,
        "severity": severity,
        "subject": subject or f"{kind} {ns}/{name}",
        "message": message or f"{kind} {name} is not compliant",
        "namespace": ns,
        "resource": res,
        "location": {"path": path, "line": line} if path else None,
        "remediation": "fix it",
        "evidence": {},
        "waiver": None,
    }


def report(checks: dict, *, started_at="2025-03-01T02:00:00Z", overall=None, layers=None,
           source_path="/srv/repos/homelab", fingerprints=True, check_severity="high", errors=0,
           duration=1.25):
    """`checks`: {check_id: [finding, ...]}; severities default to `check_severity`."""
    out_checks = []
    layer_counts = {layer: dict.fromkeys(SEVERITIES, 0) for layer in LAYERS}
    for check_id, findings in checks.items():
        findings = copy.deepcopy(findings)
        for f in findings:
            f["severity"] = f["severity"] or check_severity
            if fingerprints:
                f["fingerprint"] = engine_fingerprint(check_id, f)
            if f["status"] in ("fail", "warn"):
                layer_counts[check_id.split(".")[0]][f["severity"]] += 1
        statuses = {f["status"] for f in findings}
        status = "fail" if "fail" in statuses else "warn" if "warn" in statuses else (
            "pass" if findings else "not_applicable")
        passing = sum(f["status"] == "pass" for f in findings)
        out_checks.append({
            "id": check_id, "title": check_id, "layer": check_id.split(".")[0], "severity": check_severity,
            "status": status, "score": round(100.0 * passing / len(findings), 1) if findings else None,
            "subjects": {"total": len(findings), "passing": passing,
                         "failing": sum(f["status"] == "fail" for f in findings),
                         "warning": sum(f["status"] == "warn" for f in findings),
                         "waived": sum(f["status"] == "waived" for f in findings)},
            "rationale": "", "remediation": "", "references": [], "findings": findings,
        })
    open_total = sum(sum(c.values()) for c in layer_counts.values())
    overall = overall if overall is not None else max(0.0, 100.0 - 5 * open_total)
    layers = layers or {}
    score_layers = {
        layer: {"score": layers.get(layer, overall), "grade": grade(layers.get(layer, overall)), "weight": 1.0,
                "checks": 1, "failed_checks": 0, "findings": layer_counts[layer]}
        for layer in LAYERS
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gitops-posture", "version": "0.1.0"},
        "scan": {"sources": [{"type": "git", "path": source_path, "commit": "abc123", "web_url": None, "context": None}],
                 "started_at": started_at, "finished_at": started_at, "duration_s": duration,
                 "git_commit": "abc123", "stats": {}, "phases": {}},
        "score": {"overall": overall, "grade": grade(overall), "formula": "weighted mean", "layers": score_layers},
        "gate": {"evaluated": False, "passed": True, "reasons": []},
        "checks": out_checks,
        "waivers": [],
        "errors": [{"code": "yaml-invalid", "path": f"bad{i}.yaml", "line": 1, "message": "broken", "kind": "input"}
                   for i in range(errors)],
        "namespaces": {}, "exposure": [], "flux_graph": {"nodes": [], "edges": []},
    }


def homelab_report(**kw) -> dict:
    """A small but realistic report: home-ops paths, several checks and layers, pass and fail."""
    apps = "kubernetes/apps"
    checks = {
        "secrets.sops-encrypted": [
            finding("Secret", "media", "radarr-secret", f"{apps}/media/radarr/app/secret.sops.yaml", 7,
                    subject=f"Secret radarr-secret ({apps}/media/radarr/app/secret.sops.yaml)", severity="critical"),
            finding("Secret", "media", "sonarr-secret", f"{apps}/media/sonarr/app/secret.sops.yaml", 6,
                    subject=f"Secret sonarr-secret ({apps}/media/sonarr/app/secret.sops.yaml)", status="pass"),
        ],
        "workloads.run-as-non-root": [
            finding("HelmRelease", "media", "radarr", f"{apps}/media/radarr/app/helmrelease.yaml", 40,
                    subject="HelmRelease media/radarr container app"),
            finding("HelmRelease", "media", "sonarr", f"{apps}/media/sonarr/app/helmrelease.yaml", 38,
                    subject="HelmRelease media/sonarr container app", severity="medium"),
            finding("Deployment", "media", "whoami", f"{apps}/media/whoami/app/deployment.yaml", 20,
                    subject="Deployment media/whoami container whoami", status="pass"),
        ],
        "segmentation.networkpolicy-per-namespace": [
            finding("Namespace", None, "network", "kubernetes/components/common/namespace.yaml", 2,
                    subject="namespace network"),
            finding("Namespace", None, "media", "kubernetes/components/common/namespace.yaml", 2,
                    subject="namespace media", status="pass"),
        ],
        "gitops.dependson-resolves": [
            finding("Kustomization", "media", "radarr", f"{apps}/media/radarr/ks.yaml", 15,
                    subject="Kustomization media/radarr dependsOn rook-ceph/rook-ceph-cluster", severity="low"),
        ],
    }
    return report(checks, **kw)
