"""The console script makes full garbage collections rare (scanner.cli.main.GC_THRESHOLDS: a scan's
long-lived object graph was walked again and again for nothing; measured in `make bench`)."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from scanner.cli.main import GC_THRESHOLDS
from tests.support.paths import ROOT


def test_the_console_script_sets_the_collector_thresholds():
    # In a fresh process, as `posture` starts: the test process keeps its own collector and signals.
    code = textwrap.dedent("""
        import gc, json, sys
        from scanner.cli.main import run
        before = gc.get_threshold()
        sys.argv = ["posture", "--version"]
        try:
            run()
        except SystemExit as exc:
            print(json.dumps({"code": exc.code, "before": before, "after": gc.get_threshold()}), file=sys.stderr)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    got = json.loads(proc.stderr.strip().splitlines()[-1])
    assert got["code"] == 0
    assert tuple(got["before"]) != GC_THRESHOLDS  # CPython's defaults before
    assert tuple(got["after"]) == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] == got["before"][0]  # young collections as often as by default
