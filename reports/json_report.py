"""The JSON report: the result model itself, versioned by reports/schema/report.schema.json.

Small reports are indented for people reading them; from `COMPACT_FROM_FINDINGS` findings on the
report is written on one line without spaces: the same JSON value, produced by the json module's C
encoder (indentation forces its pure-Python encoder, ~4x slower) and about 30% smaller. Either way
it ends with a newline.
"""
from __future__ import annotations

import json

FILENAME = "posture-report.json"
COMPACT_FROM_FINDINGS = 500


def _findings(report: dict) -> int:
    checks = report.get("checks")
    if not isinstance(checks, list):
        return 0
    return sum(len(c.get("findings") or ()) for c in checks if isinstance(c, dict))


def render(report: dict, options: dict | None = None) -> str:
    if _findings(report) >= COMPACT_FROM_FINDINGS:
        return json.dumps(report, ensure_ascii=False, separators=(",", ":")) + "\n"
    return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
