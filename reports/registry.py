"""Formatter plugins, found through the `gitops_posture.formatters` entry-point group."""
from __future__ import annotations

import importlib
import os
import tempfile
from importlib.metadata import entry_points

GROUP = "gitops_posture.formatters"
# Names users type that map onto a formatter (e.g. `--format md`).
ALIASES = {"md": "markdown", "xml": "junit", "prom": "prometheus", "openmetrics": "prometheus"}


def formatters() -> dict:
    found = {}
    for ep in entry_points(group=GROUP):
        found[ep.name] = ep
    return found


def load(name: str):
    """(module-like object with FILENAME, render function) for a format name."""
    name = ALIASES.get(name, name)
    eps = formatters()
    if name not in eps:
        raise KeyError(name)
    target = eps[name].load()
    module = importlib.import_module(target.__module__)
    return getattr(module, "FILENAME", f"posture-report.{name}"), target


def atomic_write(path: str, text: str) -> None:
    """Write via a temp file in the same directory and rename, so readers never see half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".posture-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
