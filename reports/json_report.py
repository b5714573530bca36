"""The JSON report: the result model itself, versioned by reports/schema/report.schema.json.

Small reports are indented for people reading them; from `COMPACT_FROM_FINDINGS` findings on the
report is written on one line without spaces: the same JSON value, produced by the json module's C
encoder (indentation forces its pure-Python encoder, ~4x slower) and about 30% smaller. Either way
it ends with a newline.
"""
from __future__ import annotations

import json

FILENAME = "posture-report.json"
RENDER_COST = 2
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


def write(report: dict, options: dict | None, fh) -> None:
    """`render` into the text file `fh`, a check at a time for large reports: the same bytes,
    without holding the whole document (hundreds of MB for a large scan) as one string."""
    if _findings(report) < COMPACT_FROM_FINDINGS:
        fh.write(render(report, options))
        return
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    fh.write("{")
    for i, (key, value) in enumerate(report.items()):
        fh.write(("," if i else "") + dumps(key if isinstance(key, str) else str(key)) + ":")
        if key == "checks" and isinstance(value, list):
            fh.write("[")
            for j, check in enumerate(value):
                fh.write(("," if j else "") + dumps(check))
            fh.write("]")
        else:
            fh.write(dumps(value))
    fh.write("}\n")
