"""The `posture` console script. Ctrl-C must exit 130 even while the modules are still loading,
before the CLI's own handler is in place, so an early handler is installed first."""
from __future__ import annotations

import os
import signal


def _interrupted_while_loading(signum, frame):  # pragma: no cover - exercised through a subprocess
    os.write(2, b"posture: interrupted; no report written\n")
    os._exit(130)


signal.signal(signal.SIGINT, _interrupted_while_loading)


def main() -> None:
    from .cli import main as cli_main  # loaded under the early handler

    signal.signal(signal.SIGINT, signal.default_int_handler)  # from here the CLI turns Ctrl-C into 130
    cli_main()
