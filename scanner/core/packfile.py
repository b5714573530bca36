"""Cache packs: one file per scanned folder holding a dict of entries, in Python's `marshal` format
(the one `.pyc` files use: it keeps tuples, bytes and non-string keys exactly). The caches read their
pack once at the start of a scan and write the entries that scan used once at its end, so an entry
no longer asked for drops out. Named by everything that decides how entries read (the cache's
format, the scanner, Python and marshal versions, the folder); a pack that cannot be read or written
only costs time."""
from __future__ import annotations

import hashlib
import marshal
import os
import sys

from scanner import __version__
from scanner.core.atomicfile import write_atomic


def pack_path(cache_dir: str, kind: str, *material) -> str:
    """The pack of one cache (`kind`, a folder of `cache_dir`) for the given material (its format,
    the scanned folder ...): a different scanner, Python or marshal version is a different pack."""
    key = repr((*material, __version__, sys.version_info[:3], marshal.version)).encode()
    return os.path.join(cache_dir, kind, hashlib.sha256(key).hexdigest() + ".marshal")


def read_pack(path: str) -> dict:
    """The entries of a pack; {} when it is missing, damaged or not a dict."""
    try:
        with open(path, "rb") as fh:
            pack = marshal.loads(fh.read())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return pack if isinstance(pack, dict) else {}


def save_pack(path: str, read: dict, entries: dict) -> None:
    """Write `entries` unless the pack read at the start held the same keys (best effort: an entry
    marshal cannot hold, or a cache that cannot be written, leaves the old pack)."""
    if entries.keys() == read.keys():
        return
    try:
        blob = marshal.dumps(entries)
    except ValueError:
        return
    try:
        write_atomic(path, blob, dir_mode=0o700)
    except OSError:
        pass
