"""Session set-up shared by every test module."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_sops_cache(tmp_path_factory):
    """The per-user cache (ScanOptions.cache_dir's default, through platformdirs) of the test run lives
    in a temp dir: tests never read answers recorded by a developer's own scans, nor leave entries in
    ~/.cache. XDG_CACHE_HOME is the platform's own variable (no posture setting travels by env)."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("posture-cache"))
    yield
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous
