"""Typed check options: a check declares its posture.yaml options as a model (kube-linter's typed
parameters), and the engine validates `checks.<id>` against it when posture.yaml is read.

    class CertOptions(CheckOptions):
        warn_days: int = Field(21, gt=0, description="Warn this many days before a certificate expires.")

    @check(id="perimeter.tls-certificates", ..., options=CertOptions)

The check function still receives a plain dict (defaults, then posture.yaml's layer-wide settings,
then its own `checks.<id>` entry). A third-party check may pass a dict of defaults instead of a
model: a model is made from it (each option typed by its default's type)."""
from __future__ import annotations

import types
import typing
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, create_model


class CheckOptions(BaseModel):
    """Base of every check's options: closed, strict (no `true` for 1), no NaN or infinity.
    Validators are built on first use (pydantic's defer_build): a run that validates no options
    (`posture leaks`) does not pay for them."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True, defer_build=True)


class NoOptions(CheckOptions):
    """A check without options."""


def model_from_defaults(check_id: str, defaults: dict) -> type[CheckOptions]:
    """A CheckOptions model for a `{name: default}` dict (None-defaulted options accept anything)."""
    fields: dict[str, Any] = {}
    for name, default in defaults.items():
        annotation = Optional[Any] if default is None else type(default)
        fields[name] = (annotation, default)
    name = "".join(p.capitalize() for p in check_id.replace("-", ".").split(".")) + "Options"
    return create_model(name, __base__=CheckOptions, **fields)


def type_name(annotation) -> str:
    """A short, readable type for the catalogue: `list[str]`, `int`, `str | None`."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return type_name(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "None"
    if annotation is Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def describe(model: type[CheckOptions]) -> list[dict]:
    """[{name, type, default, description}] for the catalogue and `posture checks show`."""
    out = []
    for name, f in model.model_fields.items():
        default = f.get_default(call_default_factory=True)
        out.append({"name": name, "type": type_name(f.annotation), "default": default,
                    "description": f.description or ""})
    return out
