"""Packaging: the build backend (packaging/posture_build.py) and what a source distribution carries."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_editable_install_backend_compiles_the_source_tree(tmp_path):
    """packaging/posture_build.py: an editable install gets bytecode as a regular install does."""
    pkg = tmp_path / "scanner"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("X = 1\n")
    (pkg / "mod.py").write_text("def f():\n    return 2\n")
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import posture_build; "
            "posture_build.compile_source_tree(sys.argv[2])")
    subprocess.run([sys.executable, "-c", code, str(ROOT / "packaging"), str(tmp_path)], check=True,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    cached = sorted(p.name.split(".")[0] for p in (pkg / "__pycache__").iterdir())
    assert cached == ["__init__", "mod"]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'build-backend = "posture_build"' in pyproject and 'backend-path = ["packaging"]' in pyproject


def test_source_distribution_carries_the_build_backend():
    """pyproject.toml names packaging/ as the backend's path: an sdist without it could not be built."""
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8").split()
    assert "packaging/posture_build.py" in manifest
