"""Hostile repositories (files, YAML, graphs, signals): every one ends in a recorded scan error (or finding) and a finished report,
within bounded time and memory. The real CLI runs in a subprocess with a timeout and an
address-space limit; the JSON report's `errors` say what happened. No timing assertions: speed is
measured by `make bench`, here a timeout only catches hangs."""
from __future__ import annotations

from reports.registry import write_reports

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from tests.support.scanning import run_scan

from tests.hostile.support import (CONFIGMAP, FLUX_KS, PROJECT, TIMEOUT_S, limit_memory, errors_for, repo_with,
                                   scan_ok, write)


def test_billion_laughs(tmp_path):
    repo = repo_with(tmp_path)
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghijk":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    write(repo, "bomb.yaml", "\n".join(lines) + "\n")
    report = scan_ok(repo, tmp_path)
    assert [e["path"] for e in errors_for(report, "alias bomb")] == ["bomb.yaml"]


def test_fifty_megabyte_file(tmp_path):
    repo = repo_with(tmp_path)
    with open(repo / "huge.yaml", "wb") as fh:
        line = b"key: " + b"x" * 1019 + b"\n"
        for _ in range(50 * 1024):
            fh.write(line)
    report = scan_ok(repo, tmp_path)
    assert [e["path"] for e in errors_for(report, "limit")] == ["huge.yaml"]


def test_deeply_nested_documents(tmp_path):
    repo = repo_with(tmp_path)
    write(repo, "flow.yaml", "a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    write(repo, "block.yaml", "".join(" " * i + "k:\n" for i in range(3000)) + " " * 3000 + "v\n")
    write(repo, "seq.yaml", "- " * 5000 + "x\n")
    write(repo, "mid.yaml", "a: " + "[" * 600 + "]" * 600 + "\n")  # within libyaml's limit, over ours
    report = scan_ok(repo, tmp_path)
    bad = {e["path"] for e in report["errors"]}
    assert {"flow.yaml", "block.yaml", "seq.yaml", "mid.yaml"} <= bad
    assert errors_for(report, "nested deeper than")[0]["path"] == "mid.yaml"


def test_binary_and_invalid_utf8(tmp_path):
    repo = repo_with(tmp_path)
    write(repo, "image.yaml", bytes(range(256)) * 64)
    write(repo, "latin1.yml", b"apiVersion: v1\nkind: ConfigMap\ndata: {a: caf\xe9}\n")
    write(repo, "truncated.yaml", "a: é\n".encode()[:-2])
    report = scan_ok(repo, tmp_path)
    assert [e["path"] for e in errors_for(report, "binary")] == ["image.yaml"]
    utf = {e["path"]: e for e in errors_for(report, "UTF-8")}
    assert set(utf) == {"latin1.yml", "truncated.yaml"}
    assert utf["latin1.yml"]["line"] == 3


def test_symlink_loops_and_links_out_of_the_tree(tmp_path):
    repo = repo_with(tmp_path)
    outside = tmp_path / "outside"
    write(outside, "secret.yaml", CONFIGMAP)
    os.symlink(repo / "loop-b.yaml", repo / "loop-a.yaml")
    os.symlink(repo / "loop-a.yaml", repo / "loop-b.yaml")
    os.symlink(outside / "secret.yaml", repo / "escape.yaml")
    os.symlink(outside, repo / "escape-dir")
    os.symlink(repo, repo / "ok" / "self")  # a directory loop back to the root
    report = scan_ok(repo, tmp_path)
    looping = {e["path"] for e in errors_for(report, "looping")}
    assert looping == {"loop-a.yaml", "loop-b.yaml"}
    outside_errors = {e["path"] for e in errors_for(report, "outside the repository")}
    assert outside_errors == {"escape.yaml", "escape-dir"}
    assert report["scan"]["stats"]["documents"] == 1  # only ok/configmap.yaml, read once


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads chmod 000 files; see the FIFO/monkeypatch tests")
def test_unreadable_file_chmod(tmp_path):
    repo = repo_with(tmp_path)
    p = write(repo, "locked.yaml", CONFIGMAP)
    p.chmod(0)
    try:
        report = scan_ok(repo, tmp_path)
    finally:
        p.chmod(0o644)
    assert [e["path"] for e in errors_for(report, "unreadable")] == ["locked.yaml"]


def test_unreadable_files_root_safe(tmp_path):
    """Root can read anything chmod 000: a FIFO (would block a naive open) and an unreadable
    directory stand in. A FIFO must not hang the scan."""
    repo = repo_with(tmp_path)
    os.mkfifo(repo / "pipe.yaml")
    locked_dir = repo / "locked"
    write(repo, "locked/a.yaml", CONFIGMAP)
    report = scan_ok(repo, tmp_path)
    assert [e["path"] for e in errors_for(report, "not a regular file")] == ["pipe.yaml"]
    del locked_dir


def test_unreadable_file_permission_denied_in_process(tmp_path, monkeypatch):
    """The EACCES path itself, by making os.open refuse one file (works as root)."""
    from scanner.engine import pipeline as api
    repo = repo_with(tmp_path)
    write(repo, "locked.yaml", CONFIGMAP)
    real_open = os.open

    def fake_open(path, flags, *args, **kw):
        if str(path).endswith("locked.yaml"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", fake_open)  # (os.open: what scanner.rawparse reads files with)
    report = run_scan(str(repo)).to_json_dict()
    errs = [e for e in report["errors"] if e["path"] == "locked.yaml"]
    assert errs and "Permission denied" in errs[0]["message"]


SOPS_SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: default}
stringData:
  password: ENC[AES256_GCM,data:Zm9v,iv:YmFy,tag:YmF6,type:str]
sops:
  age:
    - recipient: age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
        YWJj
        -----END AGE ENCRYPTED FILE-----
  lastmodified: "2024-01-01T00:00:00Z"
  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]
  encrypted_regex: ^(data|stringData)$
  version: 3.9.0
"""


def _sops_repo(tmp_path: Path, script: str) -> tuple[Path, Path]:
    repo = repo_with(tmp_path)
    write(repo, "secret.sops.yaml", SOPS_SECRET)
    fake = tmp_path / "bin" / "sops"
    write(tmp_path, "bin/sops", "#!/bin/sh\n" + script)
    fake.chmod(0o755)
    write(repo, "posture.yaml", textwrap.dedent(f"""\
        checks:
          secrets.sops-mac-verified:
            timeout: 2
        """))
    return repo, fake


def _sops_check_exists() -> bool:
    try:
        import scanner.analysis.sops  # noqa: F401
        from scanner.engine.plugins import discover

        return any(s.id == "secrets.sops-mac-verified" for s in discover()[0])
    except Exception:
        return False


@pytest.mark.skipif(not _sops_check_exists(), reason="scanner/sops.py or secrets.sops-mac-verified not present")
@pytest.mark.parametrize("script, needle", [
    ("sleep 600\n", "did not answer"),
    ("kill -SEGV $$\n", "killed by signal"),
    ("yes flood-flood-flood\n", "printed more than"),
    ("yes flood-flood-flood >&2\n", "printed more than"),
], ids=["hangs", "crashes", "floods-stdout", "floods-stderr"])
def test_sops_binary_that_hangs_or_crashes(tmp_path, script, needle):
    repo, fake = _sops_repo(tmp_path, script)
    # (finishing at all, inside scan_ok's subprocess timeout, is what proves the hang is cut short)
    report = scan_ok(repo, tmp_path, "--sops-bin", str(fake))
    sops_errors = [e for e in report["errors"] if e["code"] == "sops-unavailable"]
    assert sops_errors and needle in sops_errors[0]["message"], report["errors"]


def test_kustomizations_that_include_each_other(tmp_path):
    repo = repo_with(tmp_path)
    write(repo, "flux/apps.yaml", FLUX_KS.format(name="apps", path="./a", extra=""))
    write(repo, "a/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                        "resources: [../b, cm.yaml]\n")
    write(repo, "a/cm.yaml", CONFIGMAP.replace("name: ok", "name: a"))
    write(repo, "b/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                        "resources: [../a]\n")
    write(repo, "self/kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                                           "resources: [.]\n")
    write(repo, "flux/self.yaml", FLUX_KS.format(name="self", path="./self", extra=""))
    report = scan_ok(repo, tmp_path)
    cycles = errors_for(report, "cycle")
    assert cycles, report["errors"]
    assert any("a -> b -> a" in e["message"] for e in cycles)


def test_flux_dependson_cycle(tmp_path):
    repo = repo_with(tmp_path)
    write(repo, "apps/one/cm.yaml", CONFIGMAP.replace("name: ok", "name: one"))
    write(repo, "apps/two/cm.yaml", CONFIGMAP.replace("name: ok", "name: two"))
    write(repo, "flux/one.yaml", FLUX_KS.format(name="one", path="./apps/one",
                                                extra="  dependsOn:\n    - name: two\n"))
    write(repo, "flux/two.yaml", FLUX_KS.format(name="two", path="./apps/two",
                                                extra="  dependsOn:\n    - name: one\n"))
    # Flux Kustomizations that deploy each other in a loop, too.
    write(repo, "loop/x/ks.yaml", FLUX_KS.format(name="x", path="./loop/y", extra=""))
    write(repo, "loop/y/ks.yaml", FLUX_KS.format(name="y", path="./loop/x", extra=""))
    report = scan_ok(repo, tmp_path)
    found = [f for c in report["checks"] for f in c["findings"]
             if f["status"] == "fail" and "cycle" in f["message"] + f["subject"]]
    found_errors = errors_for(report, "cycle")
    assert found or found_errors, "the dependsOn cycle is neither a finding nor a scan error"


def test_paths_with_spaces_and_unicode(tmp_path):
    repo = tmp_path / "répo with spaces ✓"
    write(repo, "apps/ünïcode dir/config map.yaml", CONFIGMAP)
    write(repo, "apps/ünïcode dir/日本語.yaml", CONFIGMAP.replace("name: ok", "name: jp"))
    write(repo, "apps/ünïcode dir/broken ✗.yaml", "a: [1, 2\n")
    write(repo, "apps/ünïcode dir/kustomization.yaml",
          "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
          "resources: [config map.yaml, 日本語.yaml, missing ☃.yaml]\n")
    write(repo, "flux/apps.yaml", FLUX_KS.format(name="apps", path='"./apps/ünïcode dir"', extra=""))
    report = scan_ok(repo, tmp_path)
    paths = {e["path"] for e in report["errors"]}
    assert "apps/ünïcode dir/broken ✗.yaml" in paths
    assert any("missing ☃.yaml" in e["message"] for e in report["errors"])
    assert report["scan"]["stats"]["deployed_files"] >= 2


def test_sigint_exits_130_without_partial_report(tmp_path):
    """Ctrl-C while the scan runs: exit 130 and no report file (not even a temp file) left."""
    repo = repo_with(tmp_path)
    for i in range(3000):  # enough files that the scan is still running when the signal lands
        write(repo, f"apps/a{i}/cm.yaml",
              "---\n".join(CONFIGMAP.replace("name: ok", f"name: cm{i}-{j}") for j in range(40)))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "scanner", "scan", str(repo), "--format", "json", "--output-dir", str(out), "-q"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit_memory,
                            cwd=PROJECT)
    # Late enough that the interpreter is up even on a loaded machine (a signal before Python has
    # started cannot be handled by any program), early enough that the scan of 3,000 files (120,000 documents) still runs.
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=TIMEOUT_S)
    if proc.returncode in (0, 1):
        pytest.skip("the scan finished before the signal arrived")
    if proc.returncode == -signal.SIGINT and b"posture:" not in err:
        pytest.skip("the signal arrived while Python was still importing the CLI (no program handles that)")
    # A handled interrupt is exit 130 wherever it lands, including inside a lazy import (CPython would
    # otherwise turn an interrupt caught there into a SIGINT death at exit).
    assert proc.returncode == 130, err.decode()[-2000:]
    assert not out.exists() or not any(out.iterdir())


def test_sigint_during_report_writes_leaves_no_partial_set(tmp_path, monkeypatch):
    """Ctrl-C between two report files: the set is completed, then the interrupt is raised."""
    from reports import registry as rr

    from scanner.engine import pipeline as api
    report = run_scan(str(repo_with(tmp_path)))
    real_place = rr.place
    calls = []

    def place_then_signal(tmp, path):
        real_place(tmp, path)
        calls.append(path)
        if len(calls) == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(rr, "place", place_then_signal)
    formats = [f for f in ("json", "markdown", "html") if f in rr.formatters()]
    if len(formats) < 2:
        pytest.skip("needs two report formats")
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        write_reports(report, formats, str(out))
    assert len(calls) == len(formats)
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]
    assert all(stat.S_ISREG(os.stat(p).st_mode) for p in calls)
