"""Session set-up shared by every test module."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_sops_cache(tmp_path_factory):
    """The `sops filestatus` answer cache (scanner/sops_cache.py) of the test run lives in a temp dir:
    tests never read answers recorded by a developer's own scans, nor leave entries in ~/.cache."""
    previous = os.environ.get("POSTURE_CACHE_DIR")
    os.environ["POSTURE_CACHE_DIR"] = str(tmp_path_factory.mktemp("posture-cache"))
    yield
    if previous is None:
        os.environ.pop("POSTURE_CACHE_DIR", None)
    else:
        os.environ["POSTURE_CACHE_DIR"] = previous


@pytest.fixture(autouse=True, scope="session")
def _private_user_cache(tmp_path_factory):
    """Caches under the user's cache directory (kustomize builds, charts) live in a temp dir for the test
    run, also for `posture` subprocesses (platformdirs reads XDG_CACHE_HOME): shared by the tests of the
    session (builds are keyed by content), never a developer's own."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if previous is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = previous
