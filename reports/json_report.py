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
    for part, _ in PARTS(report):
        write_part(report, options, fh, part)


def PARTS(report: dict) -> tuple[tuple[str, float], ...]:  # noqa: N802 (the formatter attribute, see reports.registry.parts_of)
    """A large report is written in parts another process may render (see reports.registry.parts_of):
    the keys before "checks" with the first half of the checks (by findings), the second half, and the
    keys after. (The parts are joined by appending to the first: it is the big one, so little is copied.)"""
    if _findings(report) < COMPACT_FROM_FINDINGS or not isinstance(report.get("checks"), list):
        return (("all", 2),)
    return (("first", 1), ("second", 1), ("tail", 0.2))


def _halves(checks: list) -> tuple[list, list]:
    sizes = [len(c.get("findings") or ()) if isinstance(c, dict) else 0 for c in checks]
    half, acc, cut = sum(sizes) / 2, 0, len(checks)
    for i, n in enumerate(sizes):
        if acc + n / 2 > half:
            cut = i
            break
        acc += n
    return checks[:cut], checks[cut:]


def write_part(report: dict, options: dict | None, fh, part: str) -> None:
    if part == "all":
        fh.write(render(report, options))
        return
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    keys = list(report)
    at = keys.index("checks")
    first, second = _halves(report["checks"])
    if part == "first":
        fh.write("{")
        for i, key in enumerate(keys[:at]):
            fh.write(("," if i else "") + dumps(key if isinstance(key, str) else str(key)) + ":" + dumps(report[key]))
        fh.write(("," if at else "") + '"checks":[')
        for j, check in enumerate(first):
            fh.write(("," if j else "") + dumps(check))
    elif part == "second":
        for j, check in enumerate(second):
            fh.write(("," if j or first else "") + dumps(check))
    elif part == "tail":
        fh.write("]")
        for key in keys[at + 1:]:
            fh.write("," + dumps(key if isinstance(key, str) else str(key)) + ":" + dumps(report[key]))
        fh.write("}\n")
    else:
        raise ValueError(f"no part {part!r}")
