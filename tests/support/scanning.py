"""Scans for tests: `scan(path, only=[...])` is `pipeline.scan(ScanOptions(path=path, only=...))`.

The cache goes to the session's temporary cache (tests/conftest.py sets XDG_CACHE_HOME)."""
from __future__ import annotations

from scanner.core.options import ScanOptions
from scanner.engine import pipeline
from scanner.engine.report_model import Report


def options(path=None, **fields) -> ScanOptions:
    return ScanOptions(path=None if path is None else str(path), **fields)


def scan(path=None, *, config=None, progress=None, **fields) -> pipeline.ScanRun:
    return pipeline.scan(options(path, **fields), config, progress=progress)


def run_scan(path=None, **fields) -> Report:
    return scan(path, **fields).report
