"""A scanned repo's `.git/config` must not run anything: every config key git would execute is
made inert, and git gets no inherited GIT_* environment."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.hostile.support import repo_with, scan_ok

# key -> value that would create the marker when git runs it (a shell command in each case)
EXECUTING = {
    "core.fsmonitor": "touch {marker}; false",
    "core.pager": "touch {marker}; cat",
    "core.hooksPath": "{hooks}",
    "diff.external": "touch {marker}; true",
    "filter.evil.clean": "touch {marker}; cat",
    "filter.evil.smudge": "touch {marker}; cat",
    "filter.evil.process": "touch {marker}",
    "diff.evil.textconv": "touch {marker}; cat",
    "core.sshCommand": "touch {marker}",
    "core.askPass": "touch {marker}",
    "credential.helper": "!touch {marker}",
    "core.editor": "touch {marker}",
}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)})


def _hostile_git_repo(tmp_path: Path, key: str, marker: Path) -> Path:
    repo = repo_with(tmp_path)
    (repo / "a.txt").write_text("text\n")
    (repo / ".gitattributes").write_text("* filter=evil diff=evil\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "init")
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for hook in ("post-checkout", "post-index-change", "pre-commit", "reference-transaction", "fsmonitor-watchman"):
        h = hooks / hook
        h.write_text(f"#!/bin/sh\ntouch {marker}\n")
        h.chmod(0o755)
    _git(repo, "config", key, EXECUTING[key].format(marker=marker, hooks=hooks))
    # a stale index entry makes git consider refreshing (and so filtering) the file
    os.utime(repo / "a.txt", (1, 1))
    (repo / "untracked.yaml").write_text("a: b\n")  # `ls-files --others` walks the work tree
    return repo


@pytest.mark.parametrize("key", sorted(EXECUTING))
def test_repo_git_config_runs_nothing(tmp_path, key):
    marker = tmp_path / f"PWNED-{key}"
    repo = _hostile_git_repo(tmp_path, key, marker)
    report = scan_ok(repo, tmp_path)
    assert not marker.exists(), f"the repo's {key} ran a command during the scan"
    assert report["scan"]["sources"][0]["via_git"] is True  # git was used, made inert, not avoided
    assert report["scan"]["stats"]["files"] == 4  # configmap, a.txt, .gitattributes and the untracked file


def test_inherited_git_environment_is_not_used(tmp_path):
    """GIT_DIR / GIT_CONFIG_PARAMETERS of the caller's shell do not redirect or arm git."""
    marker = tmp_path / "PWNED-env"
    repo = repo_with(tmp_path)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "init")
    other = tmp_path / "other"
    other.mkdir()
    _git(other, "init", "-q")
    env = {"GIT_DIR": str(other / ".git"), "GIT_CONFIG_PARAMETERS": f"'core.fsmonitor'='touch {marker}; false'",
           "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.fsmonitor", "GIT_CONFIG_VALUE_0": f"touch {marker}; false"}
    report = scan_ok(repo, tmp_path, env=env)
    assert not marker.exists()
    assert report["scan"]["stats"]["files"] == 1  # the repo's own file list, not the other repo's


@pytest.mark.parametrize("key", sorted(EXECUTING))
def test_inventory_diff_against_a_commit_runs_nothing(tmp_path, key):
    """`posture inventory --diff HEAD` reads the commit's files from git's object store: no checkout,
    so no hook, filter, textconv or fsmonitor of the repo runs."""
    import sys

    from tests.hostile.support import PROJECT

    marker = tmp_path / f"PWNED-{key}"
    repo = _hostile_git_repo(tmp_path, key, marker)
    out = subprocess.run([sys.executable, "-m", "scanner", "inventory", str(repo), "--diff", "HEAD"],
                         capture_output=True, text=True, cwd=PROJECT, timeout=600)
    assert out.returncode == 0, out.stderr
    assert not marker.exists(), f"the repo's {key} ran a command during inventory --diff"
