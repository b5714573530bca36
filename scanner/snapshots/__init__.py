"""Compliance snapshots: a signed, append-mostly archive of scan reports, with diff and retention.

One module per job:
    atomic     crash-safe file writes and the archive lock
    signing    Ed25519 keys, canonical JSON, sign/verify
    archive    snapshot names, store, index, history, `archive:DIR@REF` references
    retention  which snapshots a keep-daily/weekly/monthly policy keeps (pure arithmetic)
    diff       finding identity, report-to-report diff, baseline gate
    render     the diff as text, JSON or Markdown
    push       the Prometheus text to a Pushgateway (in-cluster CronJob)
"""
from __future__ import annotations

from scanner.core.errors import UsageError


class SnapshotError(UsageError):
    """A user-facing problem with an archive, snapshot, key or reference (the CLI exits 2)."""
