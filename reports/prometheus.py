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

The text is written by prometheus-client's OpenMetrics exposition (its escaping and number
formatting are the reference implementation's); this module only says which samples exist.
"""
from __future__ import annotations

from datetime import datetime, timezone

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from reports.interface import RenderOptions
from scanner.core.model import LAYERS, SEVERITIES
from scanner.engine.report_model import Report

FILENAME = "posture-report.prom"

CHECK_STATUSES = ("pass", "fail", "warn", "not_applicable", "error")


def _timestamp(value: str | None) -> float | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def _family(name: str, help_text: str, labels: list[str], samples: list[tuple[list[str], float]],
            source: str) -> GaugeMetricFamily:
    fam = GaugeMetricFamily(name, help_text, labels=["source", *labels])
    for values, value in samples:
        fam.add_metric([source, *values], float(value))
    return fam


class _ReportCollector(Collector):
    """The report's samples, family by family (a family without samples is left out)."""

    def __init__(self, report: Report):
        self.report = report

    def collect(self):
        r = self.report
        score, scan = r.score, r.scan
        source = r.source_slug  # same naming as the snapshot archive, so metrics and snapshots line up
        names = [n for n in LAYERS if n in score.layers]
        layers = score.layers
        families = [
            ("posture_score", "Posture score 0-100 per layer; layer=\"overall\" is the weighted overall score.",
             ["layer"], [(["overall"], score.overall)]
             + [([n], layers[n].score) for n in names if layers[n].score is not None]),
            ("posture_grade_info", "Current grade (A-F) per layer and overall; the value is always 1.",
             ["layer", "grade"], [(["overall", score.grade], 1)]
             + [([n, layers[n].grade], 1) for n in names if layers[n].grade]),
            ("posture_findings", "Open findings (fail and warn, waived excluded) per layer and severity.",
             ["layer", "severity"], [([n, s], layers[n].findings.get(s, 0)) for n in names for s in SEVERITIES]),
            ("posture_check_status", "1 for the check's current status, 0 for the others.",
             ["check", "layer", "status"],
             [([c.id, c.layer, s], int(c.status == s)) for c in r.checks for s in CHECK_STATUSES]),
            ("posture_scan_duration_seconds", "Wall time of the scan.", [], [([], scan.duration_s)]),
        ]
        when = _timestamp(scan.finished_at) or _timestamp(scan.started_at)
        if when is not None:
            families.append(("posture_scan_timestamp_seconds", "When the scan finished, as Unix time.", [],
                             [([], when)]))
        families.append(("posture_scan_errors", "Scan errors: inputs that did not parse, checks that broke.", [],
                         [([], len(r.errors))]))
        if r.gate.evaluated:
            families.append(("posture_gate_passed", "1 when the CI gates held, 0 when one failed.", [],
                             [([], int(r.gate.passed))]))
        for name, help_text, labels, samples in families:
            if samples:
                yield _family(name, help_text, labels, samples, source)


def render(report: Report, options: RenderOptions | None = None) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ReportCollector(report))
    return generate_latest(registry).decode("utf-8")
