"""The collector is held while the console script loads and released once the repo is parsed."""
from __future__ import annotations

import gc
from pathlib import Path

from scanner import gcpause, parse

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "homelab"


def test_startup_hold_is_released_by_the_parse_and_only_once():
    assert gc.isenabled()
    try:
        gcpause.hold_for_startup()
        assert not gc.isenabled()
        with gcpause.paused():  # a phase pausing it meanwhile leaves it held
            pass
        assert not gc.isenabled()
        docs, _ = parse.parse_files(str(EXAMPLE), ["kubernetes/flux/cluster/ks.yaml"])
        assert gc.isenabled(), "the parse ends the start-up hold"
        gc.disable()
        gcpause.release_startup()  # nothing held any more: must not re-enable what someone else paused
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_hold_does_not_enable_a_collector_that_was_off():
    gc.disable()
    try:
        gcpause.hold_for_startup()
        gcpause.release_startup()
        assert not gc.isenabled()
    finally:
        gc.enable()
