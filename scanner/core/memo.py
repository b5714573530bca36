"""Per-inventory memo for checks: indexes built once per scan instead of a scan of the inventory per subject.

`memo(inv, name, build)` returns `build()` computed once for this inventory; it is rebuilt when the
inventory has grown since (resources, documents, workloads or routes added), so it is never stale within a
scan. Values must be treated as read-only by callers."""
from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T")


def _size(inv) -> tuple:
    return (len(inv.resources), len(inv.documents), len(inv.workloads), len(inv.routes), len(inv.files))


def memo(inv, name: str, build: Callable[[], T]) -> T:
    store = inv.__dict__.get("_check_memo")
    if store is None:
        store = inv.__dict__["_check_memo"] = {}
    size = _size(inv)
    hit = store.get(name)
    if hit is not None and hit[0] == size:
        return hit[1]
    value = build()
    store[name] = (size, value)
    return value
