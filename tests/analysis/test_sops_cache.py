"""The `sops filestatus` answer cache (scanner/sops_cache.py): keyed by the binary and the file's exact
bytes, so it is never stale; only "encrypted" answers are kept; off with --no-cache (ScanOptions.cache_dir=None)."""
from __future__ import annotations

import json
import os
import re
import stat

import pytest
from click.testing import CliRunner

from tests.support.scanning import scan
from scanner.cli.main import main
from tests.support.sops import AgeKey, add_app_file, encrypt, make_repo, rule, sops_binary, write_sops_config

pytestmark = pytest.mark.skipif(sops_binary() is None, reason="sops binary not available")

MAC = "secrets.sops-mac-verified"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData:\n  {key}: {value}\n"


@pytest.fixture
def counting_sops(tmp_path):
    """The real binary behind a wrapper that logs each call: the log shows which files sops was run on."""
    log = tmp_path / "calls.log"
    wrapper = tmp_path / "bin" / "sops"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$1 $4" >> "{log}"\nexec "{sops_binary()}" "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


@pytest.fixture
def cache(tmp_path, monkeypatch):
    # ScanOptions' default cache_dir is the platform's per-user cache: XDG_CACHE_HOME/gitops-posture here.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    return tmp_path / "xdg" / "gitops-posture"


def _repo(tmp_path, wrapper, n=2):
    key = AgeKey.create(tmp_path / "keys")
    repo = make_repo(tmp_path / "repo")
    write_sops_config(repo, [rule(r"kubernetes/.*\.sops\.ya?ml", key.recipient)])
    rels = []
    for i in range(n):
        rel = add_app_file(repo, f"s{i}.sops.yaml", SECRET.format(name=f"s{i}", key="TOKEN", value=f"cache-v{i}"))
        encrypt(repo, rel, key)
        rels.append(rel)
    return repo, rels


def _calls(log) -> list[str]:
    return log.read_text().split("\n")[:-1] if log.exists() else []


def _verdicts(report):
    c = next(c for c in report["checks"] if c["id"] == MAC)
    return sorted((f["location"]["path"], f["status"], f["message"]) for f in c["findings"])


def test_unchanged_files_are_not_asked_again_and_a_changed_one_is(tmp_path, counting_sops, cache):
    wrapper, log = counting_sops
    repo, rels = _repo(tmp_path, wrapper)
    first = scan(str(repo), only=[MAC], sops_bin=str(wrapper)).report.to_json_dict()
    assert sorted(c.split()[1] for c in _calls(log)) == sorted(rels)
    log.unlink()
    second = scan(str(repo), only=[MAC], sops_bin=str(wrapper)).report.to_json_dict()
    assert _calls(log) == [], "every answer came from the cache"
    assert _verdicts(first) == _verdicts(second) and len(_verdicts(first)) == 2
    # One byte changed (the file is no longer what sops answered for): asked again, and the answer is new.
    p = repo / rels[0]
    p.write_text(p.read_text().replace("version:", "vresion:", 1))
    third = scan(str(repo), only=[MAC], sops_bin=str(wrapper)).report.to_json_dict()
    assert [c.split()[1] for c in _calls(log)] == [rels[0]]
    assert dict((path, status) for path, status, _ in _verdicts(third))[rels[0]] == "fail"


def test_not_encrypted_answers_are_never_stored(tmp_path, counting_sops, cache):
    wrapper, log = counting_sops
    repo, rels = _repo(tmp_path, wrapper, n=2)
    p = repo / rels[1]  # a SOPS block without `version`: filestatus says "not encrypted"
    p.write_text(re.sub(r"\n\s*version: .*", "\n", p.read_text()))
    first = scan(str(repo), only=[MAC], sops_bin=str(wrapper)).report.to_json_dict()
    second = scan(str(repo), only=[MAC], sops_bin=str(wrapper)).report.to_json_dict()
    assert sorted(c.split()[1] for c in _calls(log)) == sorted([rels[0], rels[1], rels[1]])
    assert _verdicts(first) == _verdicts(second)
    assert [s for _, s, _ in _verdicts(second)] == ["pass", "fail"]
    entries = [os.path.join(d, f) for d, _, fs in os.walk(cache / "sops-filestatus-v1") for f in fs]
    assert len(entries) == 1
    assert json.loads(open(entries[0]).read()) == {"encrypted": True}
    assert stat.S_IMODE(os.stat(os.path.dirname(entries[0])).st_mode) == 0o700


def test_another_binary_does_not_reuse_answers(tmp_path, counting_sops, cache):
    wrapper, log = counting_sops
    repo, rels = _repo(tmp_path, wrapper, n=1)
    scan(str(repo), only=[MAC], sops_bin=str(wrapper))
    wrapper.write_text(wrapper.read_text() + "# another build\n")  # new size and mtime: another binary
    log.unlink()
    scan(str(repo), only=[MAC], sops_bin=str(wrapper))
    assert [c.split()[1] for c in _calls(log)] == rels


def test_no_cache_flag_and_an_unusable_cache_dir(tmp_path, counting_sops, cache, monkeypatch):
    wrapper, log = counting_sops
    repo, rels = _repo(tmp_path, wrapper, n=1)
    out = tmp_path / "out"
    for _ in range(2):
        r = CliRunner().invoke(main, ["scan", str(repo), "--only", MAC, "--no-cache", "-o", str(out), "-q", "--sops-bin", str(wrapper)])
        assert r.exit_code == 0, r.output
    assert len(_calls(log)) == 2 and not cache.exists()
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    report = scan(str(repo), only=[MAC], cache_dir=str(blocker), sops_bin=str(wrapper)).report.to_json_dict()
    assert len(_calls(log)) == 3
    assert [s for _, s, _ in _verdicts(report)] == ["pass"]
    assert not [e for e in report["errors"] if e["kind"] != "notice"]  # an unusable cache is no error at all
