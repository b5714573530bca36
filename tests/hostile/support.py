"""Shared by the hostile-input tests: run the real CLI in a subprocess with a timeout and an
address-space limit, build small repos, read the JSON report's errors."""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]

TIMEOUT_S = 120
MEMORY_LIMIT = 2 * 1024 ** 3  # address space; a runaway alias expansion would blow through it

FLUX_KS = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: flux-system}}
spec:
  interval: 10m
  path: {path}
  prune: true
  sourceRef: {{kind: GitRepository, name: flux-system}}
{extra}"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: ok, namespace: default}
data: {a: b}
"""


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_posture(*args: str, cwd: Path = PROJECT, timeout: float = TIMEOUT_S) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `posture ARGS` in a subprocess (memory-limited, timed out)."""
    proc = subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, timeout=timeout,
                          preexec_fn=limit_memory, cwd=cwd)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def run_cli(repo: Path, out: Path, *extra: str, env: dict | None = None, timeout: float = TIMEOUT_S):
    """(exit code, report dict or None, stderr) of `posture scan repo --format json`."""
    cmd = [sys.executable, "-m", "scanner", "scan", str(repo), "--format", "json", "--output-dir", str(out), "-q",
           *extra]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, preexec_fn=limit_memory,
                          env={**os.environ, **(env or {})}, cwd=PROJECT)
    reports = [p for p in out.glob("*.json")] if out.exists() else []
    report = json.loads(reports[0].read_text()) if reports else None
    return proc.returncode, report, proc.stderr.decode("utf-8", "replace")


def scan_ok(repo: Path, tmp_path: Path, *extra: str, **kw) -> dict:
    code, report, err = run_cli(repo, tmp_path / "out", *extra, **kw)
    assert code in (0, 1), f"exit {code}: {err[-2000:]}"
    assert report is not None, err[-2000:]
    assert report["scan"]["stats"]["files"] >= 1
    return report


def errors_for(report: dict, needle: str) -> list[dict]:
    return [e for e in report["errors"] if needle in e["message"]]


def write(root: Path, rel: str, text: str | bytes) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def repo_with(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    write(repo, "ok/configmap.yaml", CONFIGMAP)
    return repo
