"""posture.yaml sits in the scanned repository: it tunes checks, but never names a program to run nor a
file outside the repository (a hostile repo could otherwise run a binary of its choice or read any file)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.repos import flux_repo


def _scan(repo, tmp_path):
    return subprocess.run([sys.executable, "-m", "scanner", "scan", str(repo), "--format", "json", "-o",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=600)


def test_a_sops_binary_cannot_be_named_by_the_repository(tmp_path):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil-sops"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\n")
    evil.chmod(0o755)
    repo = flux_repo(tmp_path / "repo")
    (repo / "posture.yaml").write_text(f"checks:\n  secrets.sops-mac-verified:\n    sops_binary: {evil}\n")
    out = _scan(repo, tmp_path)
    assert out.returncode == 2, out.stderr
    assert "sops_binary" in out.stderr and not marker.exists()


@pytest.mark.parametrize("where", ["/etc/passwd", "../../../../etc/passwd", "x/../../outside.xml"])
def test_opnsense_config_must_be_a_file_of_the_repository(tmp_path, where):
    repo = flux_repo(tmp_path / "repo")
    (repo / "posture.yaml").write_text(f"opnsense_config: {where}\n")
    out = _scan(repo, tmp_path)
    assert out.returncode == 2 and "opnsense_config" in out.stderr, out.stderr
    assert "root:" not in out.stderr + out.stdout


def test_an_opnsense_config_linked_out_of_the_repository_is_not_read(tmp_path):
    secret = tmp_path / "host-secret.xml"
    secret.write_text("<opnsense><system><hostname>PLANTED-HOST-FILE</hostname></system></opnsense>\n")
    repo = flux_repo(tmp_path / "repo")
    (repo / "fw.xml").symlink_to(secret)
    (repo / "posture.yaml").write_text("opnsense_config: fw.xml\n")
    out = _scan(repo, tmp_path)
    assert out.returncode in (0, 1), out.stderr
    report = (tmp_path / "out" / "posture-report.json").read_text()
    assert "PLANTED-HOST-FILE" not in report and "leads outside the repository" in report
