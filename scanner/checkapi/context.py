"""What a check may know of the scan that runs it, besides the inventory and its own options."""
from __future__ import annotations

from scanner.core.options import ScanOptions

_NO_SCAN = ScanOptions(cache_dir=None)  # an inventory built outside a scan (tests, `posture leaks`)


def scan_options(inv) -> ScanOptions:
    """The ScanOptions of the scan that built `inv` (the engine sets `inv.options`)."""
    return getattr(inv, "options", None) or _NO_SCAN
