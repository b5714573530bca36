"""Synthetic JSON-report dicts for the renderer tests, hostile strings included.

The report tests import `make_report` from here so that every format is exercised against one
realistic shape without running the engine. Layers, severities, grades and the schema version come
from the project itself, so a synthetic report stays one the model accepts when they change.
"""
from __future__ import annotations

import hashlib
import random

from reports.interface import RenderOptions
from scanner.core.model import LAYERS, SEVERITIES
from scanner.engine.report_model import SCHEMA_VERSION, Report
from scanner.engine.scoring import grade

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
HOSTILE = (SCRIPT, IMG)
WEB_URL = "https://github.com/example/home-ops"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _fp(*parts) -> str:
    return hashlib.sha256("\x00".join(map(str, parts)).encode()).hexdigest()[:32]


_AUTH = {"mechanism": "envoy-extauth", "provider": "authentik", "via": "direct", "accepted": True, "detail": "",
         "target": None, "declared_at": None}


def make_report(n_findings: int = 60, *, hostile: bool = True, seed: int = 7, checks_per_layer: int = 3,
                flux_nodes: int = 12, started_at: str = "2025-05-04T10:00:00+00:00") -> dict:
    rnd = random.Random(seed)
    namespaces = ["media", "network", "security", "flux-system", "kube-system", "database"]
    if hostile:
        namespaces.append(IMG)
    checks = []
    ids = [(l, i) for l in LAYERS for i in range(checks_per_layer)]
    for layer, i in ids:
        sev = SEVERITIES[(i + LAYERS.index(layer)) % 5]
        checks.append({
            "id": f"{layer}.check-{i}", "title": f"{layer.title()} check {i}" + (f" {SCRIPT}" if hostile and i == 0 else ""),
            "layer": layer, "severity": sev, "status": "pass", "score": 100.0,
            "subjects": {"total": 0, "passing": 0, "failing": 0, "warning": 0, "waived": 0},
            "rationale": f"Why {layer} {i} matters." + (f" {IMG}" if hostile else ""),
            "remediation": f"Fix {layer} {i} like this.",
            "references": ["https://kubernetes.io/docs/concepts/security/", "CIS Kubernetes 5.1.1",
                           "javascript:alert(3)"],
            "error": None, "findings": [],
        })
    # One layer with no checks at all would show "not assessed"; keep monitoring checks but one N/A.
    checks[-1]["status"] = "not_applicable"
    checks[-1]["score"] = None
    checks[-2]["status"] = "error"
    checks[-2]["error"] = "check crashed: " + (SCRIPT if hostile else "boom")
    statuses = ["fail", "fail", "warn", "pass", "pass", "waived"]
    for k in range(n_findings):
        c = checks[k % (len(checks) - 2)]
        st = statuses[k % len(statuses)]
        ns = namespaces[k % len(namespaces)]
        name = f"app-{k}" + (SCRIPT if hostile and k % 7 == 0 else "")
        sev = SEVERITIES[rnd.randrange(5)] if k % 3 else c["severity"]
        path = f"kubernetes/apps/{ns}/app-{k}/helmrelease.yaml"
        f = {
            "fingerprint": _fp(c["id"], ns, name), "status": st, "severity": sev,
            "subject": f"Deployment {ns}/{name}",
            "message": f"finding {k} on {name}" + (f" {IMG}" if hostile and k % 5 == 0 else ""),
            "namespace": ns,
            "resource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": ns, "name": name, "origin": "git"},
            "location": {"path": path, "line": (k % 90) + 1} if k % 11 else None,
            "remediation": c["remediation"] if k % 4 else f"Set x for {name}",
            "evidence": {"annotation": IMG if hostile else "a", "value": k},
            "waiver": {"reason": f"accepted {SCRIPT}" if hostile else "accepted", "expires": "2030-01-01"} if st == "waived" else None,
        }
        if k % 13 == 12:  # a live-cluster finding with no repo file
            f["location"] = {"path": f"cluster://Deployment/{ns}/{name}", "line": None}
        c["findings"].append(f)
    for c in checks:
        fs = c["findings"]
        sub = c["subjects"]
        sub["total"] = len(fs)
        for key, st in (("passing", "pass"), ("failing", "fail"), ("warning", "warn"), ("waived", "waived")):
            sub[key] = sum(1 for f in fs if f["status"] == st)
        if c["status"] in ("pass",) and fs:
            c["status"] = "fail" if sub["failing"] else ("warn" if sub["warning"] else "pass")
            c["score"] = round(100.0 * (sub["passing"] + sub["waived"]) / max(len(fs), 1), 1)
    layers = {}
    for i, l in enumerate(LAYERS):
        cs = [c for c in checks if c["layer"] == l]
        scored = [c["score"] for c in cs if c["score"] is not None]
        sc = round(sum(scored) / len(scored), 1) if scored else None
        counts = {s: 0 for s in SEVERITIES}
        for c in cs:
            for f in c["findings"]:
                if f["status"] in ("fail", "warn"):
                    counts[f["severity"]] += 1
        layers[l] = {"score": sc, "grade": grade(sc), "weight": round(1.0 + (i % 3) * 0.5, 1), "checks": len(cs),
                     "failed_checks": sum(1 for c in cs if c["status"] == "fail"), "findings": counts}
    overall = round(sum(v["score"] * v["weight"] for v in layers.values() if v["score"] is not None)
                    / sum(v["weight"] for v in layers.values() if v["score"] is not None), 1)
    ns_matrix = {ns: {l: {"score": float(rnd.randrange(30, 101)), "failing": rnd.randrange(0, 5), "total": 5}
                      for l in LAYERS if rnd.random() < 0.7} for ns in namespaces}
    exposure = []
    for j in range(8):
        ext = j % 2 == 0
        exposure.append({
            "host": f"app{j}.example.com" + (IMG if hostile and j == 0 else ""),
            "kind": ("HTTPRoute", "Ingress", "cloudflared", "Service")[j % 4],
            "name": f"route-{j}", "namespace": namespaces[j % 3],
            "exposure": "external" if ext else "internal",
            "via": ("network/envoy-external" if ext else "network/envoy-internal") if j % 4 != 2 else "cloudflared",
            "backend": f"{namespaces[j % 3]}/svc-{j}:80", "auth": _AUTH if j % 3 == 0 else None,
            "location": {"path": f"kubernetes/apps/{namespaces[j % 3]}/route-{j}.yaml", "line": 3},
        })
    # An auth guard declared by a policy, one from a provider not accepted, a null host (hostNetwork pods).
    exposure[4]["auth"] = {"mechanism": "envoy-ext-auth", "provider": "authentik", "via": "kyverno-generate",
                           "accepted": True, "detail": "ClusterPolicy " + (SCRIPT if hostile else "p"),
                           "target": "outpost:9000", "declared_at": "kubernetes/apps/security/policy.yaml:3"}
    exposure[6]["auth"] = {"mechanism": "nginx-auth-url", "provider": "unknown", "via": "direct",
                           "accepted": False, "detail": "auth-url annotation", "target": None, "declared_at": None}
    exposure[7].update(host=None, kind="hostNetwork", reason="binds on the node's interfaces")
    fnodes, fedges = [], []
    root = "Kustomization/flux-system/cluster-apps"
    fnodes.append({"id": "Kustomization/flux-system/flux-system", "kind": "Kustomization", "name": "flux-system",
                   "namespace": "flux-system", "path": "kubernetes/flux/cluster/ks.yaml", "line": 1,
                   "suspended": False, "deployed": True})
    fnodes.append({"id": root, "kind": "Kustomization", "name": "cluster-apps", "namespace": "flux-system",
                   "path": "kubernetes/flux/cluster/ks.yaml", "line": 20, "suspended": False, "deployed": True})
    fedges.append({"from": "Kustomization/flux-system/flux-system", "to": root, "type": "creates"})
    for j in range(flux_nodes):
        ns = namespaces[j % len(namespaces)]
        name = f"app-{j}" + (SCRIPT if hostile and j == 0 else "")
        ks = f"Kustomization/flux-system/{name}"
        hr = f"HelmRelease/{ns}/{name}"
        fnodes.append({"id": ks, "kind": "Kustomization", "name": name, "namespace": "flux-system",
                       "path": f"kubernetes/apps/{ns}/{name}/ks.yaml", "line": 1, "suspended": j == 3, "deployed": True})
        fnodes.append({"id": hr, "kind": "HelmRelease", "name": name, "namespace": ns,
                       "path": f"kubernetes/apps/{ns}/{name}/app/helmrelease.yaml", "line": 2, "suspended": False,
                       "deployed": j != 5})
        fedges.append({"from": root, "to": ks, "type": "creates"})
        fedges.append({"from": ks, "to": hr, "type": "creates"})
        if j and j % 3 == 0:
            fedges.append({"from": ks, "to": f"Kustomization/flux-system/app-{j - 1}", "type": "dependsOn"})
    # Findings on a flux node so the graph colours it.
    checks[0]["findings"].append({
        "fingerprint": _fp("hr", 1), "status": "fail", "severity": "high", "subject": "HelmRelease media/app-1",
        "message": "chart not pinned", "namespace": namespaces[1],
        "resource": {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "namespace": namespaces[1],
                     "name": "app-1", "origin": "git"},
        "location": {"path": "kubernetes/apps/network/app-1/app/helmrelease.yaml", "line": 2},
        "remediation": checks[0]["remediation"], "evidence": {}, "waiver": None,
    })
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "gitops-posture", "version": "0.1.0"},
        "scan": {
            "sources": [{"type": "git", "path": "/src/home-ops", "commit": COMMIT, "web_url": WEB_URL, "context": None}],
            "started_at": started_at, "finished_at": started_at.replace("10:00:00", "10:00:03"),
            "duration_s": 3.2, "git_commit": COMMIT,
            "entry_point": {"found": True, "kind": "FluxInstance", "path": "kubernetes/flux/cluster/ks.yaml", "line": 1,
                            "sync_path": "kubernetes/flux/cluster", "note": "found by " + (SCRIPT if hostile else "scan")},
            "stats": {"files": 400, "yaml_files": 380, "documents": 900, "resources": 850, "deployed_resources": 800,
                      "workloads": 120, "routes": 40, "flux_kustomizations": 60, "helmreleases": 70},
            "phases": {"discover": 0.1, "parse": 1.2, "inventory": 0.8, "checks": 0.9, "render": 0.2},
        },
        "score": {"overall": overall, "grade": grade(overall), "formula": "weighted mean of layer scores",
                  "layers": layers},
        "gate": {"evaluated": True, "passed": False, "reasons": ["score below 80", "critical finding " + IMG],
                 "fail_under": 80.0, "fail_on": "critical"},
        "checks": checks,
        "waivers": [{"check": checks[0]["id"], "resource": "Deployment/media/app-0", "reason": "legacy " + SCRIPT,
                     "expires": "2030-01-01", "expired": False, "matched": 2},
                    {"check": checks[1]["id"], "resource": "*", "reason": "old", "expires": "2020-01-01",
                     "expired": True, "matched": 0}],
        "errors": [{"code": "yaml-invalid", "path": "kubernetes/apps/bad.yaml", "line": 4, "message": "bad YAML " + IMG,
                    "kind": "input"}],
        "namespaces": ns_matrix,
        "exposure": exposure,
        "flux_graph": {"nodes": fnodes, "edges": fedges},
    }


def make_history(report: dict, n: int = 6) -> list[dict]:
    """Older snapshots with drifting scores (oldest first), shaped like the report's score block."""
    out = []
    for i in range(n):
        layers = {l: {"score": None if (l == "backups" and i < 2) else max(0.0, min(100.0, v["score"] - 3 * (n - i)))
                      if v["score"] is not None else None}
                  for l, v in report["score"]["layers"].items()}
        out.append({"scan": {"started_at": f"2025-04-{i + 1:02d}T10:00:00+00:00"},
                    "score": {"overall": max(0.0, report["score"]["overall"] - 2.5 * (n - i)), "layers": layers}})
    return out


def minimal_report() -> dict:
    """The smallest valid report: nothing scanned, no checks (what a formatter must still render)."""
    return {"tool": {"version": "0.1.0"}, "scan": {"sources": [], "started_at": "2025-05-04T10:00:00Z", "duration_s": 0},
            "score": {"overall": 0.0, "grade": "F"}}


def as_model(report: dict | Report) -> Report:
    """A synthetic report dict as the typed model formatters take (validated: the dict must be valid)."""
    return report if isinstance(report, Report) else Report.model_validate(report)


def render(formatter, report: dict | Report, **options) -> str:
    """`formatter.render` on a report dict, through the model and RenderOptions of the contract."""
    if "history" in options:
        options["history"] = tuple(options["history"])
    return formatter.render(as_model(report), RenderOptions(**options))
