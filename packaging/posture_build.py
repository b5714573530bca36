"""The project's build backend: setuptools', plus bytecode for editable installs.

`pip install .` compiles every installed module to bytecode (pip does that for any wheel), but an
editable install (`pip install -e .`) runs the modules from this source tree, where nothing has
compiled them. With PYTHONDONTWRITEBYTECODE set (common on CI machines and containers), Python then
compiles all of `posture` from source at every start: ~250 ms, twice the time of a whole scan of a
typical repo. So an editable build compiles the tree, as the regular install would. Python checks
each .pyc against its source before using it: an edited module is never run from stale bytecode.
"""
from __future__ import annotations

import compileall
import os

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403 (the rest of the PEP 517/660 interface, unchanged)

PACKAGES = ("scanner", "checks", "reports")


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    compile_source_tree(os.getcwd())  # (pip runs the backend in the project directory)
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)


def compile_source_tree(root: str) -> None:
    """Only ever saves time: a tree that cannot be written (read-only checkout) is left as it is."""
    for package in PACKAGES:
        path = os.path.join(root, package)
        if os.path.isdir(path):
            try:
                compileall.compile_dir(path, quiet=2, workers=1)
            except OSError:
                pass
