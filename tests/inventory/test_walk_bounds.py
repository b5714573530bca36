"""The Flux graph walk is bounded (a hostile repo may declare Kustomizations without end), and what
lies past the bound is a recorded scan error and a coverage gap naming each one, never dropped silently."""
from __future__ import annotations

import shutil

from scanner.inventory import walk
from tests.support.paths import ROOT
from tests.support.scanning import run_scan


def test_kustomizations_past_the_bound_are_errors_and_gaps(tmp_path, monkeypatch):
    repo = tmp_path / "homelab"
    shutil.copytree(ROOT / "examples" / "homelab", repo)
    whole = run_scan(repo, cache_dir=None)
    assert not [e for e in whole.errors if e.code == "flux-graph-too-deep"]

    monkeypatch.setattr(walk, "MAX_NODES", 3)
    bounded = run_scan(repo, cache_dir=None)
    past = [e for e in bounded.errors if e.code == "flux-graph-too-deep"]
    assert past, "the example deploys more than 3 Flux Kustomizations"
    assert all("past the bound of 3 Flux Kustomizations in one cluster; not built" in e.message for e in past)
    assert all(e.path.endswith(".yaml") and e.line for e in past)
    gaps = [g for g in bounded.coverage.gaps if g.code == "build-failed"
            and "beyond the scanner's bound" in g.message]
    assert len(gaps) == len(past)
