"""`posture inventory --diff REF`: what a change deploys, as a unified diff of REF's rendered objects and
the working tree's. REF's files come from git's object store (real git, real kustomize); links and
submodules in REF are not followed, and a bad REF is a usage error."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.repos import write

ROOT = Path(__file__).resolve().parents[2]
PLANTED = "PlantedDiffSecretValue-7Yq"


def posture(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=t@example.org", "-c", "user.name=t", *args],
                   check=True, capture_output=True, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1",
                                                          "HOME": str(repo.parent)})


def committed_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    write(repo, "kubernetes/kustomization.yaml", "resources: [app]\n")
    write(repo, "kubernetes/app/kustomization.yaml", "namespace: demo\nresources: [cm.yaml, secret.yaml]\n")
    write(repo, "kubernetes/app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {MODE: slow}\n")
    write(repo, "kubernetes/app/secret.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\n"
                                              f"stringData: {{password: {PLANTED}-old}}\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    return repo


def test_the_diff_shows_changed_and_added_objects_and_names_them(tmp_path):
    repo = committed_repo(tmp_path)
    write(repo, "kubernetes/app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {MODE: fast}\n")
    write(repo, "kubernetes/app/kustomization.yaml", "namespace: demo\nresources: [cm.yaml, secret.yaml, extra.yaml]\n")
    write(repo, "kubernetes/app/extra.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: robot}\n")
    write(repo, "kubernetes/app/secret.yaml", f"apiVersion: v1\nkind: Secret\nmetadata: {{name: creds}}\n"
                                              f"stringData: {{password: {PLANTED}-new}}\n")
    out = posture("inventory", str(repo / "kubernetes"), "--diff", "HEAD")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("--- HEAD (") and lines[1] == "+++ working tree"
    assert "-  MODE: slow" in lines and "+  MODE: fast" in lines
    assert "+# ServiceAccount demo/robot · by Kustomization/flux-system/flux-system · app/extra.yaml" in lines
    assert PLANTED not in out.stdout + out.stderr  # Secret values are placeholders on both sides


def test_no_change_is_an_empty_diff_and_filters_apply_to_both_sides(tmp_path):
    repo = committed_repo(tmp_path)
    assert posture("inventory", str(repo), "--diff", "HEAD").stdout == ""
    write(repo, "kubernetes/app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {MODE: fast}\n")
    only_secrets = posture("inventory", str(repo), "--diff", "HEAD", "--kind", "Secret")
    assert only_secrets.returncode == 0 and only_secrets.stdout == ""


def test_links_and_unknown_refs_in_the_base(tmp_path):
    repo = committed_repo(tmp_path)
    os.symlink("/etc/passwd", repo / "kubernetes" / "app" / "passwd.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a link out of the tree")
    out = posture("inventory", str(repo), "--diff", "HEAD")
    assert out.returncode == 0, out.stderr
    assert "kubernetes/app/passwd.yaml not read: a symbolic link" in out.stderr
    assert "root:" not in out.stdout
    unknown = posture("inventory", str(repo), "--diff", "no-such-branch")
    assert unknown.returncode == 2 and "no such commit" in unknown.stderr
    option = posture("inventory", str(repo), "--diff=--output=/tmp/posture-pwned")
    assert option.returncode == 2 and "not a git revision" in option.stderr
    assert not Path("/tmp/posture-pwned").exists()


def test_a_directory_that_did_not_exist_at_the_base_shows_everything_as_added(tmp_path):
    repo = committed_repo(tmp_path)
    write(repo, "clusters/new/kustomization.yaml", "resources: [cm.yaml]\n")
    write(repo, "clusters/new/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fresh, namespace: x}\n")
    out = posture("inventory", str(repo / "clusters" / "new"), "--diff", "HEAD")
    assert out.returncode == 0, out.stderr
    assert "+# ConfigMap x/fresh · by Kustomization/flux-system/flux-system · cm.yaml" in out.stdout.splitlines()
