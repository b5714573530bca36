"""Values planted in a hostile repo reach no output of any format, nor the terminal; file names
that are not UTF-8 or hold CR/LF crash no writer."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.hostile.support import PROJECT, TIMEOUT_S, limit_memory, repo_with, write

PLANTED = ["PLANTEDremotetoken0123456789", "PLANTEDquerytoken42", "PLANTEDfluxpass77", "PLANTED-pw-Zq81xTTa",
           "ghp_PLANTEDabcdefghijklmnopqrstuvwxyz0123", "PLANTED-env-Qw3rTy9", "PLANTEDremotebase55",
           "PLANTEDremotequery66"]
# Values the caches may keep, as the repository itself does (recognised only by their key name).
CACHE_MAY_HOLD = {PLANTED[3]}


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)})


def _planted_repo(tmp_path):
    repo = repo_with(tmp_path)
    write(repo, "flux/source.yaml", f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: app, namespace: flux-system}}
spec:
  interval: 10m
  url: https://deploy:{PLANTED[2]}@git.example.org/org/app.git
  ref: {{branch: main}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: charts, namespace: flux-system}}
spec:
  url: https://charts.example.org/index.yaml?access_token={PLANTED[1]}
""")
    write(repo, "apps/hr.yaml", f"""\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: app, namespace: default}}
spec:
  chart: {{spec: {{chart: x, sourceRef: {{kind: HelmRepository, name: charts}}}}}}
  values:
    adminPassword: {PLANTED[3]}
    token: {PLANTED[4]}
""")
    write(repo, ".env", f"SECRET_KEY={PLANTED[5]}\n")
    write(repo, "remote/kustomization.yaml", f"""\
resources:
  - https://bot:{PLANTED[6]}@github.com/org/infra//deploy?ref=v1
  - https://github.com/org/infra//other?ref=v1&token={PLANTED[7]}
""")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "init")
    _git(repo, "remote", "add", "origin", f"https://x-access-token:{PLANTED[0]}@github.com/example/home-ops.git")
    return repo


def test_planted_values_reach_no_output(tmp_path):
    repo = _planted_repo(tmp_path)
    out = tmp_path / "out"
    cache = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}  # this run's own per-user cache, read below

    def posture(*args):
        return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, timeout=TIMEOUT_S,
                              preexec_fn=limit_memory, cwd=PROJECT, env=env)

    proc = posture("scan", str(repo), "--format", "json,html,sarif,markdown,junit,prometheus", "--output-dir",
                   str(out), "-vv")
    terminal = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode in (0, 1), terminal[-2000:]
    arc = tmp_path / "arc"
    snap = posture("snapshot", str(repo), "--archive", str(arc))
    terminal += snap.stdout.decode() + snap.stderr.decode()
    for args in (["--unseen"], ["--format", "json"], ["--rendered"]):
        inv = posture("inventory", str(repo), *args)
        terminal += inv.stdout.decode() + inv.stderr.decode()
    assert "remote-resource" in terminal  # the remote bases are listed as unseen, without their credentials
    outputs = {"terminal": terminal}
    cached = {str(p.relative_to(tmp_path)): p.read_bytes().decode("utf-8", "replace")
              for p in cache.rglob("*") if p.is_file()}
    assert cached, "the scan wrote its cache"
    leaked_to_cache = {name: [v for v in PLANTED if v in text and v not in CACHE_MAY_HOLD]
                       for name, text in cached.items()}
    assert not {k: v for k, v in leaked_to_cache.items() if v}, leaked_to_cache
    for d in (out, arc):
        for p in d.rglob("*"):
            if p.is_file():
                outputs[str(p.relative_to(tmp_path))] = p.read_bytes().decode("utf-8", "replace")
    assert len([k for k in outputs if k.startswith("out/")]) >= 6
    leaked = {name: [v for v in PLANTED if v in text] for name, text in outputs.items()}
    assert not {k: v for k, v in leaked.items() if v}, leaked
    html = next(v for k, v in outputs.items() if k.endswith(".html"))
    assert "github.com/example/home-ops" in html  # the link survives, without its credential


def test_odd_file_names_crash_no_writer(tmp_path):
    repo = repo_with(tmp_path)
    bad = os.fsencode(str(repo)) + b"/caf\xe9-\x1b[31m.yaml"
    with open(bad, "wb") as fh:
        fh.write(b"a: [1\n")  # a parse error, so the name is in the report
    with open(os.path.join(repo, "two\nlines\r.yaml"), "w") as fh:
        fh.write("a: [1\n")
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", str(repo), "--format", "json,html,markdown,sarif,junit",
                           "--output-dir", str(out), "-v"], capture_output=True, timeout=TIMEOUT_S,
                          preexec_fn=limit_memory, cwd=PROJECT)
    terminal = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), terminal.decode("utf-8", "replace")[-2000:]
    assert len(list(out.iterdir())) >= 5
    assert b"\x1b[31m" not in terminal and b"two\nlines" not in terminal
    assert b"caf\\xe9" in terminal and b"two\\x0alines" in terminal
