"""`--format prometheus`: the posture as metrics, for node-exporter's textfile collector or a Pushgateway.

The text is valid OpenMetrics (HELP/TYPE per family, `# EOF` last) and also valid classic Prometheus
text, because the textfile collector and the Pushgateway parse the classic format: so every family
is a gauge (no `info`/`stateset` types, no sample timestamps, which the collector rejects).

Families (all carry `source`, the scanned repo folder or cluster, so several scans can share one
textfile directory without clashing):
    posture_score{layer}                 0-100; layer="overall" is the overall score. A layer with
                                         no applicable check has no sample (not 0, not NaN).
    posture_grade_info{layer,grade}      1 for the current grade of each layer and overall.
    posture_findings{layer,severity}     open findings (fail + warn, not waived); zeros included
                                         so `increase()` and absent-series alerts behave.
    posture_check_status{check,layer,status}  1 for the check's status, 0 for the other four.
    posture_scan_duration_seconds, posture_scan_timestamp_seconds (scan end, Unix time),
    posture_scan_errors (scan errors: files that did not parse, checks that broke),
    posture_gate_passed (1/0; only when gates were evaluated).
"""
from __future__ import annotations

from scanner.engine.report_model import source_slug

import math
from datetime import datetime, timezone

FILENAME = "posture-report.prom"

LAYERS = ("perimeter", "segmentation", "nodes", "workloads", "secrets", "authentication", "policy",
          "gitops", "backups", "monitoring")
SEVERITIES = ("critical", "high", "medium", "low", "info")
CHECK_STATUSES = ("pass", "fail", "warn", "not_applicable", "error")


def escape_label(value) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _value(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def _timestamp(value) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def _source(report: dict) -> str:
    # Same naming as the snapshot archive, so metrics and snapshots line up.
    return source_slug(report)


class _Families:
    def __init__(self, base: dict[str, str]):
        self.base = base
        self.out: list[str] = []

    def family(self, name: str, help_text: str, samples: list[tuple[dict, object]]) -> None:
        if not samples:
            return
        self.out.append(f"# HELP {name} {_escape_help(help_text)}")
        self.out.append(f"# TYPE {name} gauge")
        for labels, value in samples:
            merged = {**self.base, **labels}
            body = ",".join(f'{k}="{escape_label(v)}"' for k, v in merged.items())
            self.out.append(f"{name}{{{body}}} {_value(value)}")

    def text(self) -> str:
        return "\n".join(self.out + ["# EOF"]) + "\n"


def _layer_names(score: dict) -> list[str]:
    layers = score.get("layers") or {}
    return [name for name in LAYERS if name in layers] + sorted(set(layers) - set(LAYERS))


def render(report: dict, options: dict | None = None) -> str:
    score = report.get("score") or {}
    scan = report.get("scan") or {}
    layers = score.get("layers") or {}
    names = _layer_names(score)
    fam = _Families({"source": _source(report)})

    scores = []
    if isinstance(score.get("overall"), (int, float)):
        scores.append(({"layer": "overall"}, score["overall"]))
    scores += [({"layer": n}, layers[n]["score"]) for n in names
               if isinstance((layers[n] or {}).get("score"), (int, float))]
    fam.family("posture_score", "Posture score 0-100 per layer; layer=\"overall\" is the weighted overall score.",
               scores)

    grades = [({"layer": "overall", "grade": score["grade"]}, 1)] if score.get("grade") else []
    grades += [({"layer": n, "grade": layers[n]["grade"]}, 1) for n in names if (layers[n] or {}).get("grade")]
    fam.family("posture_grade_info", "Current grade (A-F) per layer and overall; the value is always 1.", grades)

    findings = []
    for n in names:
        counts = (layers[n] or {}).get("findings") or {}
        findings += [({"layer": n, "severity": s}, int(counts.get(s) or 0)) for s in SEVERITIES]
    fam.family("posture_findings", "Open findings (fail and warn, waived excluded) per layer and severity.",
               findings)

    statuses = []
    for check in report.get("checks") or []:
        if not isinstance(check, dict) or not check.get("id"):
            continue
        layer = check.get("layer") or str(check["id"]).split(".")[0]
        statuses += [({"check": check["id"], "layer": layer, "status": s}, int(check.get("status") == s))
                     for s in CHECK_STATUSES]
    fam.family("posture_check_status", "1 for the check's current status, 0 for the others.", statuses)

    if isinstance(scan.get("duration_s"), (int, float)):
        fam.family("posture_scan_duration_seconds", "Wall time of the scan.", [({}, scan["duration_s"])])
    when = _timestamp(scan.get("finished_at")) or _timestamp(scan.get("started_at"))
    if when is not None:
        fam.family("posture_scan_timestamp_seconds", "When the scan finished, as Unix time.", [({}, when)])
    fam.family("posture_scan_errors", "Scan errors: inputs that did not parse, checks that broke.",
               [({}, len(report.get("errors") or []))])
    gate = report.get("gate") or {}
    if gate.get("evaluated"):
        fam.family("posture_gate_passed", "1 when the CI gates held, 0 when one failed.",
                   [({}, bool(gate.get("passed")))])
    return fam.text()
