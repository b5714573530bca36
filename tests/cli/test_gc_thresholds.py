"""The console script makes full garbage collections rare (scanner.cli.main.GC_THRESHOLDS: a scan's
long-lived object graph was walked again and again for nothing; measured in `make bench`)."""
from __future__ import annotations

import gc
import sys

import pytest

from scanner.cli import main as cli_main


def test_the_console_script_sets_the_collector_thresholds(monkeypatch):
    before = gc.get_threshold()
    monkeypatch.setattr(sys, "argv", ["posture", "--version"])
    try:
        with pytest.raises(SystemExit) as done:
            cli_main.run()
        assert done.value.code == 0
        assert gc.get_threshold() == cli_main.GC_THRESHOLDS != before
        assert cli_main.GC_THRESHOLDS[0] == before[0]  # young collections as often as by default
    finally:
        gc.set_threshold(*before)
