"""The chain: every stored snapshot names its predecessor by hash, inside the signed payload.

A snapshot carries a `chain` record at the top level of its JSON, so the signature covers it:

    "chain": {
      "format": 1,
      "seq": 7,                                  1 for the archive's first chained snapshot
      "file": "20250301T020000Z-homelab.json",   the name it was stored under (a rename shows)
      "stored_at": "2025-03-01T02:00:05Z",       the archive writer's clock
      "previous": {"seq": 6, "file": "...", "sha256": "..."},   null for the very first snapshot;
                                                 seq null: the newest snapshot written before chains
      "pruned": [{"seq": 3, "file": "...", "sha256": "..."}]    what this run's retention removed
    }

`sha256` is taken over the canonical JSON of a whole snapshot (its own chain record included), so
re-indenting a file (or a Git checkout changing line ends) keeps the chain while changing any value
breaks it. The encoding is fixed by the record's `format`: verifiers recompute these hashes for as
long as an archive is kept. Format 1 is RFC 8785 (JCS, the `rfc8785` package), and for a value JCS
cannot encode (a lone surrogate from a non-UTF-8 file name, an integer past 2^53) the sorted-keys
compact form the signatures used before JCS: the very bytes signatures cover today, so one encoding
(most of a second for a multi-megabyte report) serves both. Should the signatures' form change,
`canonical` keeps format 1 and a new format gets its own. Retention removes snapshots only in the run that stores the next
one and lists them in that snapshot's `pruned`, so every gap is either signed for or a deletion.

`HEAD` beside the index names the newest link. A writer chains to it even when its file is
gone, so deleting the newest snapshots and then storing another leaves a visible gap instead of
closing it. An archive rolled back as a whole (snapshots, head and index together) looks intact
from inside; `posture snapshots verify --state FILE` remembers the head it last saw to catch that.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import rfc8785

from scanner.snapshots.atomic import atomic_write_bytes
from scanner.snapshots.signing import legacy_canonical_json, parse_strict
from scanner.sources.safejson import read_bounded

FORMAT = 1
KEY = "chain"
# Not *.json: tools (and the acceptance check) list snapshots as every *.json but the index.
HEAD = "HEAD"
# Clocks of the machines that scan and verify differ; a snapshot dated further ahead than this is
# future-dated, not skewed.
CLOCK_SKEW = timedelta(minutes=10)


def canonical(obj) -> bytes:
    """The format-1 canonical JSON of a parsed snapshot."""
    try:
        return rfc8785.dumps(obj)
    except rfc8785.CanonicalizationError:
        return legacy_canonical_json(obj)


def content_hash(obj, encoded: bytes | None = None) -> str:
    """sha256 of the format-1 canonical JSON of a parsed snapshot (what `previous` and `pruned`
    record); `encoded`: canonical(obj), when the caller has it already."""
    return hashlib.sha256(canonical(obj) if encoded is None else encoded).hexdigest()


def file_link(path: Path, seq: int | None) -> dict:
    """{seq, file, sha256} of a snapshot file; sha256 null when it is not JSON at all."""
    try:
        digest = content_hash(parse_strict(read_bounded(path)))
    except (OSError, ValueError, UnicodeDecodeError):
        digest = None
    return {"seq": seq, "file": path.name, "sha256": digest}


def new_record(seq: int, name: str, stored_at: datetime, previous: dict | None, pruned: list[dict]) -> dict:
    return {"format": FORMAT, "seq": seq, "file": name, "stored_at": iso(stored_at),
            "previous": previous, "pruned": pruned}


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class BadRecord(ValueError):
    """A chain record that is not one this version writes (the snapshot's links cannot be followed)."""


def _link(value, where: str, seq_required: bool) -> dict:
    if not isinstance(value, dict) or not isinstance(value.get("file"), str):
        raise BadRecord(f"{where} is not a {{seq, file, sha256}} link")
    seq = value.get("seq")
    if (seq is None and seq_required) or (seq is not None and (type(seq) is not int or seq < 1)):
        raise BadRecord(f"{where} has no valid seq")
    digest = value.get("sha256")
    if digest is not None and not (isinstance(digest, str) and len(digest) == 64):
        raise BadRecord(f"{where} has no valid sha256")
    return {"seq": seq, "file": value["file"], "sha256": digest}


def record_of(report) -> dict | None:
    """The validated chain record of a parsed snapshot; None for a snapshot from before chains."""
    if not isinstance(report, dict) or KEY not in report:
        return None
    rec = report[KEY]
    if not isinstance(rec, dict) or rec.get("format") != FORMAT:
        raise BadRecord(f"chain record of an unknown format ({rec.get('format') if isinstance(rec, dict) else rec!r})")
    seq = rec.get("seq")
    if type(seq) is not int or seq < 1:
        raise BadRecord("chain record has no valid seq")
    if not isinstance(rec.get("file"), str) or not isinstance(rec.get("stored_at"), str):
        raise BadRecord("chain record has no file or stored_at")
    previous = rec.get("previous")
    if previous is not None:
        previous = _link(previous, "chain.previous", seq_required=False)
    pruned = rec.get("pruned")
    if not isinstance(pruned, list):
        raise BadRecord("chain.pruned is not a list")
    return {"seq": seq, "file": rec["file"], "stored_at": rec["stored_at"], "previous": previous,
            "pruned": [_link(p, "chain.pruned entry", seq_required=False) for p in pruned]}


def read_head(archive: Path) -> dict | None:
    """The newest link as HEAD records it; None when there is no HEAD. BadRecord when
    there is one that cannot be read as a link."""
    path = archive / HEAD
    if not path.exists() and not path.is_symlink():
        return None
    try:
        return _link(parse_strict(read_bounded(path, 64 * 1024)), HEAD, seq_required=True)
    except BadRecord:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise BadRecord(f"{HEAD} is unreadable: {exc}") from None


def write_head(archive: Path, link: dict) -> None:
    atomic_write_bytes(archive / HEAD, json.dumps(link, indent=2).encode() + b"\n")
