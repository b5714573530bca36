"""`posture snapshots verify`: the whole archive checked, not one file at a time.

A break is anything the archive's own writer cannot have produced:
- a snapshot whose signature does not verify, or that cannot be read;
- renamed: the name is not the one it was stored under (or, written before chains, not its scan time);
- replayed: the same scan stored twice, two snapshots claiming one place in the chain, an unchained
  snapshot dated after the chain began, or a snapshot stored before its predecessor;
- future-dated: scanned or stored after the verifier's clock (beyond chain.CLOCK_SKEW);
- a link that does not match: the predecessor was edited, swapped or renamed;
- a gap: a place in the chain with no snapshot and no later snapshot recording its pruning;
- rolled back: HEAD names a snapshot that is gone, or the archive no longer reaches the head
  the last verification saw (`--state`);
- an edited index: an entry that says something its file does not, or lists a file that is gone.

The archive is read as it is: nothing is repaired first (a reader such as `history` rewrites an
out-of-step index, which would erase the evidence). Snapshots written before chains existed verify
as "unchained (legacy)"; their signatures are checked all the same.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from scanner.snapshots import SnapshotError, chain
from scanner.snapshots import archive as arc
from scanner.snapshots.atomic import atomic_write_bytes
from scanner.snapshots.signing import parse_strict, signature_path, verify_file
from scanner.sources.safejson import read_bounded

INDEX_FIELDS_ADDED_WITH_CHAINS = ("seq", "pruned")  # absent from indexes written before chains


@dataclass
class Snapshot:
    """One snapshot file as the audit saw it."""

    name: str
    signature: str = "unchecked"  # valid, invalid, unsigned, unchecked (no key given)
    record: dict | None = None  # the chain record; None: written before chains (or unreadable)
    sha256: str | None = None  # chain.content_hash of the file
    scan_sha256: str | None = None  # the hash of its `scan` block: which scan it records
    started: datetime | None = None
    stored: datetime | None = None
    readable: bool = True
    bad_record: bool = False  # a chain record this version cannot follow
    index_entry: dict | None = None  # what index.json should say about this file
    problems: list[str] = field(default_factory=list)

    @property
    def seq(self) -> int | None:
        return self.record["seq"] if self.record else None

    def as_json(self) -> dict:
        return {"file": self.name, "seq": self.seq, "chained": self.record is not None,
                "signature": self.signature, "problems": self.problems}


@dataclass
class Audit:
    archive: Path
    snapshots: list[Snapshot] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # breaks that belong to no single file
    notes: list[str] = field(default_factory=list)  # worth knowing, not a break
    head: Snapshot | None = None  # the newest chained snapshot present

    @property
    def breaks(self) -> list[str]:
        return [f"{s.name}: {p}" for s in self.snapshots for p in s.problems] + self.problems

    @property
    def status(self) -> str:
        if self.breaks:
            return "broken"
        return "unsigned" if any(s.signature == "unsigned" for s in self.snapshots) else "intact"

    @property
    def exit_code(self) -> int:  # as `posture verify`: only 0 means nothing was found wrong
        return {"intact": 0, "broken": 1, "unsigned": 2}[self.status]

    def as_json(self) -> dict:
        head = self.head
        return {"archive": str(self.archive), "status": self.status, "breaks": self.breaks, "notes": self.notes,
                "head": {"seq": head.seq, "file": head.name, "stored_at": head.record["stored_at"]} if head else None,
                "snapshots": [s.as_json() for s in self.snapshots]}


def verify_archive(archive_dir: str | Path, public_key: Ed25519PublicKey | None = None,
                   state_path: str | Path | None = None, now: datetime | None = None) -> Audit:
    """Check every snapshot, the chain, HEAD and the index; with `state_path`, also that the
    archive still reaches the head the previous verification saw (and remember the new one)."""
    archive = Path(archive_dir)
    if not (archive / arc.SNAPSHOTS).is_dir() and not (archive / arc.INDEX).exists():
        raise SnapshotError(f"{archive} is not a snapshot archive (no {arc.SNAPSHOTS}/ or {arc.INDEX})")
    now = now or datetime.now(timezone.utc)
    state = _read_state(Path(state_path)) if state_path else None
    audit = Audit(archive)
    audit.snapshots = [_inspect(path, public_key, now) for path in arc.snapshot_files(archive)]
    if public_key is None:
        audit.notes.append("signatures not checked (no --key): the chain shows edits that did not recompute "
                           "it; only a signature shows who wrote a snapshot")
    _check_replays(audit)
    _Chain(audit).check()
    _check_legacy_after_chain(audit)
    _check_index(audit)
    if state is not None:
        _check_state(audit, state)
    if state_path and not audit.breaks and audit.head:
        _write_state(Path(state_path), audit.head, now)
    return audit


# --- one file ------------------------------------------------------------------------------------

def _inspect(path: Path, public_key, now: datetime) -> Snapshot:
    snap = Snapshot(path.name)
    obj = None
    try:  # each file is read and parsed once: archives hold hundreds of multi-megabyte reports
        data = read_bounded(path)
        obj = parse_strict(data)
    except OSError as exc:
        data = None
        snap.problems.append(f"unreadable: {exc}")
    except (ValueError, UnicodeDecodeError) as exc:
        snap.problems.append(f"unreadable: {exc}")
    encoded = chain.canonical(obj) if isinstance(obj, dict) else None  # signature and chain hash
    if public_key is not None:
        verdict = verify_file(path, public_key, parsed=obj, canonical=encoded)
        snap.signature = verdict.status
        if verdict.status == "invalid":
            snap.problems.append("signature INVALID (modified after signing, or signed with another key)")
    if data is not None:  # what the index should say about it
        snap.index_entry = arc.entry_for(path, data, obj if isinstance(obj, dict) else None)
    if not isinstance(obj, dict):
        snap.readable = False
        if obj is not None:
            snap.problems.append("not a report (not a JSON object)")
        return snap
    snap.sha256 = chain.content_hash(obj, encoded)
    # The scan block (start, finish, duration, stats) identifies a scan: two snapshots with the same
    # one are one scan stored twice.
    snap.scan_sha256 = chain.content_hash(obj["scan"]) if isinstance(obj.get("scan"), dict) else None
    snap.started = arc.parse_time((obj.get("scan") or {}).get("started_at") if isinstance(obj.get("scan"), dict)
                                  else None)
    try:
        snap.record = chain.record_of(obj)
    except chain.BadRecord as exc:
        snap.bad_record = True
        snap.problems.append(f"{exc}")
    if snap.record:
        snap.stored = arc.parse_time(snap.record["stored_at"])
        if snap.stored is None:
            snap.problems.append(f"chain.stored_at {snap.record['stored_at']!r} is not a time")
    _check_name(snap)
    _check_dates(snap, now)
    return snap


def _check_name(snap: Snapshot) -> None:
    if snap.record and snap.record["file"] != snap.name:
        snap.problems.append(f"renamed or copied: it was stored as {snap.record['file']}")
        return
    stamp = arc.NAME_RE.match(snap.name)["ts"]
    if snap.started and snap.started.strftime("%Y%m%dT%H%M%SZ") != stamp:
        snap.problems.append(f"renamed: the name says {stamp}, its scan started at {chain.iso(snap.started)}")


def _check_dates(snap: Snapshot, now: datetime) -> None:
    limit = now + chain.CLOCK_SKEW
    when = snap.started or arc.name_time(snap.name)
    if when > limit:
        snap.problems.append(f"future-dated: scanned at {chain.iso(when)}, after this clock ({chain.iso(now)})")
    if snap.stored and snap.stored > limit:
        snap.problems.append(f"future-dated: stored at {chain.iso(snap.stored)}, after this clock ({chain.iso(now)})")
    if snap.stored and snap.started and snap.started > snap.stored + chain.CLOCK_SKEW:
        snap.problems.append(f"scanned at {chain.iso(snap.started)}, after it was stored ({chain.iso(snap.stored)})")


# --- across files --------------------------------------------------------------------------------

def _check_replays(audit: Audit) -> None:
    first: dict[str, str] = {}
    for snap in audit.snapshots:
        if snap.scan_sha256 is None:
            continue
        if snap.scan_sha256 in first:
            snap.problems.append(f"replayed: the same scan as {first[snap.scan_sha256]}")
        else:
            first[snap.scan_sha256] = snap.name


class _Chain:
    """The links, gaps and head of the chained snapshots."""

    def __init__(self, audit: Audit):
        self.audit = audit
        claims: dict[int, list[Snapshot]] = {}
        for snap in audit.snapshots:
            if snap.seq is not None:
                claims.setdefault(snap.seq, []).append(snap)
        self.by_seq: dict[int, Snapshot] = {}
        for seq, snaps in claims.items():  # two files in one place: follow the one nothing is wrong with
            genuine = next((s for s in snaps if not s.problems), snaps[0])
            self.by_seq[seq] = genuine
            for other in snaps:
                if other is not genuine:
                    other.problems.append(f"seq {seq} is claimed by {genuine.name} too: a copy or a replay")
        self.by_name = {s.name: s for s in audit.snapshots}
        # What later snapshots say they pruned: seq -> (link, seq of the snapshot that recorded it)
        self.pruned_seq: dict[int, tuple[dict, int]] = {}
        self.pruned_name: dict[str, tuple[dict, int]] = {}
        for snap in self.by_seq.values():
            for link in snap.record["pruned"]:
                if link["seq"] is not None:
                    self.pruned_seq[link["seq"]] = (link, snap.seq)
                self.pruned_name[link["file"]] = (link, snap.seq)
        try:
            self.head_link = chain.read_head(audit.archive)
            self.head_error = None
        except chain.BadRecord as exc:
            self.head_link, self.head_error = None, str(exc)

    def check(self) -> None:
        audit = self.audit
        if self.by_seq:
            audit.head = self.by_seq[max(self.by_seq)]
        if self.head_error:
            audit.problems.append(f"{self.head_error}: cannot tell whether the newest snapshots were removed")
        elif self.by_seq and self.head_link is None:
            audit.problems.append(f"{chain.HEAD} is missing: cannot tell whether the newest snapshots were removed "
                                  "(or the first chained store was interrupted)")
        top = max([*self.by_seq, (self.head_link or {}).get("seq") or 0], default=0)
        missing = []
        for seq in range(1, top + 1):
            snap = self.by_seq.get(seq)
            if snap is None:
                if not self._pruned_later(seq):
                    missing.append(seq)
                continue
            self._check_link(snap)
        for lo, hi in _ranges(missing):
            what = f"seq {lo}" if lo == hi else f"seq {lo} to {hi}"
            tail = " (the newest, as HEAD records them: rolled back?)" if hi == top and not self.by_seq.get(top) \
                else ""
            audit.problems.append(f"{what} missing, and no later snapshot records pruning {'it' if lo == hi else 'them'}: "
                                  f"deleted{tail}")
        self._check_head()
        self._check_pruned()

    def _pruned_later(self, seq: int) -> bool:
        found = self.pruned_seq.get(seq)
        return bool(found and found[1] > seq)

    def _check_link(self, snap: Snapshot) -> None:
        prev = snap.record["previous"]
        seq = snap.seq
        if seq == 1:
            if prev is not None and prev["seq"] is not None:
                snap.problems.append(f"seq 1 names seq {prev['seq']} as its predecessor")
            elif prev is not None:
                self._check_target(snap, prev, "the last snapshot written before chains")
            return
        if prev is None or prev["seq"] != seq - 1:
            said = "no predecessor" if prev is None else f"seq {prev['seq']} ({prev['file']})"
            snap.problems.append(f"seq {seq} names {said} as its predecessor, not seq {seq - 1}")
            return
        self._check_target(snap, prev, f"seq {seq - 1}")
        before = self.by_seq.get(seq - 1)
        if before and before.stored and snap.stored and snap.stored + chain.CLOCK_SKEW < before.stored:
            snap.problems.append(f"stored at {chain.iso(snap.stored)}, before seq {seq - 1} "
                                 f"({chain.iso(before.stored)}): a replayed snapshot or a clock turned back")

    def _check_target(self, snap: Snapshot, link: dict, what: str) -> None:
        """`snap` names `link` as its predecessor: the file there, or the record of its pruning, must match."""
        target = self.by_seq.get(link["seq"]) if link["seq"] is not None else self.by_name.get(link["file"])
        if target is not None:
            if target.name != link["file"]:
                snap.problems.append(f"names {link['file']} as {what}, but {what} is {target.name}")
            elif target.sha256 != link["sha256"]:
                target.problems.append(f"changed after seq {snap.seq} was stored (it no longer matches the "
                                       f"hash seq {snap.seq} records for it)")
            return
        pruned = self.pruned_seq.get(link["seq"]) if link["seq"] is not None else self.pruned_name.get(link["file"])
        if pruned is None:
            if link["seq"] is None:  # seq 1's legacy predecessor; chained gaps are reported as ranges
                snap.problems.append(f"names {link['file']} ({what}) as its predecessor, which is missing "
                                     "and recorded as pruned by no snapshot: deleted")
            return
        if (pruned[0]["file"], pruned[0]["sha256"]) != (link["file"], link["sha256"]):
            snap.problems.append(f"names {link['file']} as {what}, but seq {pruned[1]} recorded pruning "
                                 f"{pruned[0]['file']} with other content there")

    def _check_head(self) -> None:
        head = self.head_link
        if not head:
            return
        snap = self.by_seq.get(head["seq"])
        if snap is not None and (snap.name, snap.sha256) != (head["file"], head["sha256"]):
            self.audit.problems.append(f"{chain.HEAD} records {head['file']} as seq {head['seq']}, "
                                       f"but the archive holds {snap.name} there, or other content")
        newest = max(self.by_seq, default=0)
        if head["seq"] < newest:
            self.audit.notes.append(f"{chain.HEAD} is behind (seq {head['seq']}, the newest snapshot is seq "
                                    f"{newest}): a writer stopped before updating it; the next store catches up")

    def _check_pruned(self) -> None:
        for name, (link, by) in sorted(self.pruned_name.items()):
            if link["seq"] is not None and link["seq"] >= by:
                self.audit.problems.append(f"seq {by} records pruning {name} (seq {link['seq']}), which is not older")
            present = self.by_name.get(name)
            if present is None:
                continue
            if present.sha256 == link["sha256"]:
                self.audit.notes.append(f"{name} was pruned by seq {by} but is still present "
                                        "(an interrupted prune; the next store removes it)")
            else:
                present.problems.append(f"seq {by} recorded pruning {name} with other content: this file is "
                                        "not that snapshot (put back or replayed)")


def _ranges(numbers: list[int]):
    start = prev = None
    for n in numbers:
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            yield start, prev
            start = prev = n
    if start is not None:
        yield start, prev


def _check_legacy_after_chain(audit: Audit) -> None:
    """A snapshot without a chain record can only predate the chain: this version always chains."""
    chained = [s for s in audit.snapshots if s.record]
    if not chained:
        if audit.snapshots:
            audit.notes.append("no snapshot is chained yet (all were written before chains): "
                               "the chain starts with the next snapshot stored")
        return
    first = next((s for s in chained if s.seq == 1), None)
    anchor = first.record["previous"] if first else None
    began = min((s.stored for s in chained if s.stored), default=None)
    for snap in audit.snapshots:
        if snap.record or not snap.readable or snap.bad_record:
            continue
        if first is not None and anchor is None:
            snap.problems.append("unchained, but the chain began on an empty archive: added afterwards")
        elif anchor is not None and snap.name > anchor["file"]:
            snap.problems.append(f"unchained, but newer than {anchor['file']}, the last snapshot written before "
                                 "chains: added afterwards")
        elif began and arc.name_time(snap.name) > began + chain.CLOCK_SKEW:
            snap.problems.append(f"unchained, but dated after the chain began ({chain.iso(began)}): added afterwards")


def _check_index(audit: Audit) -> None:
    index = arc.load_index(audit.archive / arc.INDEX)
    if index is None:
        audit.notes.append(f"{arc.INDEX} is missing or unreadable: it is a cache, rebuilt on the next read")
        return
    present = {s.name: s for s in audit.snapshots}
    pruned = {link["file"]: s.seq for s in audit.snapshots if s.record for link in s.record["pruned"]}
    seen: set[str] = set()
    for entry in index:
        rel = entry["file"]
        if not isinstance(rel, str):
            audit.problems.append(f"{arc.INDEX} has an entry whose file is {_short(rel)}")
            continue
        if rel in seen:
            audit.problems.append(f"{arc.INDEX} lists {rel} twice")
            continue
        seen.add(rel)
        folder, _, name = rel.partition("/")
        if folder != arc.SNAPSHOTS or not arc.NAME_RE.match(name):
            audit.problems.append(f"{arc.INDEX} lists {rel!r}, which is not a snapshot path")
        elif name not in present:
            if name in pruned:
                audit.notes.append(f"{arc.INDEX} still lists {name}, pruned by seq {pruned[name]}")
            else:
                audit.problems.append(f"{arc.INDEX} lists {name}, which is missing: deleted")
        elif present[name].index_entry is not None:  # None: unreadable, reported with the file
            edits = _index_edits(entry, present[name].index_entry)
            if edits:
                audit.problems.append(f"{arc.INDEX} entry of {name} says what the file does not (edited): "
                                      + "; ".join(edits))
    for name in sorted(set(present) - {str(e["file"]).partition("/")[2] for e in index}):
        audit.notes.append(f"{name} is not in {arc.INDEX} yet (a writer stopped before updating it)")
    for sig in sorted((audit.archive / arc.SNAPSHOTS).glob("*.json.sig")):
        if sig.name[: -len(".sig")] not in present:
            audit.notes.append(f"{sig.name} has no snapshot beside it")


def _index_edits(entry: dict, fresh: dict) -> list[str]:
    edits = []
    for key, value in fresh.items():
        if key in INDEX_FIELDS_ADDED_WITH_CHAINS and key not in entry:
            continue
        if entry.get(key) != value:
            edits.append(f"{key} {_short(entry.get(key))} in the index, {_short(value)} in the file")
    return edits[:3] + ([f"{len(edits) - 3} more"] if len(edits) > 3 else [])


def _short(value) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 60 else text[:57] + "..."


# --- the verifier's memory -----------------------------------------------------------------------

def _read_state(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        state = parse_strict(read_bounded(path, 64 * 1024))
        if not (isinstance(state, dict) and type(state.get("seq")) is int and isinstance(state.get("file"), str)
                and isinstance(state.get("sha256"), str)):
            raise ValueError("not a {seq, file, sha256, verified_at} object")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SnapshotError(f"--state {path}: {exc}") from None
    return state


def _check_state(audit: Audit, state: dict) -> None:
    seen = f"the verification of {state.get('verified_at', '?')} saw seq {state['seq']} ({state['file']})"
    newest = audit.head.seq if audit.head else 0
    if newest < state["seq"]:
        audit.problems.append(f"rolled back: {seen}; the newest snapshot now is "
                              + (f"seq {newest} ({audit.head.name})" if audit.head else "none"))
        return
    here = [s for s in audit.snapshots if s.seq == state["seq"]]
    pruned = {(link["file"], link["sha256"]) for s in audit.snapshots if s.record for link in s.record["pruned"]}
    if here:
        if not any((s.name, s.sha256) == (state["file"], state["sha256"]) for s in here):
            audit.problems.append(f"forked: {seen}; seq {state['seq']} is now {here[0].name}, or other content")
    elif (state["file"], state["sha256"]) not in pruned:
        audit.problems.append(f"{seen}, which is neither here nor recorded as pruned")


def _write_state(path: Path, head: Snapshot, now: datetime) -> None:
    state = {"seq": head.seq, "file": head.name, "sha256": head.sha256, "verified_at": chain.iso(now)}
    try:
        atomic_write_bytes(path, json.dumps(state, indent=2).encode() + b"\n", mode=0o644)
    except OSError as exc:
        raise SnapshotError(f"--state {path}: cannot write: {exc.strerror or exc}") from None


# --- text ----------------------------------------------------------------------------------------

def render_text(audit: Audit) -> str:
    lines = []
    for snap in audit.snapshots:
        where = f"seq {snap.seq}" if snap.seq is not None else "unchained (legacy)" if snap.readable else "unreadable"
        verdict = "BROKEN: " + "; ".join(snap.problems) if snap.problems else "ok"
        lines.append(f"{snap.name:<44} {where:<18} signature {snap.signature:<9} {verdict}")
    lines += [f"BROKEN: {p}" for p in audit.problems]
    lines += [f"note: {n}" for n in audit.notes]
    count = len(audit.snapshots)
    legacy = sum(1 for s in audit.snapshots if s.readable and s.record is None)
    head = (f"; newest seq {audit.head.seq} ({audit.head.name}, stored {audit.head.record['stored_at']})"
            if audit.head else "")
    summary = {"intact": "INTACT", "broken": f"BROKEN ({len(audit.breaks)} problem(s))",
               "unsigned": "UNSIGNED snapshots (nothing else wrong)"}[audit.status]
    lines.append(f"{audit.archive}: {summary}: {count} snapshot(s), {legacy} unchained (legacy){head}")
    return "\n".join(lines) + "\n"
