"""Entry points of installed distributions (`importlib.metadata`), for the plugin groups."""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable, Iterable

from importlib.metadata import EntryPoint
from importlib.metadata import entry_points as _entry_points

from scanner.checkapi.registry import CheckSpec
from scanner.core.model import LAYERS

CHECKS_GROUP = "gitops_posture.checks"


def entry_points(group: str) -> list[EntryPoint]:
    """The entry points of one group, first distribution of a name wins (sys.path order)."""
    seen: dict[str, EntryPoint] = {}
    for ep in _entry_points(group=group):
        seen.setdefault(ep.name, ep)
    return list(seen.values())


def _specs_in(obj) -> list[CheckSpec]:
    if isinstance(obj, ModuleType):
        found = [v.__posture_check__ for v in vars(obj).values() if hasattr(v, "__posture_check__")]
        return sorted(found, key=lambda s: s.id)
    spec = getattr(obj, "__posture_check__", None)
    return [spec] if spec else []


def discover(extra_modules: Iterable[str] = (), only: Iterable[str] | None = None) -> tuple[list[CheckSpec], list[str]]:
    """All checks from the entry-point group (plus `extra_modules`), and load errors as text.
    `only`: load just the entry points of these names (a command that runs a few known checks
    need not import every plugin)."""
    specs: dict[str, CheckSpec] = {}
    errors: list[str] = []
    targets: list[tuple[str, Callable]] = []
    wanted = None if only is None else set(only)
    for ep in entry_points(group=CHECKS_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        targets.append((f"entry point {ep.name} = {ep.value}", ep.load))
    for mod in extra_modules:
        targets.append((f"module {mod}", lambda m=mod: importlib.import_module(m)))
    for label, load in targets:
        try:
            obj = load()
        except Exception as exc:  # a broken plugin must not take the scan down
            errors.append(f"{label}: cannot load: {exc}")
            continue
        for spec in _specs_in(obj):
            if spec.id in specs and specs[spec.id].func is not spec.func:
                errors.append(f"{label}: duplicate check id {spec.id} (kept the first)")
                continue
            specs[spec.id] = spec
    return sorted(specs.values(), key=lambda s: (LAYERS.index(s.layer), s.id)), errors
