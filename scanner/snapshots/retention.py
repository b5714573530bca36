"""Which snapshots a keep-daily/weekly/monthly policy keeps. Pure arithmetic, no files.

Semantics follow restic/borg `forget`: `--keep-daily N` keeps the newest snapshot of each of the N
most recent days *that have snapshots* (not the last N calendar days), likewise ISO weeks and
months; a snapshot kept by any rule is kept, and the newest snapshot is always kept. Counting
periods that have snapshots means a scan job that stopped for a month does not wipe the archive.
Periods are UTC calendar periods.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Hashable, Iterable


@dataclass(frozen=True)
class Policy:
    """How many daily, weekly and monthly snapshots to keep."""

    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    @property
    def active(self) -> bool:
        """No keep option at all means 'keep everything', never 'keep only the newest'."""
        return any((self.daily, self.weekly, self.monthly))

    def __post_init__(self) -> None:
        for name in ("daily", "weekly", "monthly"):
            if getattr(self, name) < 0:
                raise ValueError(f"keep-{name} must be >= 0")


BUCKETS: dict[str, Callable[[datetime], tuple]] = {
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),  # ISO year + week: 2021-01-03 is week 53 of 2020
    "monthly": lambda t: (t.year, t.month),
}


def select(items: Iterable[tuple[Hashable, datetime]], policy: Policy) -> dict[Hashable, list[str]]:
    """Map each kept item to the rules that keep it; items not in the result are to be pruned."""
    ordered = sorted(items, key=lambda kv: (kv[1], str(kv[0])), reverse=True)  # newest first
    kept: dict[Hashable, list[str]] = {}
    if not ordered:
        return kept
    if not policy.active:
        return {k: ["no policy"] for k, _ in ordered}
    kept[ordered[0][0]] = ["newest"]
    for rule, bucket_of in BUCKETS.items():
        budget = getattr(policy, rule)
        last_bucket = None
        for key, when in ordered:
            if budget <= 0:
                break
            bucket = bucket_of(when)
            if bucket != last_bucket:  # the first (newest) snapshot seen in a new period
                kept.setdefault(key, []).append(rule)
                last_bucket = bucket
                budget -= 1
    return kept
