"""Every cache is invisible in the report: a scan with an empty cache, the same scan again (every
build, substitution, parse and tool answer from the cache) and a scan with no cache give the same
report, field by field, apart from timings."""
from __future__ import annotations

import shutil

import pytest

from tests.support.paths import ROOT, TARGET
from tests.support.scanning import run_scan

VOLATILE = {"started_at", "finished_at", "duration_s", "phases", "generated_at"}


def _comparable(node):
    if isinstance(node, dict):
        return {k: _comparable(v) for k, v in node.items() if k not in VOLATILE}
    if isinstance(node, list):
        return [_comparable(v) for v in node]
    return node


def _three_ways(repo, tmp_path) -> None:
    cache = tmp_path / "cache"
    cold = run_scan(repo, cache_dir=str(cache))
    assert any((cache / part).is_dir() for part in ("parsed", "kustomize-builds", "tools"))
    warm = run_scan(repo, cache_dir=str(cache))
    none = run_scan(repo, cache_dir=None)
    baseline = _comparable(none.model_dump(mode="json"))
    assert _comparable(cold.model_dump(mode="json")) == baseline
    assert _comparable(warm.model_dump(mode="json")) == baseline


def test_example_repo_reports_do_not_depend_on_the_cache(tmp_path):
    repo = tmp_path / "homelab"
    shutil.copytree(ROOT / "examples" / "homelab", repo)
    _three_ways(repo, tmp_path)


@pytest.mark.skipif(not TARGET.is_dir(), reason="the corpus (../shared/corpus) is absent")
def test_target_repo_reports_do_not_depend_on_the_cache(tmp_path):
    _three_ways(TARGET, tmp_path)
