"""A live cluster that cannot be reached: one clear line naming the server, exit 3 ("the scan could
not run"), after one short connect timeout instead of urllib3's nested error after every retry.

The server is the fake API server in its failure modes: a port that refuses connections (a cluster
that is down) and a socket that accepts and never answers (a hung API server, a port-forward to
nowhere). The real `posture` runs in a subprocess with a generous timeout: finishing at all is the
hang check; how fast is for benchmarks, never asserted here."""
from __future__ import annotations

import pytest

from tests.fakekube.server import FakeKube
from tests.hostile.support import run_posture

RAW = ("Traceback", "urllib3", "HTTPSConnectionPool", "Max retries", "NewConnectionError", "ReadTimeoutError")


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert not any(raw in err for raw in RAW), err
    return lines[0]


@pytest.mark.parametrize("answer,reason", [
    ("refuse", "connection refused"),
    ("silent", "it accepted the connection but did not answer before the timeout"),
])
def test_scan_of_an_unreachable_cluster(tmp_path, answer, reason):
    with FakeKube((), workdir=tmp_path, answer=answer) as fake:
        kubeconfig = fake.write_kubeconfig(context="homelab")
        code, out, err = run_posture("scan", "--cluster", "--kubeconfig", str(kubeconfig), "-o",
                                     str(tmp_path / "out"), "--color", "never")
    line = _one_line(err)
    assert code == 3, (code, out, err)
    assert line == f"posture: error: cannot reach the Kubernetes API server {fake.url} (context homelab): {reason}"
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # no report claims a scan


def test_snapshot_of_an_unreachable_cluster(tmp_path):
    with FakeKube((), workdir=tmp_path, answer="refuse") as fake:
        code, out, err = run_posture("snapshot", "--cluster", "--kubeconfig", str(fake.write_kubeconfig()),
                                     "--archive", str(tmp_path / "arc"))
    line = _one_line(err)
    assert code == 3, (code, out, err)
    assert f"cannot reach the Kubernetes API server {fake.url} (context fake): connection refused" in line
    assert not list((tmp_path / "arc").glob("snapshots/*.json"))
