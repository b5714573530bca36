"""Run one full scan (all checks, JSON + HTML written) in this process; print timings as JSON.

Run in a fresh process per measurement so peak memory (ru_maxrss) belongs to that scan alone."""
from __future__ import annotations

import json
import resource
import sys
import time

t0 = time.perf_counter()
from scanner.api import scan, write_reports  # noqa: E402  (import time is part of the wall time)
from reports.registry import formatters  # noqa: E402

repo, out = sys.argv[1], sys.argv[2]
run = scan(repo)
formats = [f for f in ("json", "html") if f in formatters()]
write_reports(run.report, formats, out)
wall = time.perf_counter() - t0
print(json.dumps({
    "wall_s": wall,
    "phases": run.report["scan"]["phases"],
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "stats": run.report["scan"]["stats"],
    "formats": formats,
}))
