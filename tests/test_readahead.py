"""The console script's head start (scanner/readahead.py, twocore.fork_early): a helper forked first
thing discovers and parses the repo while the CLI loads. It must never change an answer, never be
used for a scan it was not started for, and never outlive the command."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from scanner import readahead, twocore
from scanner.cli import scan as scan_command

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "homelab"
needs_fork = pytest.mark.skipif(not hasattr(os, "fork") or twocore.cores() < 2, reason="needs fork and 2 cores")


# --- reading `posture scan`'s command line -------------------------------------------------------


def test_option_tables_match_the_click_command():
    flags, valued = set(), set()
    for p in scan_command.params:
        if isinstance(p, click.Option):
            (flags if p.is_flag or p.count else valued).update(p.opts + p.secondary_opts)
    assert readahead.FLAG_OPTIONS == flags
    assert readahead.VALUE_OPTIONS == valued
    assert {o[1] for o in flags if len(o) == 2} == set(readahead.SHORT_FLAGS)


@pytest.mark.parametrize("argv", [
    ["scan", "repo"],
    ["scan", "repo", "--format", "json,html", "-o", "out"],
    ["scan", "--format=json", "-oout", "repo", "-q"],
    ["scan", "-vv", "--only", "secrets", "--only", "gitops", "repo", "--fail-under", "80"],
    ["scan", "--cluster", "--kubeconfig", "kc", "repo", "--no-cache", "-qv"],
    ["scan", "--", "-repo-with-a-dash"],
    ["scan", "--config", "repo", "other"],  # the config file is named like a directory: PATH is "other"
])
def test_the_path_found_is_the_path_click_parses(argv):
    ctx = scan_command.make_context("scan", list(argv[1:]))
    assert readahead.scan_path(argv) == ctx.params["path"]


@pytest.mark.parametrize("argv", [
    [], ["checks", "list"], ["--version"], ["scan"], ["scan", "--cluster"],
    ["scan", "repo", "--help"], ["scan", "-h", "repo"], ["scan", "repo", "extra"],
    ["scan", "repo", "--unknown"], ["scan", "repo", "--format"], ["scan", "repo", "-o"],
    ["scan", "repo", "--cluster=yes"], ["scan", "-qo", "out", "repo"],
])
def test_no_head_start_for_anything_else(argv):
    assert readahead.scan_path(argv) is None


# --- the early helper (twocore.fork_early) --------------------------------------------------------


def _plan_squares():
    return {"n": 60}, list(range(60))


def _square_with_pid(t):
    time.sleep(0.005)  # 60 tasks: long enough for the helper to take some even on a loaded machine
    return t * t, os.getpid()


@needs_fork
def test_early_helper_plans_and_shares_the_tasks():
    import threading

    helper = twocore.fork_early(_plan_squares, _square_with_pid, codec="pickle")
    assert helper is not None, f"no fork: threads left running by an earlier test: {threading.enumerate()}"
    time.sleep(0.05)  # this process is "loading"; the helper has started
    assert helper.plan() == {"n": 60}
    answers = helper.finish(list(range(60)), _square_with_pid)
    assert [a[0] for a in answers] == [t * t for t in range(60)]
    assert {a[1] for a in answers} - {os.getpid()}, "the helper answered some of the tasks"


@needs_fork
def test_a_helper_whose_plan_fails_leaves_all_the_work_here():
    def plan():
        raise OSError("cannot list the repo")

    helper = twocore.fork_early(plan, _square_with_pid)
    assert helper.plan() is None
    answers = helper.finish(list(range(10)), _square_with_pid)
    assert [a for a, _ in answers] == [t * t for t in range(10)]
    assert {pid for _, pid in answers} == {os.getpid()}


@needs_fork
def test_work_of_an_early_helper_that_dies_is_redone_here():
    parent = os.getpid()

    def run(t):
        if os.getpid() != parent and t > 3:
            os._exit(9)  # the helper dies part way
        return t + 1

    helper = twocore.fork_early(lambda: (None, list(range(40))), run)
    helper.plan()
    assert helper.finish(list(range(40)), run) == [t + 1 for t in range(40)]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie (exited, not yet reaped by its parent) is gone too
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


@needs_fork
def test_cancel_stops_the_helper():
    helper = twocore.fork_early(lambda: (None, list(range(1000))), lambda t: time.sleep(1))
    pid = helper.pid
    helper.cancel()
    assert _gone(pid)
    helper.cancel()  # twice is fine


@needs_fork
def test_an_early_helper_does_not_outlive_its_parent(tmp_path):
    """The parent exits without joining (a crash, os._exit): the helper stops at its next task."""
    pidfile = tmp_path / "helper.pid"
    code = f"""
import os, time
from scanner import twocore
def plan():
    open({str(pidfile)!r}, "w").write(str(os.getpid()))
    return None, list(range(10000))
h = twocore.fork_early(plan, lambda t: time.sleep(0.01))
h.plan()
os._exit(0)
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 30
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid), "the helper stopped once its parent was gone (10,000 tasks would take 100 s)"


# --- claiming: only for the scan it was started for -----------------------------------------------


@needs_fork
def test_claim_only_for_the_same_root_and_limit(tmp_path):
    assert readahead.start(str(EXAMPLE))
    assert readahead.claim(str(tmp_path), None) is None, "another root: not claimed, and cancelled"
    assert readahead.claim(str(EXAMPLE), None) is None, "cancelled once refused"
    assert readahead.start(str(EXAMPLE))
    assert readahead.claim(str(EXAMPLE), 1024) is None, "another file-size limit"
    assert readahead.start(str(EXAMPLE) + "/")
    helper = readahead.claim(str(EXAMPLE), None)
    assert helper is not None
    helper.cancel()


# --- end to end through the console script ---------------------------------------------------------


def _scan(repo: Path, out: Path, *extra: str, readahead_on: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, POSTURE_READAHEAD="1" if readahead_on else "0")
    return subprocess.run([sys.executable, "-m", "scanner", "scan", str(repo), "--format", "json", "-o", str(out),
                           "-q", *extra], capture_output=True, text=True, env=env, timeout=300)


def _comparable(path: Path) -> dict:
    report = json.loads(path.read_text())
    for key in ("phases", "duration_s", "started_at", "finished_at"):
        report["scan"].pop(key, None)
    return report


def _hostile_repo(root: Path) -> Path:
    (root / "apps" / "ns 1").mkdir(parents=True)
    for i in range(250):  # enough files for a parallel parse either way
        (root / "apps" / f"cm-{i:03}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  namespace: default\ndata:\n  k: v{i}\n")
    (root / "apps" / "ns 1" / "broken.yaml").write_text("a: [unclosed\n")
    (root / "apps" / "binary.yaml").write_bytes(b"\x00\x01\x02")
    (root / "apps" / "big.yaml").write_text("x: " + "y" * 3000 + "\n")
    (root / "apps" / "out.yaml").symlink_to("/etc/hostname")
    (root / "posture.yaml").write_text("max_file_bytes: 2048\n")  # the scan's limit is not the default
    return root


@needs_fork
@pytest.mark.parametrize("repo", ["example", "hostile"])
def test_the_report_is_the_same_with_and_without_the_head_start(tmp_path, repo):
    root = EXAMPLE if repo == "example" else _hostile_repo(tmp_path / "repo")
    with_, without = _scan(root, tmp_path / "a"), _scan(root, tmp_path / "b", readahead_on=False)
    assert with_.returncode == without.returncode, with_.stderr
    assert _comparable(tmp_path / "a" / "posture-report.json") == _comparable(tmp_path / "b" / "posture-report.json")
    if repo == "hostile":
        errors = {e["path"]: e["message"] for e in json.loads((tmp_path / "a" / "posture-report.json").read_text())["errors"]}
        assert "over the 0 MiB limit" in errors["apps/big.yaml"] or "limit" in errors["apps/big.yaml"]
        assert "binary" in errors["apps/binary.yaml"]


@needs_fork
def test_no_helper_left_after_a_usage_error_or_help(tmp_path):
    for extra in (["--fail-on", "nonsense"], ["--help"]):
        p = subprocess.Popen([sys.executable, "-m", "scanner", "scan", str(EXAMPLE), *extra], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        p.communicate(timeout=120)
        assert p.returncode == (2 if extra[0] == "--fail-on" else 0)
        time.sleep(0.2)
        left = subprocess.run(["pgrep", "-g", str(p.pid)], capture_output=True, text=True).stdout.split()
        assert left == [], f"processes left in the command's group: {left}"


@needs_fork
def test_interrupt_while_the_helper_reads_ahead_exits_130_and_leaves_nothing(tmp_path):
    big = tmp_path / "big"
    (big / "apps").mkdir(parents=True)
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n" + "".join(f"  k{i}: v{i}\n" for i in range(50))
    for i in range(4000):
        (big / "apps" / f"c{i}.yaml").write_text(doc)
    out = tmp_path / "out"
    p = subprocess.Popen([sys.executable, "-m", "scanner", "scan", str(big), "-o", str(out)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(0.3)  # the helper is discovering or parsing; this process is loading or parsing
    os.killpg(p.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, err = p.communicate(timeout=120)
    assert p.returncode == 130, err
    assert b"interrupted" in err and err.count(b"interrupted") == 1, err
    time.sleep(0.2)
    assert subprocess.run(["pgrep", "-g", str(p.pid)], capture_output=True).stdout.split() == []
    assert not out.exists() or not any(out.iterdir())
