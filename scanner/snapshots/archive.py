"""The snapshot archive: one JSON report per snapshot, an optional signature beside it, an index.

Layout of an archive directory DIR:

    DIR/snapshots/20250301T020000Z-homelab.json       the report, as the scan produced it
    DIR/snapshots/20250301T020000Z-homelab.json.sig   base64 Ed25519 signature (optional)
    DIR/index.json                                    [{file, started_at, source, overall, ...}]
    DIR/.lock                                         flock target serialising writers

Names start with the scan's UTC start time, so sorting names sorts snapshots chronologically; two
snapshots of one source in the same second get `_002`, `_003`... (which sort after the first).
The snapshot files are the record; the index is a cache rebuilt from them whenever it is missing,
corrupt or out of step (e.g. after a crash between writing a snapshot and updating the index).
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
from scanner.snapshots import SnapshotError
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


def entry_for(path: Path, data: bytes | None = None) -> dict:
    """The index entry of one snapshot file, read from the file itself."""
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
    }
    try:
        report = loads_bounded(data)
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


def _load_index(path: Path) -> list | None:
    try:
        data = loads_bounded(read_bounded(path))
    except (OSError, ValueError):
        return None
    if not isinstance(data, list) or not all(isinstance(e, dict) and "file" in e for e in data):
        return None
    return data


def _snapshot_files(archive: Path) -> list[Path]:
    directory = archive / SNAPSHOTS
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if NAME_RE.match(p.name) and p.is_file())


def _reconcile(archive: Path, index: list | None, writable: bool) -> list[dict]:
    """The index as the files on disk say it should be, reusing entries that still match."""
    known = {e["file"]: e for e in index or []}
    files = _snapshot_files(archive)
    result = []
    for path in files:
        entry = known.get(f"{SNAPSHOTS}/{path.name}")
        if entry is None or entry.get("error"):  # new to the index, or worth another look
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
    current = _load_index(archive / INDEX)
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
          now: datetime | None = None) -> dict:
    """Add `report` to the archive (signed when a key is given) and return its index entry."""
    archive = Path(archive_dir)
    directory = archive / SNAPSHOTS
    directory.mkdir(parents=True, exist_ok=True)
    key = load_private_key(sign_key) if sign_key else None  # fail before writing anything

    data = _encode(report)
    # Sign what a verifier will re-read from the file, not the in-memory dict (tuples, float keys).
    signature = sign(json.loads(data), key) if key else None
    stem = f"{snapshot_time(report, now).strftime('%Y%m%dT%H%M%SZ')}-{source_slug(report)}"

    # The slow part (writing and fsyncing) happens before taking the lock; only naming, renaming
    # and the index update are serialised.
    tmp = write_temp(directory, data)
    tmp_sig = write_temp(directory, signature) if signature else None
    try:
        with locked(archive / LOCK) as writable:
            if not writable:
                raise SnapshotError(f"cannot lock {archive / LOCK}: is the archive writable?")
            remove_stale_temps(directory)
            remove_stale_temps(archive)  # an index write cut short
            name = _free_name(directory, stem)
            target = directory / name
            if tmp_sig:  # signature first: a snapshot must never appear unsigned by accident
                commit(tmp_sig, signature_path(target))
                tmp_sig = None
            commit(tmp, target)
            tmp = None
            current = _reconcile(archive, _load_index(archive / INDEX), True)
            _write_index(archive, current)
            return next(e for e in current if e["file"] == f"{SNAPSHOTS}/{name}")
    finally:
        for leftover in (tmp, tmp_sig):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    leftover.unlink()


def prune(archive_dir: str | Path, policy: Policy) -> list[str]:
    """Delete snapshots the policy does not keep, per source; return the removed files."""
    archive = Path(archive_dir)
    if not policy.active:
        return []
    removed: list[str] = []
    with locked(archive / LOCK) as writable:
        if not writable:
            raise SnapshotError(f"cannot lock {archive / LOCK}: is the archive writable?")
        current = _sync_index(archive, True)
        by_source: dict[str, list[tuple[str, datetime]]] = {}
        for e in current:
            name = Path(e["file"]).name
            by_source.setdefault(NAME_RE.match(name)["source"], []).append((e["file"], name_time(name)))
        keep: set[str] = set()
        for items in by_source.values():
            keep.update(select(items, policy))
        for e in current:
            if e["file"] in keep:
                continue
            path = archive / e["file"]
            path.unlink(missing_ok=True)  # snapshot first: a lone signature is cleaned up later
            signature_path(path).unlink(missing_ok=True)
            removed.append(e["file"])
        if removed:
            _write_index(archive, [e for e in current if e["file"] in keep])
    return removed


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
