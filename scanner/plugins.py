"""Entry points of installed distributions, read straight from their `entry_points.txt`.

Why not `importlib.metadata`: importing it pulls in `email`, `zipfile` and `csv` (~15-20 ms, about a
tenth of a scan of a 1,000-file repo), and every `posture` run needs its two plugin groups. This reads
the same files the same way for what pip installs (`*.dist-info`, `*.egg-info` directories on
`sys.path`, first distribution of a name wins, in `sys.path` order) and hands anything it does not
understand (a zip or egg file on the path) to `importlib.metadata`.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
from dataclasses import dataclass

_SUFFIXES = (".dist-info", ".egg-info")


@dataclass(frozen=True)
class EntryPoint:
    """An entry point of an installed distribution, as declared in its entry_points.txt."""

    name: str
    value: str  # "module" or "module:attribute"
    group: str

    def load(self):
        module_name, _, attr = self.value.partition(":")
        obj = importlib.import_module(module_name.strip())
        for part in filter(None, attr.strip().split(".")):
            obj = getattr(obj, part)
        return obj


def _normalized(dist_dir: str) -> str:
    name = dist_dir[: -len(".dist-info")] if dist_dir.endswith(".dist-info") else dist_dir[: -len(".egg-info")]
    name = name.split("-", 1)[0]
    return re.sub(r"[-_.]+", "_", name).lower()


def _parse(text: str, group: str) -> list[tuple[str, str]]:
    """(name, value) pairs of one `[group]` section of an entry_points.txt (INI syntax)."""
    found: list[tuple[str, str]] = []
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            continue
        if current == group and "=" in line:
            name, _, value = line.partition("=")
            found.append((name.strip(), value.strip()))
    return found


def entry_points(group: str) -> list[EntryPoint]:
    """Every entry point of `group`, in the order importlib.metadata would give them."""
    paths = [p or "." for p in sys.path]
    if any(os.path.isfile(p) for p in paths):  # a zip on the path: let the standard library read it
        from importlib.metadata import entry_points as std_entry_points

        return [EntryPoint(ep.name, ep.value, group) for ep in std_entry_points(group=group)]
    out: list[EntryPoint] = []
    for text in _entry_point_files(paths):
        out.extend(EntryPoint(name, value, group) for name, value in _parse(text, group))
    return out


# A run asks for its plugin groups several times (formats, checks): the distributions' files are read
# once while the path entries are unchanged (a directory's mtime changes when a distribution is added or
# removed, which is how pip installs and uninstalls).
_FILES_CACHE: dict = {}


def _entry_point_files(paths: list[str]) -> list[str]:
    """The text of every distribution's entry_points.txt, in path order, first of a name only."""
    stamps = []
    for base in paths:
        try:
            st = os.stat(base)
            stamps.append((st.st_mtime_ns, st.st_nlink))  # (nlink: a new subdirectory within the same tick)
        except OSError:
            stamps.append(None)
    key = (tuple(paths), tuple(stamps))
    got = _FILES_CACHE.get(key)
    if got is not None:
        return got
    seen: set[str] = set()
    texts: list[str] = []
    for base in paths:
        try:
            names = sorted(n for n in os.listdir(base) if n.endswith(_SUFFIXES))
        except OSError:  # missing or unreadable path entries are skipped, as importlib.metadata does
            continue
        for dist_dir in names:
            name = _normalized(dist_dir)
            if name in seen:
                continue
            seen.add(name)
            try:
                with open(os.path.join(base, dist_dir, "entry_points.txt"), encoding="utf-8") as fh:
                    texts.append(fh.read())
            except OSError:
                continue
    _FILES_CACHE.clear()
    _FILES_CACHE[key] = texts
    return texts
