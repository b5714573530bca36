"""JSON from files the user points at (reports, snapshots, signatures, the index): read as regular
files with a byte limit, and nested no deeper than a report ever is, so a 100,000-deep array is a
clear error rather than a RecursionError in `verify`, `diff`, `--baseline` or `--history`."""
from __future__ import annotations

import json

from scanner.sources.readfile import UnreadableFile, read_regular

MAX_JSON_DEPTH = 64  # a posture report nests about 8 levels deep
MAX_JSON_BYTES = 512 * 1024 * 1024


class JSONTooDeep(ValueError):
    pass


def _depth_exceeds(obj, limit: int) -> bool:
    stack = [(obj, 0)]
    while stack:
        o, d = stack.pop()
        if d > limit:
            return True
        if isinstance(o, dict):
            stack.extend((v, d + 1) for v in o.values())
        elif isinstance(o, list):
            stack.extend((v, d + 1) for v in o)
    return False


def loads_bounded(data: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, object_pairs_hook=None):
    """`json.loads` that raises ValueError (JSONTooDeep) for documents nested past `max_depth`."""
    try:
        obj = json.loads(data, object_pairs_hook=object_pairs_hook)
    except RecursionError:
        raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels") from None
    if _depth_exceeds(obj, max_depth):
        raise JSONTooDeep(f"JSON nested deeper than {max_depth} levels")
    return obj


def read_bounded(path, max_bytes: int = MAX_JSON_BYTES) -> bytes:
    """The bytes of a regular file (OSError when it is not one, or over the limit)."""
    try:
        return read_regular(str(path), max_bytes)
    except UnreadableFile as exc:
        raise OSError(str(exc)) from None
