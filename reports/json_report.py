"""The JSON report: the report model itself, versioned by reports/schema/report.schema.json (generated
from scanner/engine/report_model.py).

Small reports are indented for people reading them; from `COMPACT_FROM_FINDINGS` findings on the
report is written on one line without spaces: the same JSON value, produced by the json module's C
encoder (indentation forces its pure-Python encoder, ~4x slower) and about 30% smaller. Either way
it ends with a newline. (The json module, not pydantic's own dump: a non-UTF-8 file name kept with
surrogateescape must not stop the report; the writer decides how such a string is encoded.)
"""
from __future__ import annotations

import json

from reports.interface import RenderOptions
from scanner.engine.report_model import Report

FILENAME = "posture-report.json"
COMPACT_FROM_FINDINGS = 500


def render(report: Report, options: RenderOptions | None = None) -> str:
    data = report.to_json_dict()
    if sum(len(c.findings) for c in report.checks) >= COMPACT_FROM_FINDINGS:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
