"""The `posture` console script. Ctrl-C must exit 130 even while the modules are still loading,
before the CLI's own handler is in place, so an early handler is installed first."""
from __future__ import annotations

import os
import sys

import _signal as signal  # (the C module: `signal` would load enum first; see scanner.twocore)


def _interrupted_while_loading(signum, frame):  # pragma: no cover - exercised through a subprocess
    readahead.cancel()
    os.write(2, b"posture: interrupted; no report written\n")
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted_while_loading)

from . import gcpause, readahead, twocore  # noqa: E402  (small: gc, os; after the handler, like all else)


def main() -> None:
    gcpause.hold_for_startup()  # until the scan has loaded its modules and parsed the repo
    readahead.start_for_command_line(sys.argv[1:])  # `posture scan PATH`: start reading PATH now
    from .cli import main as cli_main  # loaded under the early handler

    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here the CLI turns Ctrl-C into 130
    try:
        cli_main()
    except SystemExit as exc:
        _leave(exc.code)
    _leave(0)


def _leave(code) -> None:
    """Exit without the interpreter's tear-down. A command is done when it returns: its reports are
    written and renamed into place, its files closed. Freeing every object of a scan one by one (the
    parsed repo, tens of MB) would only delay the exit (~10 ms on a 1,000-file repo)."""
    readahead.cancel()  # a helper the command did not use (usage error, --help) goes with us
    twocore.reap_helpers(wait=True)  # (finished long ago: their exit status, so none is left a zombie)
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): printed, status 1, as Python does
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass
    os._exit(code)
