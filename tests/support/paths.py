"""Where tests find the project's own files and the shared development corpus, wherever the test
module sits in tests/ (a module that counted `parents[N]` itself broke when it moved a folder)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # tests/support/paths.py -> the project
EXAMPLE = ROOT / "examples" / "homelab"  # the bundled example repo
# The corpus of real GitOps repos sits beside the project (../shared/corpus); CI has none, so every
# test that reads it skips when CORPUS.is_dir() is false.
CORPUS = ROOT.parent / "shared" / "corpus"
TARGET = CORPUS / "dapperdivers__dapper-cluster"
