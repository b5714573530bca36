"""The JSON report: the result model itself, versioned by reports/schema/report.schema.json."""
from __future__ import annotations

import json

FILENAME = "posture-report.json"


def render(report: dict, options: dict | None = None) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
