"""Terminal conventions of `posture scan` and the waiver workflow, as a user meets them: a short
summary by default, -v and -q, NO_COLOR and --color on a real pseudo-terminal, a report on stdout
that is only the report, distinct exit codes, `posture waive` editing posture.yaml in place."""
from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import yaml

from tests.support.repos import PRIVILEGED_DEPLOYMENT, flux_repo

PRIV = PRIVILEGED_DEPLOYMENT
ESC = "\x1b["


def posture(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, timeout=300,
                          env=env, cwd=cwd)


def on_tty(*args, env: dict) -> str:
    """Run posture with stdout and stderr on a pseudo-terminal; everything it wrote there."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "scanner", *args], stdout=slave, stderr=slave,
                            stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace")


def repo(tmp_path: Path) -> Path:
    return flux_repo(tmp_path / "repo", {"media": {"ups.yaml": PRIV}})


def test_default_summary_is_short_and_verbose_lists_every_failing_finding(tmp_path):
    r = repo(tmp_path)
    p = posture("scan", str(r), "-o", str(tmp_path / "o"), "--format", "json,html")
    assert p.returncode == 0, p.stderr
    report = json.loads((tmp_path / "o/posture-report.json").read_text())
    failing = [f for c in report["checks"] for f in c["findings"] if f["status"] == "fail"]
    assert "Score " in p.stdout and "segmentation" in p.stdout and "Fix first" in p.stdout
    assert "Reports: " in p.stdout and "posture-report.html" in p.stdout
    assert "Failing findings" not in p.stdout
    assert ESC not in p.stdout + p.stderr  # not a terminal: no colour, no progress
    v = posture("scan", str(r), "-o", str(tmp_path / "o2"), "-v")
    assert f"Failing findings ({len(failing)})" in v.stdout
    assert len(v.stdout.splitlines()) >= len(p.stdout.splitlines()) + len(failing)


def test_no_color_on_a_terminal_and_color_flag(tmp_path):
    r = repo(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env["TERM"] = "xterm-256color"
    coloured = on_tty("scan", str(r), "-o", str(tmp_path / "a"), env=env)
    assert ESC in coloured and "Score " in coloured  # a terminal: colour and a spinner
    plain = on_tty("scan", str(r), "-o", str(tmp_path / "b"), env=dict(env, NO_COLOR="1"))
    assert "Score " in plain and ESC not in plain
    assert "posture: running" in plain  # progress still shown, as plain lines
    never = on_tty("scan", str(r), "-o", str(tmp_path / "c"), "--color", "never", env=env)
    assert ESC not in never
    forced = posture("scan", str(r), "-o", str(tmp_path / "d"), "--color", "always", env=dict(env, NO_COLOR="1"))
    assert ESC in forced.stdout and ESC not in forced.stderr  # colour asked for; progress only on a terminal


def test_report_to_stdout_is_only_the_report(tmp_path):
    r = repo(tmp_path)
    p = posture("scan", str(r), "--format", "json", "-o", "-")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)  # nothing else on stdout
    assert report["score"]["overall"] >= 0
    assert "Score " in p.stderr  # the summary moved to stderr
    q = posture("scan", str(r), "--format", "sarif", "-o", "-", "-q")
    assert json.loads(q.stdout)["version"] == "2.1.0" and q.stderr == ""
    assert not (Path.cwd() / "-").exists()


def test_exit_codes_are_distinct(tmp_path):
    r = repo(tmp_path)
    assert posture("scan", str(r), "-o", str(tmp_path / "o")).returncode == 0
    assert posture("scan", str(r), "-o", str(tmp_path / "o"), "--fail-on", "critical").returncode == 1
    assert posture("scan", str(r), "--bogus-flag").returncode == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("weights: {perimeter: -1}\n")
    assert posture("scan", str(r), "--config", str(bad)).returncode == 2
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the output directory should be\n")
    p = posture("scan", str(r), "-o", str(blocker / "sub"))
    assert p.returncode == 3 and "cannot write reports" in p.stderr
    kube = tmp_path / "kubeconfig"
    kube.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "x",
                                    "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
                                    "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:9"}}],
                                    "users": [{"name": "x", "user": {"token": "t"}}]}))
    p = posture("scan", "--cluster", "--kubeconfig", str(kube), "-o", str(tmp_path / "k"))
    assert p.returncode == 3, (p.returncode, p.stderr[-500:])
    assert "Exit codes: 0 pass, 1 a gate failed, 2 usage" in posture("--help").stdout


def test_waive_writes_an_entry_that_the_next_scan_applies(tmp_path):
    r = repo(tmp_path)
    out = tmp_path / "o"
    assert posture("scan", str(r), "-o", str(out)).returncode == 0
    report = json.loads((out / "posture-report.json").read_text())
    f = next(f for c in report["checks"] if c["id"] == "workloads.no-privileged-containers"
             for f in c["findings"] if f["status"] == "fail")
    cfg = r / "posture.yaml"
    original = ("# owned by the platform team\nweights:\n  perimeter: 2  # internet first\n\n"
                "waivers:\n  # reviewed monthly\n  - check: gitops.dependson-resolves\n    resource: '*'\n"
                "    reason: bootstrap repo\n    expires: 2031-01-01\n")
    cfg.write_text(original)
    p = posture("waive", f["fingerprint"][:12], "--reason", "UPS driver needs the device", "--expires", "2031-06-30",
                "--report", str(out / "posture-report.json"), "--config", str(cfg))
    assert p.returncode == 0, p.stderr
    text = cfg.read_text()
    assert text.startswith(original)  # comments and layout kept; the entry appended
    added = yaml.safe_load(text)["waivers"][-1]
    assert added["check"] == "workloads.no-privileged-containers"
    assert added["reason"] == "UPS driver needs the device" and str(added["expires"]) == "2031-06-30"
    rescan = posture("scan", str(r), "-o", str(tmp_path / "o2"))
    assert rescan.returncode == 0, rescan.stderr
    after = json.loads((tmp_path / "o2/posture-report.json").read_text())
    same = next(x for c in after["checks"] for x in c["findings"] if x["fingerprint"] == f["fingerprint"])
    assert same["status"] == "waived" and same["waiver"]["reason"] == "UPS driver needs the device"
    # Twice is refused, an unknown id and a past date are usage errors; the file is unchanged.
    for args in ((f["fingerprint"], "--expires", "2031-06-30"), ("0000000000", "--expires", "2031-06-30"),
                 (f["fingerprint"][:12], "--expires", "2001-01-01")):
        p = posture("waive", args[0], "--reason", "x", *args[1:], "--report", str(out / "posture-report.json"),
                    "--config", str(cfg))
        assert p.returncode == 2 and p.stderr.startswith("posture: error:"), p.stderr
    assert cfg.read_text() == text


def test_diff_text_prints_each_subject_once():
    from scanner.snapshots.render import text

    item = lambda check, msg, sev="high": {"check": check, "subject": "Deployment media/app", "resource": None,  # noqa: E731
                                          "message": f"Deployment media/app: {msg}", "severity": sev,
                                          "location": "apps/app.yaml:3", "status": "fail"}
    d = {"old": {"label": "a"}, "new": {"label": "b"},
         "score": {"overall": {"old": 50.0, "new": 40.0, "delta": -10.0}, "grade": {"old": "F", "new": "F"}, "layers": {}},
         "new_findings": [item("workloads.caps", "drops nothing"), item("workloads.privileged", "runs privileged"),
                          dict(item("secrets.x", "plaintext"), subject="Secret media/s", message="plaintext value")],
         "resolved_findings": [], "severity_changed": [], "checks_added": [], "checks_removed": []}
    out = text(d)
    assert out.count("Deployment media/app") == 1  # the subject heads its group, messages do not repeat it
    assert "    [high] workloads.caps: drops nothing  (apps/app.yaml:3)" in out
    assert "    [high] workloads.privileged: runs privileged" in out
    assert "  Secret media/s\n    [high] secrets.x: plaintext value" in out
