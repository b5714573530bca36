"""The snapshot archive: one JSON report per snapshot, an optional signature beside it, an index.

Layout of an archive directory DIR:

    DIR/snapshots/20250301T020000Z-homelab.json       the report, as the scan produced it
    DIR/snapshots/20250301T020000Z-homelab.json.sig   base64 Ed25519 signature (optional)
    DIR/index.json                                    [{file, started_at, source, overall, seq, ...}]
    DIR/HEAD                                          the newest link of the chain (see chain.py)
    DIR/.lock                                         flock target serialising writers

Names start with the scan's UTC start time, so sorting names sorts snapshots chronologically; two
snapshots of one source in the same second get `_002`, `_003`... (which sort after the first).
The snapshot files are the record; the index is a cache rebuilt from them whenever it is missing,
corrupt or out of step (e.g. after a crash between writing a snapshot and updating the index).
Each snapshot is chained to the one stored before it (chain.py); retention runs inside `store`, so
the snapshot being stored records what it removed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path

from scanner.sources.safejson import loads_bounded, read_bounded
from scanner.engine.report_model import source_slug  # noqa: F401  (re-exported: archive names use it)
from scanner.snapshots import SnapshotError, chain
from scanner.snapshots.atomic import atomic_write_bytes, commit, locked, remove_stale_temps, write_temp
from scanner.snapshots.retention import Policy, select
from scanner.snapshots.signing import load_private_key, sign, signature_path

SNAPSHOTS = "snapshots"
INDEX = "index.json"
LOCK = ".lock"
ARCHIVE_PREFIX = "archive:"
NAME_RE = re.compile(r"^(?P<ts>\d{8}T\d{6}Z)-(?P<source>[a-z0-9][a-z0-9-]*?)(?:_(?P<seq>\d{3}))?\.json$")
SEVERITIES = ("critical", "high", "medium", "low", "info")


# --- names ---------------------------------------------------------------------------------------

def parse_time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def snapshot_time(report: dict, now: datetime | None = None) -> datetime:
    scan = report.get("scan") or {}
    return parse_time(scan.get("started_at")) or (now or datetime.now(timezone.utc))


def name_time(name: str) -> datetime:
    m = NAME_RE.match(name)
    if not m:
        raise SnapshotError(f"{name} is not a snapshot name")
    return datetime.strptime(m["ts"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def _free_name(directory: Path, stem: str) -> str:
    for seq in range(1, 1000):
        name = f"{stem}.json" if seq == 1 else f"{stem}_{seq:03d}.json"
        if not (directory / name).exists() and not signature_path(directory / name).exists():
            return name
    raise SnapshotError(f"more than 999 snapshots named {stem} in one second")


# --- index ---------------------------------------------------------------------------------------

def _totals(layers: dict) -> dict:
    totals = dict.fromkeys(SEVERITIES, 0)
    for layer in layers.values():
        for sev, n in ((layer or {}).get("findings") or {}).items():
            if sev in totals and isinstance(n, int):
                totals[sev] += n
    return totals


def entry_for(path: Path, data: bytes | None = None, report: dict | None = None) -> dict:
    """The index entry of one snapshot file, read from the file itself (`data`: its bytes, `report`:
    those bytes parsed, when the caller has them already)."""
    data = read_bounded(path) if data is None else data
    m = NAME_RE.match(path.name)
    entry = {
        "file": f"{SNAPSHOTS}/{path.name}",
        "started_at": None,
        "source": m["source"] if m else None,
        "overall": None,
        "grade": None,
        "layers": {},
        "findings": {},
        "signed": signature_path(path).exists(),
        "sha256": hashlib.sha256(data).hexdigest(),
        "seq": None,  # None: written before chains (or unreadable)
        "pruned": [],
    }
    try:
        report = loads_bounded(data) if report is None else report
        score = report["score"]
        layers = score.get("layers") or {}
        entry.update(
            started_at=(report.get("scan") or {}).get("started_at"),
            overall=score.get("overall"),
            grade=score.get("grade"),
            layers={name: (v or {}).get("score") for name, v in layers.items()},
            findings=_totals(layers),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        entry["error"] = f"unreadable snapshot: {exc!r}"
        return entry
    try:
        record = chain.record_of(report)
    except chain.BadRecord:  # `snapshots verify` says what is wrong with it
        record = None
    if record:
        entry.update(seq=record["seq"], pruned=[p["file"] for p in record["pruned"]])
    return entry


def load_index(path: Path) -> list | None:
    try:
        data = loads_bounded(read_bounded(path))
    except (OSError, ValueError):
        return None
    if not isinstance(data, list) or not all(isinstance(e, dict) and "file" in e for e in data):
        return None
    return data


def snapshot_files(archive: Path) -> list[Path]:
    directory = archive / SNAPSHOTS
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if NAME_RE.match(p.name) and p.is_file())


def _reconcile(archive: Path, index: list | None, writable: bool) -> list[dict]:
    """The index as the files on disk say it should be, reusing entries that still match."""
    known = {e["file"]: e for e in index or []}
    files = snapshot_files(archive)
    result = []
    for path in files:
        entry = known.get(f"{SNAPSHOTS}/{path.name}")
        # new to the index, worth another look, or indexed before entries had a seq
        if entry is None or entry.get("error") or "seq" not in entry:
            entry = entry_for(path)
        else:
            entry = dict(entry, signed=signature_path(path).exists())
        result.append(entry)
    if writable:  # a signature whose snapshot never landed (crash between the two renames)
        names = {p.name for p in files}
        for sig in (archive / SNAPSHOTS).glob("*.json.sig"):
            if sig.name[: -len(".sig")] not in names:
                with contextlib.suppress(OSError):
                    sig.unlink()
    return result


def _write_index(archive: Path, entries: list[dict]) -> None:
    data = json.dumps(entries, indent=2, ensure_ascii=False).encode() + b"\n"
    atomic_write_bytes(archive / INDEX, data)


def _sync_index(archive: Path, writable: bool) -> list[dict]:
    current = load_index(archive / INDEX)
    entries = _reconcile(archive, current, writable)
    if writable and entries != current:
        try:
            _write_index(archive, entries)
        except OSError:  # reading must work on an archive we may not write to; the next writer repairs
            pass
    return entries


def entries(archive_dir: str | Path) -> list[dict]:
    """The index (oldest first), repaired from the files if needed."""
    archive = Path(archive_dir)
    if not (archive / SNAPSHOTS).is_dir() and not (archive / INDEX).exists():
        raise SnapshotError(f"{archive} is not a snapshot archive (no {SNAPSHOTS}/ or {INDEX})")
    with locked(archive / LOCK) as writable:
        return _sync_index(archive, writable)


# --- writing -------------------------------------------------------------------------------------

def _encode(report: dict) -> bytes:
    try:
        return json.dumps(report, indent=2, ensure_ascii=False).encode() + b"\n"
    except UnicodeEncodeError:  # a lone surrogate (non-UTF-8 file name): \u-escape everything
        return json.dumps(report, indent=2).encode() + b"\n"


def store(archive_dir: str | Path, report: dict, sign_key: str | Path | None = None,
          now: datetime | None = None, policy: Policy | None = None) -> dict:
    """Add `report` to the archive (signed when a key is given), chained to the archive's newest
    snapshot, and apply the retention `policy` in the same step. Returns the new snapshot's index
    entry; its `pruned` names the snapshots the policy removed."""
    archive = Path(archive_dir)
    directory = archive / SNAPSHOTS
    directory.mkdir(parents=True, exist_ok=True)
    key = load_private_key(sign_key) if sign_key else None  # fail before writing anything
    now = now or datetime.now(timezone.utc)
    started = snapshot_time(report, now)
    if started > now + chain.CLOCK_SKEW:
        raise SnapshotError(f"the scan started at {chain.iso(started)}, after this machine's clock "
                            f"({chain.iso(now)}): a future-dated snapshot would stay @latest; check the clocks")
    stem = f"{started.strftime('%Y%m%dT%H%M%SZ')}-{source_slug(report)}"

    # Everything happens under the lock: the name, the predecessor and what retention removes all go
    # into the signed payload, and another writer must not move the head in between.
    with locked(archive / LOCK) as writable:
        if not writable:
            raise SnapshotError(f"cannot lock {archive / LOCK}: is the archive writable?")
        remove_stale_temps(directory)
        remove_stale_temps(archive)  # an index write cut short
        current = _reconcile(archive, load_index(archive / INDEX), True)
        name = _free_name(directory, stem)
        expired = _expired(current, policy, name) if policy and policy.active else []
        previous, seq = _chain_to(archive, current)
        record = chain.new_record(seq, name, now, previous,
                                  [chain.file_link(archive / e["file"], e.get("seq")) for e in expired])
        data = _encode({**report, chain.KEY: record})
        stored = json.loads(data)  # sign and hash what a verifier will re-read (tuples, float keys)
        encoded = chain.canonical(stored)  # the bytes the signature covers, and HEAD's hash
        _commit_snapshot(directory / name, data, sign(stored, key, encoded) if key else None)
        for e in expired:
            path = archive / e["file"]
            path.unlink(missing_ok=True)  # snapshot first: a lone signature is cleaned up later
            signature_path(path).unlink(missing_ok=True)
        current = _reconcile(archive, [e for e in current if e not in expired], True)
        _write_index(archive, current)
        chain.write_head(archive, {"seq": seq, "file": name, "sha256": chain.content_hash(stored, encoded)})
        return next(e for e in current if e["file"] == f"{SNAPSHOTS}/{name}")


def _commit_snapshot(target: Path, data: bytes, signature: bytes | None) -> None:
    tmp = write_temp(target.parent, data)
    tmp_sig = write_temp(target.parent, signature) if signature else None
    try:
        if tmp_sig:  # signature first: a snapshot must never appear unsigned by accident
            commit(tmp_sig, signature_path(target))
            tmp_sig = None
        commit(tmp, target)
        tmp = None
    finally:
        for leftover in (tmp, tmp_sig):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    leftover.unlink()


def _chain_to(archive: Path, current: list[dict]) -> tuple[dict | None, int]:
    """The link the next snapshot names as its predecessor, and the next seq."""
    try:
        head = chain.read_head(archive)
    except chain.BadRecord:  # unreadable head: chain to the files; `snapshots verify` reports the head
        head = None
    chained = [e for e in current if isinstance(e.get("seq"), int)]
    newest = max(chained, key=lambda e: e["seq"]) if chained else None
    if head and (newest is None or head["seq"] >= newest["seq"]):
        return head, head["seq"] + 1  # even when its file is gone: the gap stays visible
    if newest:  # HEAD behind the files: a writer died between the two
        return chain.file_link(archive / newest["file"], newest["seq"]), newest["seq"] + 1
    legacy = [e for e in current if not e.get("error")]
    if legacy:  # the first chained snapshot pins the newest one written before chains
        return chain.file_link(archive / legacy[-1]["file"], None), 1
    return None, 1


def _expired(current: list[dict], policy: Policy, new_name: str) -> list[dict]:
    """Entries the policy does not keep once `new_name` is stored (per source; never the new one)."""
    by_source: dict[str, list[tuple[str, datetime]]] = {}
    for name in [Path(e["file"]).name for e in current] + [new_name]:
        by_source.setdefault(NAME_RE.match(name)["source"], []).append((name, name_time(name)))
    keep: set[str] = {new_name}
    for items in by_source.values():
        keep.update(select(items, policy))
    return [e for e in current if Path(e["file"]).name not in keep]


# --- reading -------------------------------------------------------------------------------------

def resolve(ref: str) -> Path:
    """`archive:DIR@SEL` -> a snapshot file. SEL: `latest` (default), `-N` (N before the latest),
    or a name prefix / date (`20250301`, `2025-03-01T02`), which picks the newest match."""
    if not ref.startswith(ARCHIVE_PREFIX):
        return Path(ref)
    body = ref[len(ARCHIVE_PREFIX):]
    directory, at, selector = body.rpartition("@")
    if not at:
        directory, selector = body, "latest"
    archive = Path(directory)
    items = entries(archive)
    if not items:
        raise SnapshotError(f"archive {archive} holds no snapshots")
    relative = selector in ("", "latest") or re.fullmatch(r"-\d+", selector)
    if relative:
        _refuse_future_dated(ref, items)
    if selector in ("", "latest"):
        chosen = items[-1]
    elif re.fullmatch(r"-\d+", selector):
        back = int(selector[1:])
        if back >= len(items):
            raise SnapshotError(f"{ref}: the archive holds only {len(items)} snapshot(s)")
        chosen = items[-1 - back]
    else:
        prefix = selector.replace("-", "").replace(":", "") if re.match(r"\d{4}-", selector) else selector
        matches = [e for e in items if Path(e["file"]).name.startswith(prefix)]
        if not matches:
            raise SnapshotError(f"{ref}: no snapshot name starts with {prefix!r}")
        chosen = matches[-1]
    return archive / chosen["file"]


def _refuse_future_dated(ref: str, items: list[dict]) -> None:
    # Names sort by date, so a snapshot dated in the future would be @latest from now on, and
    # would shift every @-N: a baseline taken from it could never show a regression.
    limit = datetime.now(timezone.utc) + chain.CLOCK_SKEW
    ahead = [Path(e["file"]).name for e in items if name_time(Path(e["file"]).name) > limit]
    if ahead:
        raise SnapshotError(f"{ref}: {ahead[-1]} is dated in the future, so @latest and @-N cannot be trusted; "
                            "run `posture snapshots verify` on the archive")


def load_report(ref: str) -> dict:
    """A report from a JSON file or an archive reference; SnapshotError when it is not one."""
    path = resolve(ref)
    try:
        report = loads_bounded(read_bounded(path))
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SnapshotError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(report, dict) or not isinstance(report.get("checks"), list) or "score" not in report:
        raise SnapshotError(f"{path} is not a posture JSON report (no score/checks)")
    major = str(report.get("schema_version", "1")).split(".")[0]
    if major != "1":
        raise SnapshotError(f"{path}: report schema_version {report.get('schema_version')} is not supported")
    return report


def trend(archive_dir: str | Path, source: str | None = None) -> list[dict]:
    """Score history for charts: [{started_at, overall, grade, layers, source, file}], oldest first."""
    points = []
    for e in entries(archive_dir):
        if e.get("error") or (source and e.get("source") != source):
            continue
        points.append({k: e.get(k) for k in ("started_at", "overall", "grade", "layers", "source", "file")})
    return points
