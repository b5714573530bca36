"""Snapshot archives and reports given back to the CLI are files like any other: a 100,000-deep
JSON, a FIFO signature or a /dev/zero link end with a clear error, never a RecursionError or a hang."""
from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.support.scanning import run_scan
from scanner.snapshots import SnapshotError, archive
from scanner.snapshots.audit import verify_archive
from scanner.snapshots.retention import Policy
from scanner.snapshots.signing import keygen, load_private_key, load_public_key, sign
from tests.support.snapshots import homelab_report
from tests.hostile.support import repo_with, run_posture

DEEP = "[" * 100_000 + "]" * 100_000


def _posture(*args):
    code, out, err = run_posture(*args)
    return code, out + err


@pytest.fixture(scope="module")
def arc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("arc")
    report = run_scan(str(repo_with(tmp))).to_json_dict()
    archive.store(tmp / "archive", report)
    return tmp


def test_deep_json_to_diff_baseline_verify_and_history(arc, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    good = next((arc / "archive" / "snapshots").glob("*.json"))
    _, pub = keygen(str(tmp_path / "k"))
    (tmp_path / "deep.json.sig").write_text("AAAA\n")
    runs = {
        "diff": _posture("diff", str(deep), str(good)),
        "verify": _posture("verify", "--key", str(pub), str(deep)),
        "baseline": _posture("scan", str(repo_with(tmp_path)), "--format", "json", "--output-dir",
                             str(tmp_path / "o"), "--baseline", str(deep), "-q"),
    }
    hist = tmp_path / "hist"
    (hist / "snapshots").mkdir(parents=True)
    (hist / "snapshots" / "20260101T000000Z-x.json").write_text(DEEP)
    runs["history"] = _posture("history", "--archive", str(hist))
    runs["scan --history"] = _posture("scan", str(repo_with(tmp_path / "h")), "--format", "html", "--output-dir",
                                      str(tmp_path / "o2"), "--history", str(hist), "-q")
    for name, (code, out) in runs.items():
        assert "RecursionError" not in out and "Traceback" not in out, (name, out[-1500:])
        assert code in (0, 1, 2), (name, code, out[-1500:])
    assert "nested deeper" in runs["diff"][1] and runs["diff"][0] == 2
    assert runs["baseline"][0] == 2 and "nested deeper" in runs["baseline"][1]


def test_fifo_signature_and_snapshot_do_not_hang_verify(arc, tmp_path):
    _, pub = keygen(str(tmp_path / "k"))
    snap = tmp_path / "s.json"
    snap.write_text('{"a": 1}')
    os.mkfifo(tmp_path / "s.json.sig")
    code, out = _posture("verify", "--key", str(pub), str(snap))
    assert code == 1 and "INVALID" in out, out
    os.unlink(tmp_path / "s.json.sig")
    (tmp_path / "s.json.sig").write_text("AAAA\n")
    os.unlink(snap)
    os.symlink("/dev/zero", snap)
    code, out = _posture("verify", "--key", str(pub), str(snap))
    assert code in (1, 2) and "Traceback" not in out, out  # refused (not a snapshot), not read forever


def test_snapshot_fingerprints_are_keyed_by_the_archive(tmp_path):
    import stat

    repo = repo_with(tmp_path)
    (repo / "hr.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                                  "data: {adminPassword: PLANTED-keyed-Zq81xTTa}\n")
    arc = tmp_path / "arc"
    fps = []
    for _ in range(2):
        code, out = _posture("snapshot", str(repo), "--archive", str(arc))
        assert code == 0, out
    for snap in sorted((arc / "snapshots").glob("*.json")):
        text = snap.read_text()
        assert "PLANTED-keyed" not in text
        report = json.loads(text)
        fps.append(sorted(f["evidence"]["fingerprint"] for c in report["checks"] for f in c["findings"]
                          if f["status"] == "fail" and "fingerprint" in (f.get("evidence") or {})))
    assert fps[0] and fps[0] == fps[1] and all(fp.startswith("hmac:") for fp in fps[0])
    assert stat.S_IMODE((arc / "fingerprint.key").stat().st_mode) == 0o600


# --- the chain: replayed, rolled-back, renamed, future-dated snapshots and an edited index -----------
#
# The fixture archive, as a long-running deployment would have it: two snapshots signed before
# chains existed (legacy), then six chained ones; the fifth store's retention pruned the fourth
# (same day). Each attack below edits a copy and must be reported by `posture snapshots verify`.

LEGACY = ["20250301T020000Z-homelab.json", "20250302T020000Z-homelab.json"]
CHAINED = {1: "20250303T020000Z-homelab.json", 2: "20250304T020000Z-homelab.json",
           3: "20250305T020000Z-homelab.json", 5: "20250306T120000Z-homelab.json",
           6: "20250307T020000Z-homelab.json"}  # seq 4 (20250306T020000Z) pruned by seq 5


def _store_legacy(archive_dir: Path, report: dict, key) -> None:
    """A snapshot as stored before chains: the report as is and its signature."""
    directory = archive_dir / "snapshots"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{archive.snapshot_time(report).strftime('%Y%m%dT%H%M%SZ')}-homelab.json"
    path.write_text(json.dumps(report, indent=2))
    Path(str(path) + ".sig").write_bytes(sign(json.loads(path.read_text()), key))


@pytest.fixture(scope="module")
def chained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chain")
    key, pub = keygen(str(tmp / "k"))
    target = tmp / "arc"
    for day in (1, 2):
        _store_legacy(target, homelab_report(started_at=f"2025-03-0{day}T02:00:00Z", overall=60.0 + day),
                      load_private_key(key))
    for when in ("03T02", "04T02", "05T02", "06T02", "06T12", "07T02"):
        archive.store(target, homelab_report(started_at=f"2025-03-{when}:00:00Z", overall=70.0),
                      sign_key=key, policy=Policy(daily=30))
    return target, key, pub


def _copy(chained, tmp_path) -> Path:
    target = tmp_path / "arc"
    shutil.copytree(chained[0], target)
    return target


def _audit(target: Path, pub, **kw):
    return verify_archive(target, load_public_key(pub), **kw)


def _snap(target: Path, name: str) -> Path:
    return target / "snapshots" / name


def _move(target: Path, old: str, new: str, copy=False) -> None:
    for suffix in ("", ".sig"):
        (shutil.copy2 if copy else os.replace)(_snap(target, old + suffix), _snap(target, new + suffix))


def _breaks(audit) -> str:
    assert audit.status == "broken" and audit.exit_code == 1, audit.breaks
    return "\n".join(audit.breaks)


def test_an_untouched_archive_verifies_with_legacy_snapshots_unchained(chained, tmp_path):
    target, _, pub = chained
    names = sorted(p.name for p in (target / "snapshots").glob("*.json"))
    assert names == sorted(LEGACY + list(CHAINED.values()))
    audit = _audit(target, pub)
    assert audit.status == "intact" and audit.exit_code == 0, audit.breaks
    assert [(s.name, s.seq) for s in audit.snapshots] == [(n, None) for n in LEGACY] + \
        [(n, seq) for seq, n in CHAINED.items()]
    assert all(s.signature == "valid" for s in audit.snapshots)
    # seq 1 pins the last legacy snapshot; seq 5 records the retention that removed seq 4
    first = json.loads(_snap(target, CHAINED[1]).read_text())["chain"]
    assert first["previous"]["file"] == LEGACY[-1] and first["previous"]["seq"] is None
    fifth = json.loads(_snap(target, CHAINED[5]).read_text())["chain"]
    assert [p["file"] for p in fifth["pruned"]] == ["20250306T020000Z-homelab.json"]
    # through the real command, the way an auditor runs it
    code, out = _posture("snapshots", "verify", "--archive", str(target), "--key", str(pub))
    assert code == 0, out
    assert f"{LEGACY[0]}" in out and "unchained (legacy)" in out and "INTACT" in out


def test_renamed_snapshot(chained, tmp_path):
    target = _copy(chained, tmp_path)
    _move(target, CHAINED[3], "20250305T030000Z-homelab.json")  # signature still valid: it is the same JSON
    text = _breaks(_audit(target, chained[2]))
    assert f"renamed or copied: it was stored as {CHAINED[3]}" in text
    code, out = _posture("snapshots", "verify", "--archive", str(target), "--key", str(chained[2]))
    assert code == 1 and "BROKEN" in out and "20250305T030000Z-homelab.json" in out, out


def test_renamed_legacy_snapshot(chained, tmp_path):
    target = _copy(chained, tmp_path)
    _move(target, LEGACY[0], "20250301T050000Z-homelab.json")
    assert "renamed: the name says 20250301T050000Z, its scan started at 2025-03-01T02:00:00Z" in \
        _breaks(_audit(target, chained[2]))


def test_replayed_snapshot_under_a_new_name(chained, tmp_path):
    target = _copy(chained, tmp_path)
    _move(target, CHAINED[2], "20250308T020000Z-homelab.json", copy=True)  # an old good day as the newest
    text = _breaks(_audit(target, chained[2]))
    assert f"replayed: the same scan as {CHAINED[2]}" in text
    assert "seq 2 is claimed by" in text and f"stored as {CHAINED[2]}" in text


def test_replayed_over_the_newest(chained, tmp_path):
    target = _copy(chained, tmp_path)
    _move(target, CHAINED[2], CHAINED[6], copy=True)  # yesterday's bad snapshot becomes an older good one
    text = _breaks(_audit(target, chained[2]))
    assert f"{CHAINED[6]}: renamed or copied: it was stored as {CHAINED[2]}" in text
    assert "seq 6 missing" in text


def test_rolled_back_by_deleting_the_newest(chained, tmp_path):
    target = _copy(chained, tmp_path)
    for suffix in ("", ".sig"):
        _snap(target, CHAINED[6] + suffix).unlink()
    text = _breaks(_audit(target, chained[2]))
    assert "seq 6 missing, and no later snapshot records pruning it: deleted (the newest, as HEAD records" in text
    assert f"index.json lists {CHAINED[6]}, which is missing: deleted" in text


def test_a_gap_stays_visible_after_the_next_store(chained, tmp_path):
    # Delete the newest, then let the nightly job store another: the chain must not close over the gap.
    target = _copy(chained, tmp_path)
    for suffix in ("", ".sig"):
        _snap(target, CHAINED[6] + suffix).unlink()
    archive.entries(target)  # `posture history` repairs the index on the way
    entry = archive.store(target, homelab_report(started_at="2025-03-08T02:00:00Z"), sign_key=chained[1])
    assert entry["seq"] == 7
    assert "seq 6 missing, and no later snapshot records pruning it: deleted" in _breaks(_audit(target, chained[2]))


def test_deleted_from_the_middle(chained, tmp_path):
    target = _copy(chained, tmp_path)
    _snap(target, CHAINED[2]).unlink()
    text = _breaks(_audit(target, chained[2]))
    assert "seq 2 missing, and no later snapshot records pruning it: deleted" in text


def test_deleted_head_record(chained, tmp_path):
    target = _copy(chained, tmp_path)
    (target / "HEAD").unlink()
    assert "HEAD is missing" in _breaks(_audit(target, chained[2]))


def test_whole_archive_rolled_back_is_caught_by_the_verifier_state(chained, tmp_path):
    # Snapshots, HEAD and index rolled back together look intact from inside; the verifier's memory
    # of the head it saw last time does not.
    before = _copy(chained, tmp_path / "old")
    state = tmp_path / "verified.json"
    assert _audit(before, chained[2], state_path=state).status == "intact"
    target = _copy(chained, tmp_path / "new")
    archive.store(target, homelab_report(started_at="2025-03-08T02:00:00Z"), sign_key=chained[1])
    assert _audit(target, chained[2], state_path=state).status == "intact"
    assert json.loads(state.read_text())["seq"] == 7
    assert _audit(before, chained[2]).status == "intact"  # no memory: nothing to compare with
    text = _breaks(_audit(before, chained[2], state_path=state))
    assert "rolled back" in text and "saw seq 7" in text and "seq 6" in text
    assert json.loads(state.read_text())["seq"] == 7  # a broken target never moves the memory back
    code, out = _posture("snapshots", "verify", "--archive", str(before), "--key", str(chained[2]),
                         "--state", str(state))
    assert code == 1 and "rolled back" in out, out


def test_future_dated_snapshot(chained, tmp_path):
    target = _copy(chained, tmp_path)
    future = datetime.now(timezone.utc) + timedelta(days=400)
    stamp = future.strftime("%Y-%m-%dT%H:%M:%SZ")
    # a writer whose clock runs a year ahead (or someone holding the key) stores a future scan
    archive.store(target, homelab_report(started_at=stamp), sign_key=chained[1], now=future)
    text = _breaks(_audit(target, chained[2]))
    assert f"future-dated: scanned at {stamp}" in text and "future-dated: stored at" in text
    # and it cannot become the baseline a gate compares with
    with pytest.raises(SnapshotError, match="dated in the future"):
        archive.resolve(f"archive:{target}@latest")
    with pytest.raises(SnapshotError, match="dated in the future"):
        archive.resolve(f"archive:{target}@-1")


def test_a_writer_refuses_to_store_a_future_scan(tmp_path):
    future = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(SnapshotError, match="after this machine's clock"):
        archive.store(tmp_path / "arc", homelab_report(started_at=future))
    assert not list((tmp_path / "arc" / "snapshots").glob("*.json"))


def test_edited_index(chained, tmp_path):
    target = _copy(chained, tmp_path)
    index = json.loads((target / "index.json").read_text())
    index[3]["overall"] = 99.0  # `history` and the HTML trend read the index
    index[3]["grade"] = "A"
    (target / "index.json").write_text(json.dumps(index))
    text = _breaks(_audit(target, chained[2]))
    assert f"index.json entry of {CHAINED[2]} says what the file does not (edited): overall 99.0 in the index, " \
           "70.0 in the file" in text


def test_edited_snapshot_breaks_its_link_even_without_the_key(chained, tmp_path):
    target = _copy(chained, tmp_path)
    path = _snap(target, CHAINED[2])
    report = json.loads(path.read_text())
    report["score"]["overall"] = 100.0
    path.write_text(json.dumps(report))
    with_key = _breaks(_audit(target, chained[2]))
    assert f"{CHAINED[2]}: signature INVALID" in with_key
    without = _breaks(verify_archive(target))
    assert f"{CHAINED[2]}: changed after seq 3 was stored" in without


def test_chain_record_stripped_to_pass_as_legacy(chained, tmp_path):
    target = _copy(chained, tmp_path)
    path = _snap(target, CHAINED[6])
    report = json.loads(path.read_text())
    del report["chain"]
    path.write_text(json.dumps(report))
    text = _breaks(verify_archive(target))  # no key: the stripping itself must show
    assert f"{CHAINED[6]}: unchained, but newer than {LEGACY[-1]}" in text


def test_a_legacy_only_archive_verifies_as_unchained(tmp_path):
    key, pub = keygen(str(tmp_path / "k"))
    target = tmp_path / "arc"
    for day in (1, 2):
        _store_legacy(target, homelab_report(started_at=f"2025-03-0{day}T02:00:00Z"), load_private_key(key))
    audit = _audit(target, pub)
    assert audit.status == "intact" and [s.seq for s in audit.snapshots] == [None, None]
    assert any("no snapshot is chained yet" in n for n in audit.notes)
    code, out = _posture("snapshots", "verify", "--archive", str(target), "--key", str(pub))
    assert code == 0 and out.count("unchained (legacy)") >= 2, out


def test_snapshots_verify_reads_hostile_files_without_hanging_or_crashing(chained, tmp_path):
    target = _copy(chained, tmp_path)
    _snap(target, "20250308T020000Z-homelab.json").write_text(DEEP)
    (target / "HEAD").unlink()
    os.mkfifo(target / "HEAD")
    index = json.loads((target / "index.json").read_text())
    (target / "index.json").write_text(json.dumps(index + [{"file": ["snapshots", "x.json"]}]))
    code, out = _posture("snapshots", "verify", "--archive", str(target), "--key", str(chained[2]))
    assert code == 1 and "Traceback" not in out, out
    assert "20250308T020000Z-homelab.json" in out and "nested deeper" in out
    assert "HEAD is unreadable" in out and "index.json has an entry whose file is" in out
    os.mkfifo(tmp_path / "state")
    code, out = _posture("snapshots", "verify", "--archive", str(target), "--state", str(tmp_path / "state"))
    assert code == 2 and "--state" in out and "Traceback" not in out, out
