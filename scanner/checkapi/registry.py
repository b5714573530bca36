"""The check plugin API: a decorator that records a check's metadata (found by scanner.engine.plugins).

A check is a small function of the inventory (and its options) that yields one `Result` per
subject. Modules register through the `gitops_posture.checks` entry-point group, the built-in
layers exactly like third-party packages:

    [project.entry-points."gitops_posture.checks"]
    mychecks = "mypackage.checks"          # a module: every @check function in it
    one = "mypackage.checks:my_check"      # or a single decorated function
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Callable, Iterable

from scanner.checkapi.options import CheckOptions, NoOptions, describe, model_from_defaults
from scanner.core.model import LAYERS, SEVERITIES, Result

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
    options: type[CheckOptions] = field(default=NoOptions, compare=False)  # posture.yaml `checks.<id>` options
    needs: tuple[str, ...] = ()  # inventory inputs it reads (kinds); lets live scans say what a 403 cost
    module: str = ""
    mitigated_by: tuple[str, ...] = ()  # layers whose enforcement can make a failing subject `mitigated`

    @property
    def layer(self) -> str:
        return self.id.split(".", 1)[0]

    def defaults(self) -> dict:
        """Every option at its default value."""
        return self.options.defaults()

    def run(self, inventory, options: dict) -> Iterable[Result]:
        """`options`: posture.yaml's settings for this check (validated against `self.options`)."""
        opts = self.defaults()
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
            "options": describe(self.options),
            "module": self.module,
            "mitigated_by": list(self.mitigated_by),
        }


def check(
    *,
    id: str,
    title: str,
    severity: str,
    rationale: str,
    remediation: str,
    references: Iterable[str] = (),
    options: type[CheckOptions] | dict | None = None,
    needs: Iterable[str] = (),
    mitigated_by: Iterable[str] = (),
):
    """Mark a function `f(inventory, options) -> Iterable[Result]` as a check. `options`: a CheckOptions
    class (scanner.checkapi.options), or a dict of defaults for third-party checks.

    `mitigated_by` names the layers (of LAYERS) whose enforcement can turn a failing subject into a
    `mitigated` one (scanner.analysis.effective); the catalogue lists them."""
    layer = id.split(".", 1)[0]
    if layer not in LAYERS or "." not in id:
        raise ValueError(f"check id {id!r} must be '<layer>.<slug>' with a layer in {LAYERS}")
    if severity not in SEVERITIES:
        raise ValueError(f"check {id}: severity {severity!r} not in {SEVERITIES}")
    mitigated_by = tuple(mitigated_by)
    unknown = [m for m in mitigated_by if m not in LAYERS]
    if unknown:
        raise ValueError(f"check {id}: mitigated_by {unknown} not in {LAYERS}")

    def wrap(func: Callable) -> Callable:
        func.__posture_check__ = CheckSpec(
            id=id,
            title=title,
            severity=severity,
            rationale=inspect.cleandoc(rationale),
            remediation=inspect.cleandoc(remediation),
            references=tuple(references),
            func=func,
            options=_options_model(id, options),
            needs=tuple(needs),
            module=func.__module__,
            mitigated_by=mitigated_by,
        )
        return func

    return wrap


def _options_model(check_id: str, options) -> type[CheckOptions]:
    if options is None:
        return NoOptions
    if isinstance(options, dict):
        return model_from_defaults(check_id, options)
    if isinstance(options, type) and issubclass(options, CheckOptions):
        return options
    raise TypeError(f"check {check_id}: options must be a CheckOptions class or a dict of defaults")
