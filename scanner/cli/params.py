"""Click parameter types and flag helpers (click only: imported when the command line is built)."""
from __future__ import annotations

import math

import click


class FiniteFloat(click.ParamType):
    """A float within [min, max]; NaN and infinity are refused (a NaN threshold passes every gate)."""

    name = "number"

    def __init__(self, min: float | None = None, max: float | None = None):
        self.min, self.max = min, max

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r} is not a number", param, ctx)
            if not math.isfinite(number):
                self.fail(f"{value!r} is not a finite number", param, ctx)
        if (self.min is not None and number < self.min) or (self.max is not None and number > self.max):
            self.fail(f"{number:g} is not in the range {self.min:g}..{self.max if self.max is not None else '∞'}",
                      param, ctx)
        return number


def split_list(values) -> tuple[str, ...]:
    """Repeatable, comma-separated flag values as one tuple (`--only a,b --only c`)."""
    return tuple(v.strip() for item in values or () for v in str(item).split(",") if v.strip())
