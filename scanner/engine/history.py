"""Earlier reports for trend charts: every JSON snapshot in an archive directory, oldest first."""
from __future__ import annotations

import glob
import os

from scanner.sources.safejson import loads_bounded, read_bounded


def load_history(directory: str, limit: int = 200) -> list[dict]:
    paths = sorted(glob.glob(os.path.join(directory, "snapshots", "*.json")) or glob.glob(os.path.join(directory, "*.json")))
    out = []
    for p in paths[-limit:]:
        if os.path.basename(p).startswith("index"):
            continue
        try:
            rep = loads_bounded(read_bounded(p))
        except (OSError, ValueError):
            continue  # not a snapshot (a FIFO, too deep, not JSON): the trend goes on without it
        if isinstance(rep, dict) and "score" in rep and "scan" in rep:
            out.append({"scan": {"started_at": rep["scan"].get("started_at")}, "score": rep["score"]})
    out.sort(key=lambda r: r["scan"].get("started_at") or "")
    return out
