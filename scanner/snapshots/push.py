"""Push the Prometheus text to a Pushgateway, for scans that run as short-lived jobs (the in-cluster
CronJob) where no textfile collector can pick a file up.

PUT replaces the group's metrics, so a check that disappeared from the scan also disappears from
Prometheus. The group is `job=gitops-posture, source=<scan source>`: the metrics carry the same
`source` label, so several clusters or repos can push to one gateway without overwriting each other.
"""
from __future__ import annotations

import base64
import urllib.error
import urllib.request

from scanner.snapshots import SnapshotError

JOB = "gitops-posture"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the classic format gateways parse


def _segment(name: str, value: str) -> str:
    if value and "/" not in value:
        return f"{name}/{urllib.request.quote(value, safe='')}"
    encoded = base64.urlsafe_b64encode(value.encode()).decode() or "="  # the gateway's encoding for "/"
    return f"{name}@base64/{encoded}"


def group_url(gateway: str, source: str, job: str = JOB) -> str:
    return f"{gateway.rstrip('/')}/metrics/{_segment('job', job)}/{_segment('source', source)}"


def push(gateway: str, text: str, source: str, timeout: float = 30.0) -> str:
    """PUT the metrics; returns the URL. SnapshotError with the gateway's answer on failure."""
    if not gateway.startswith(("http://", "https://")):
        raise SnapshotError(f"--pushgateway must be an http(s) URL, not {gateway!r}")
    url = group_url(gateway, source)
    body = "".join(line + "\n" for line in text.splitlines() if line != "# EOF")  # OpenMetrics-only marker
    request = urllib.request.Request(url, data=body.encode(), method="PUT", headers={"Content-Type": CONTENT_TYPE})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the user's URL
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace").strip()[:300]
        raise SnapshotError(f"Pushgateway {url} answered {exc.code}: {detail or exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SnapshotError(f"cannot push metrics to {url}: {getattr(exc, 'reason', exc)}") from None
    return url
