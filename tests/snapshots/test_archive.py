"""Snapshot archive: names, index, crash safety, concurrent writers, references."""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from scanner.snapshots import SnapshotError
from scanner.snapshots import archive as arc
from scanner.snapshots.atomic import locked
from scanner.snapshots.signing import keygen, load_public_key, verify_file
from tests.support.snapshots import homelab_report

FORK = multiprocessing.get_context("fork")  # children inherit the monkeypatches we set in them


def acceptance_listing(archive: Path) -> list[str]:
    """Exactly how the acceptance test lists snapshots."""
    if shutil.which("find"):
        out = subprocess.run(["find", str(archive), "-name", "*.json", "!", "-name", "index*", "!", "-name", "*.sig*"],
                             capture_output=True, text=True, check=True).stdout.split()
    else:  # pragma: no cover
        out = [str(p) for p in archive.rglob("*.json") if not p.name.startswith("index")]
    return sorted(out)


def assert_consistent(archive: Path) -> list[dict]:
    """Every snapshot file is complete JSON, and the index lists exactly the snapshot files."""
    files = acceptance_listing(archive)
    for f in files:
        json.loads(Path(f).read_bytes())  # no partial snapshot
    index = json.loads((archive / "index.json").read_bytes())
    assert [str(archive / e["file"]) for e in index] == files
    for e in index:
        assert e["sha256"] == hashlib.sha256((archive / e["file"]).read_bytes()).hexdigest()
    return index


def test_store_layout_and_index(tmp_path):
    archive = tmp_path / "arc"
    entry = arc.store(archive, homelab_report(started_at="2025-03-01T02:00:07.123456+00:00", overall=72.5))
    assert entry["file"] == "snapshots/20250301T020007Z-homelab.json"
    assert (archive / entry["file"]).is_file()
    assert entry["source"] == "homelab" and entry["overall"] == 72.5 and entry["grade"] == "C"
    assert entry["signed"] is False and entry["findings"]["critical"] == 1
    assert set(entry["layers"]) >= {"perimeter", "secrets", "monitoring"}
    index = assert_consistent(archive)
    assert index == [entry]
    stored = json.loads((archive / entry["file"]).read_text())
    assert stored["score"]["overall"] == 72.5  # the report itself, not a wrapper


def test_names_sort_chronologically_and_same_second_collisions(tmp_path):
    archive = tmp_path / "arc"
    times = ["2025-03-02T00:00:00Z", "2025-03-01T23:59:59Z", "2025-03-01T23:59:59Z", "2025-12-31T10:00:00Z",
             "2025-03-01T23:59:59Z"]
    for t in times:
        arc.store(archive, homelab_report(started_at=t))
    names = [Path(f).name for f in acceptance_listing(archive)]
    assert names == [
        "20250301T235959Z-homelab.json", "20250301T235959Z-homelab_002.json", "20250301T235959Z-homelab_003.json",
        "20250302T000000Z-homelab.json", "20251231T100000Z-homelab.json",
    ]
    assert all(arc.NAME_RE.match(n) for n in names)
    assert_consistent(archive)


@pytest.mark.parametrize("sources,slug", [
    ([{"type": "git", "path": "/x/My Home-Ops/"}], "my-home-ops"),
    ([{"type": "cluster", "path": None, "context": "admin@Prod"}], "cluster-admin-prod"),
    ([{"type": "git", "path": "."}, {"type": "cluster", "context": None}], "repo-cluster"),
    ([{"type": "git", "path": "", "web_url": "https://github.com/me/home-ops.git"}], "home-ops"),
    ([], "scan"),
])
def test_source_slug(sources, slug):
    assert arc.source_slug({"scan": {"sources": sources}}) == slug


def test_index_rebuilt_when_missing_or_corrupt(tmp_path):
    archive = tmp_path / "arc"
    for day in range(1, 4):
        arc.store(archive, homelab_report(started_at=f"2025-03-0{day}T02:00:00Z", overall=60.0 + day))
    good = assert_consistent(archive)
    (archive / "index.json").write_text('[{"file": "snapshots/2025')  # torn write by some other tool
    assert arc.entries(archive) == good
    assert json.loads((archive / "index.json").read_text()) == good
    (archive / "index.json").unlink()
    assert arc.entries(archive) == good
    (archive / "index.json").write_text('{"not": "a list"}')
    assert [e["overall"] for e in arc.entries(archive)] == [61.0, 62.0, 63.0]


def test_index_picks_up_a_snapshot_it_never_heard_of(tmp_path):
    archive = tmp_path / "arc"
    arc.store(archive, homelab_report(started_at="2025-03-01T02:00:00Z"))
    # a snapshot renamed into place by a run that died before updating the index
    (archive / "snapshots" / "20250302T020000Z-homelab.json").write_text(json.dumps(homelab_report(overall=55.0)))
    (archive / "snapshots" / "notes.txt").write_text("ignored")
    entries = arc.entries(archive)
    assert [e["overall"] for e in entries][-1] == 55.0
    assert_consistent(archive)


def test_unreadable_snapshot_is_listed_with_an_error(tmp_path):
    archive = tmp_path / "arc"
    arc.store(archive, homelab_report())
    (archive / "snapshots" / "20250309T000000Z-homelab.json").write_text("{broken")
    bad = arc.entries(archive)[-1]
    assert "error" in bad and bad["overall"] is None
    assert arc.trend(archive)[-1]["file"] != bad["file"]


# --- crash safety --------------------------------------------------------------------------------

def _store_and_die_at_replace(archive, report, key, n):
    """Child: the n-th os.replace (sig, snapshot, index...) kills the process before renaming."""
    calls = {"n": 0}
    real = os.replace

    def crash(src, dst, *a, **kw):
        calls["n"] += 1
        if calls["n"] == n:
            os._exit(17)  # like SIGKILL: no cleanup handlers, no finally blocks
        return real(src, dst, *a, **kw)

    os.replace = crash
    arc.store(archive, report, sign_key=key)
    os._exit(0)


@pytest.mark.parametrize("crash_at", [1, 2, 3])  # 1: signature, 2: snapshot, 3: index
def test_crash_between_write_and_rename(tmp_path, crash_at):
    archive = tmp_path / "arc"
    key, pub = keygen(str(tmp_path / "k"))
    arc.store(archive, homelab_report(started_at="2025-03-01T02:00:00Z"), sign_key=key)
    before = assert_consistent(archive)

    child = FORK.Process(target=_store_and_die_at_replace,
                         args=(archive, homelab_report(started_at="2025-03-02T02:00:00Z", overall=50.0), key, crash_at))
    child.start()
    child.join(30)
    assert child.exitcode == 17

    # No half snapshot is visible, and the index still parses and describes what it did before.
    index = json.loads((archive / "index.json").read_bytes())
    assert index == before
    listed = acceptance_listing(archive)
    for f in listed:
        json.loads(Path(f).read_bytes())
    assert len(listed) == (2 if crash_at == 3 else 1)  # crash 3: snapshot landed, index not yet
    leftovers = [p.name for p in archive.rglob(".tmp-*")]
    assert leftovers and all(not n.endswith((".json", ".sig")) for n in leftovers)

    # The next run repairs: the index catches up, an orphan signature is dropped, all verify.
    arc.store(archive, homelab_report(started_at="2025-03-03T02:00:00Z"), sign_key=key)
    index = assert_consistent(archive)
    assert len(index) == (3 if crash_at == 3 else 2)
    sigs = sorted(p.name for p in (archive / "snapshots").glob("*.sig"))
    assert sigs == sorted(Path(e["file"]).name + ".sig" for e in index)
    public = load_public_key(pub)
    for e in index:
        assert verify_file(archive / e["file"], public).status == "valid"


def _store_and_hang_before_rename(archive, report, ready):
    real = os.replace

    def hang(src, dst, *a, **kw):
        if str(dst).endswith(".json") and "snapshots" in str(dst):
            ready.set()
            time.sleep(60)
        return real(src, dst, *a, **kw)

    os.replace = hang
    arc.store(archive, report)


def test_sigkill_between_write_and_rename(tmp_path):
    archive = tmp_path / "arc"
    arc.store(archive, homelab_report(started_at="2025-03-01T02:00:00Z"))
    before = assert_consistent(archive)
    ready = FORK.Event()
    child = FORK.Process(target=_store_and_hang_before_rename,
                         args=(archive, homelab_report(started_at="2025-03-02T02:00:00Z"), ready))
    child.start()
    assert ready.wait(30)
    os.kill(child.pid, signal.SIGKILL)  # the temp file is written and fsynced, the rename never happens
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    assert assert_consistent(archive) == before
    # the dead writer held the lock: the kernel released it, so the next writer is not stuck
    arc.store(archive, homelab_report(started_at="2025-03-03T02:00:00Z"))
    assert len(assert_consistent(archive)) == 2


def test_stale_temp_files_are_cleaned(tmp_path):
    archive = tmp_path / "arc"
    arc.store(archive, homelab_report())
    stale = archive / "snapshots" / ".tmp-abc.partial"
    stale.write_text("{half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = archive / "snapshots" / ".tmp-def.partial"  # maybe a live writer: left alone
    fresh.write_text("{half")
    arc.store(archive, homelab_report(started_at="2025-03-02T00:00:00Z"))
    assert not stale.exists() and fresh.exists()


# --- concurrency ---------------------------------------------------------------------------------

def _concurrent_writer(archive, i, key, barrier):
    barrier.wait()
    # all in the same second: every writer competes for the same name
    arc.store(archive, homelab_report(started_at="2025-03-01T02:00:00Z", overall=float(50 + i)), sign_key=key)


def test_eight_concurrent_writers(tmp_path):
    archive = tmp_path / "arc"
    key, pub = keygen(str(tmp_path / "k"))
    barrier = FORK.Barrier(8)
    procs = [FORK.Process(target=_concurrent_writer, args=(archive, i, key, barrier)) for i in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 8
    index = assert_consistent(archive)
    assert len(index) == 8
    assert sorted(e["overall"] for e in index) == [float(50 + i) for i in range(8)]
    names = [Path(e["file"]).name for e in index]
    assert names[0] == "20250301T020000Z-homelab.json"
    assert names[1:] == [f"20250301T020000Z-homelab_{n:03d}.json" for n in range(2, 9)]
    public = load_public_key(pub)
    assert all(verify_file(archive / e["file"], public).status == "valid" for e in index)


def _store_one(archive, done):
    arc.store(archive, homelab_report(started_at="2025-03-05T00:00:00Z"))
    done.set()


def _hold_lock(archive, holding, release):
    with locked(archive / ".lock") as ok:
        assert ok
        holding.set()
        release.wait(30)


def test_writers_wait_for_the_lock(tmp_path):
    # The holder is a child too: a forked writer would inherit the parent's lock descriptor.
    archive = tmp_path / "arc"
    arc.store(archive, homelab_report())
    holding, release, done = FORK.Event(), FORK.Event(), FORK.Event()
    holder = FORK.Process(target=_hold_lock, args=(archive, holding, release))
    holder.start()
    assert holding.wait(30)
    writer = FORK.Process(target=_store_one, args=(archive, done))
    writer.start()
    assert not done.wait(0.7)  # blocked on the holder's flock
    release.set()
    assert done.wait(30)
    for p in (holder, writer):
        p.join(30)
        assert p.exitcode == 0
    assert len(assert_consistent(archive)) == 2


# --- references ----------------------------------------------------------------------------------

@pytest.fixture
def three(tmp_path):
    archive = tmp_path / "arc"
    for day, score in ((1, 60.0), (2, 70.0), (3, 80.0)):
        arc.store(archive, homelab_report(started_at=f"2025-03-0{day}T02:00:00Z", overall=score))
    return archive


def test_resolve_references(three):
    a = f"archive:{three}"
    assert arc.resolve(f"{a}@latest").name == "20250303T020000Z-homelab.json"
    assert arc.resolve(a).name == "20250303T020000Z-homelab.json"
    assert arc.resolve(f"{a}@-1").name == "20250302T020000Z-homelab.json"
    assert arc.resolve(f"{a}@-2").name == "20250301T020000Z-homelab.json"
    assert arc.resolve(f"{a}@2025-03-02").name == "20250302T020000Z-homelab.json"
    assert arc.resolve(f"{a}@20250301T02").name == "20250301T020000Z-homelab.json"
    assert arc.resolve(f"{a}@2025-03").name == "20250303T020000Z-homelab.json"  # newest match
    with pytest.raises(SnapshotError, match="only 3"):
        arc.resolve(f"{a}@-3")
    with pytest.raises(SnapshotError, match="no snapshot name"):
        arc.resolve(f"{a}@2024")
    assert arc.load_report(f"{a}@-1")["score"]["overall"] == 70.0
    assert arc.resolve("plain/file.json") == Path("plain/file.json")


def test_load_report_errors(tmp_path):
    (tmp_path / "x.json").write_text("[1, 2]")
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "v2.json").write_text(json.dumps(dict(homelab_report(), schema_version="2.0")))
    for name, msg in (("x.json", "not a posture JSON report"), ("bad.json", "not valid JSON"),
                      ("missing.json", "cannot read"), ("v2.json", "not supported")):
        with pytest.raises(SnapshotError, match=msg):
            arc.load_report(str(tmp_path / name))
    with pytest.raises(SnapshotError, match="not a snapshot archive"):
        arc.resolve(f"archive:{tmp_path}@latest")


def test_trend_series(three):
    series = arc.trend(three)
    assert [p["overall"] for p in series] == [60.0, 70.0, 80.0]
    assert series[0]["started_at"] == "2025-03-01T02:00:00Z"
    assert series[0]["layers"]["secrets"] == 60.0
    assert arc.trend(three, source="other") == []


def test_temp_and_signature_names_never_look_like_snapshots(tmp_path):
    archive = tmp_path / "arc"
    key, _ = keygen(str(tmp_path / "k"))
    arc.store(archive, homelab_report(), sign_key=key)
    names = sorted(p.name for p in (archive / "snapshots").iterdir())
    assert names == ["20250301T020000Z-homelab.json", "20250301T020000Z-homelab.json.sig"]
    assert all(re.search(r"\.json$", Path(f).name) for f in acceptance_listing(archive))
    assert len(acceptance_listing(archive)) == 1
