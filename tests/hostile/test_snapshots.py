"""Snapshot archives and reports given back to the CLI are files like any other: a 100,000-deep
JSON, a FIFO signature or a /dev/zero link end with a clear error, never a RecursionError or a hang."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.scanning import run_scan
from scanner.snapshots import archive
from scanner.snapshots.signing import keygen
from tests.hostile.support import PROJECT, TIMEOUT_S, limit_memory, repo_with

DEEP = "[" * 100_000 + "]" * 100_000


def _posture(*args, cwd=PROJECT):
    proc = subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, timeout=TIMEOUT_S,
                          preexec_fn=limit_memory, cwd=cwd)
    return proc.returncode, proc.stdout.decode() + proc.stderr.decode()


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
    import json
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
