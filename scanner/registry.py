"""The check plugin API: a decorator that records a check's metadata, and entry-point discovery.

A check is a small function of the inventory (and its options) that yields one `Result` per
subject. Modules register through the `gitops_posture.checks` entry-point group, the built-in
layers exactly like third-party packages:

    [project.entry-points."gitops_posture.checks"]
    mychecks = "mypackage.checks"          # a module: every @check function in it
    one = "mypackage.checks:my_check"      # or a single decorated function
"""
from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from .plugins import entry_points
from types import ModuleType
from typing import Callable, Iterable

from .model import LAYERS, SEVERITIES, Result

ENTRY_POINT_GROUP = "gitops_posture.checks"


@dataclass(frozen=True)
class CheckSpec:
    """A check: its id and documentation, the function that runs it, and how to schedule it."""

    id: str
    title: str
    severity: str
    rationale: str
    remediation: str
    references: tuple[str, ...]
    func: Callable = field(compare=False, repr=False)
    options: dict = field(default_factory=dict, compare=False)  # option name -> default
    needs: tuple[str, ...] = ()  # inventory inputs it reads (kinds); lets live scans say what a 403 cost
    module: str = ""
    # Shared analyses it builds on (memoised on the inventory, e.g. "routes": the exposure and auth map of
    # every route). A scheduling hint: checks on the same analysis run in one process, so it is made once.
    builds_on: tuple[str, ...] = ()
    # Relative run time on a typical repo (1: most checks; more for those that read every document or
    # file). Scheduling only: on two cores the costliest start first, so none is left running alone.
    cost: int = 1

    @property
    def layer(self) -> str:
        return self.id.split(".", 1)[0]

    def run(self, inventory, options: dict) -> Iterable[Result]:
        opts = dict(self.options)
        opts.update(options or {})
        return self.func(inventory, opts)

    def catalogue_entry(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "layer": self.layer,
            "severity": self.severity,
            "rationale": self.rationale,
            "remediation": self.remediation,
            "references": list(self.references),
            "options": dict(self.options),
            "module": self.module,
        }


def check(
    *,
    id: str,
    title: str,
    severity: str,
    rationale: str,
    remediation: str,
    references: Iterable[str] = (),
    options: dict | None = None,
    needs: Iterable[str] = (),
    builds_on: Iterable[str] = (),
    cost: int = 1,
):
    """Mark a function `f(inventory, options) -> Iterable[Result]` as a check."""
    layer = id.split(".", 1)[0]
    if layer not in LAYERS or "." not in id:
        raise ValueError(f"check id {id!r} must be '<layer>.<slug>' with a layer in {LAYERS}")
    if severity not in SEVERITIES:
        raise ValueError(f"check {id}: severity {severity!r} not in {SEVERITIES}")

    def wrap(func: Callable) -> Callable:
        func.__posture_check__ = CheckSpec(
            id=id,
            title=title,
            severity=severity,
            rationale=inspect.cleandoc(rationale),
            remediation=inspect.cleandoc(remediation),
            references=tuple(references),
            func=func,
            options=dict(options or {}),
            needs=tuple(needs),
            module=func.__module__,
            builds_on=tuple(builds_on),
            cost=cost,
        )
        return func

    return wrap


def _specs_in(obj) -> list[CheckSpec]:
    if isinstance(obj, ModuleType):
        found = [v.__posture_check__ for v in vars(obj).values() if hasattr(v, "__posture_check__")]
        return sorted(found, key=lambda s: s.id)
    spec = getattr(obj, "__posture_check__", None)
    return [spec] if spec else []


def discover(extra_modules: Iterable[str] = ()) -> tuple[list[CheckSpec], list[str]]:
    """All checks from the entry-point group (plus `extra_modules`), and load errors as text."""
    specs: dict[str, CheckSpec] = {}
    errors: list[str] = []
    targets: list[tuple[str, Callable]] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
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
