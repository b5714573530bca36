"""The JSON report: the report model itself, versioned by reports/schema/report.schema.json (generated
from scanner/engine/report_model.py).

Small reports are indented for people reading them; from `COMPACT_FROM_FINDINGS` findings on the
report is written on one line without spaces: the same JSON value, about 30% smaller. Either way
it ends with a newline. The text is the json module's (`ensure_ascii=False`), written straight from
the model by pydantic's encoder when that gives the same text (reports.jsontext): a non-UTF-8 file
name kept with surrogateescape does not stop the report; the writer decides how it is encoded.
"""
from __future__ import annotations

from reports.interface import RenderOptions
from reports.jsontext import dumps_model
from scanner.engine.report_model import Report

FILENAME = "posture-report.json"
COMPACT_FROM_FINDINGS = 500


def render(report: Report, options: RenderOptions | None = None) -> str:
    compact = sum(len(c.findings) for c in report.checks) >= COMPACT_FROM_FINDINGS
    return dumps_model(report, indent=None if compact else 2) + "\n"
