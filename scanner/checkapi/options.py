"""Typed check options: a check declares its posture.yaml options as a class (kube-linter's typed
parameters), and the engine validates `checks.<id>` against it when posture.yaml is read.

    class CertOptions(CheckOptions):
        warn_days: int = option(21, gt=0, description="Warn this many days before a certificate expires.")

    @check(id="perimeter.tls-certificates", ..., options=CertOptions)

The declaration is plain Python; the pydantic model that validates it (closed, strict: no `true` for
1, no NaN or infinity) is made on first use by `model()`. Importing a check module so does not import
pydantic: the pre-commit hook (`posture leaks`) loads the leak checks and validates no options.
`option()` takes pydantic's constraints (`gt`, `ge`, `le`, `pattern` ...); a third-party class may
still assign pydantic's `Field(...)` instead.

The check function still receives a plain dict (defaults, then posture.yaml's layer-wide settings,
then its own `checks.<id>` entry). A third-party check may pass a dict of defaults instead of a
class: one is made from it (each option typed by its default's type)."""
from __future__ import annotations

import copy
import functools
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class Option:
    """One declared option: its default, what it means, and pydantic constraints (`gt=0`)."""

    default: Any
    description: str = ""
    constraints: dict = field(default_factory=dict)
    pydantic_field: Any = None  # a third-party class's own `Field(...)`, used as it is


def option(default: Any, *, description: str = "", **constraints) -> Any:
    """The value of an option's class attribute (typed `Any` so `x: int = option(3)` reads well)."""
    return Option(default, description, constraints)


class CheckOptions:
    """Base of every check's options: annotated class attributes, each `option(...)` or a default."""

    @classmethod
    def declared(cls) -> dict[str, tuple[Any, Option]]:
        """{name: (type, Option)} in declaration order (string annotations resolved here, lazily)."""
        got = cls.__dict__.get("_declared")
        if got is None:
            got = {}
            for name, hint in typing.get_type_hints(cls).items():
                if name.startswith("_"):
                    continue
                value = getattr(cls, name, None)
                if _is_field_info(value):
                    value = Option(value.default, value.description or "", pydantic_field=value)
                elif not isinstance(value, Option):  # a plain default
                    value = Option(value)
                got[name] = (hint, value)
            cls._declared = got
        return got

    @classmethod
    def field_names(cls) -> list[str]:
        return list(cls.declared())

    @classmethod
    def defaults(cls) -> dict:
        """Every option at its default (copies: a check may change its dict)."""
        return {name: copy.deepcopy(opt.default) for name, (_, opt) in cls.declared().items()}

    @classmethod
    def model(cls):
        """The pydantic model that validates a `checks.<id>` entry (made once per class)."""
        got = cls.__dict__.get("_model")
        if got is None:
            from pydantic import Field, create_model

            fields: dict[str, Any] = {}
            for name, (hint, opt) in cls.declared().items():
                given = opt.pydantic_field
                fields[name] = (hint, given if given is not None else
                                Field(opt.default, description=opt.description or None, **opt.constraints))
            got = create_model(cls.__name__, __base__=_strict_base(), __module__=cls.__module__, **fields)
            cls._model = got
        return got


class NoOptions(CheckOptions):
    """A check without options."""


@functools.cache
def _strict_base():
    """The pydantic base every options model extends (made on the first validation)."""
    from pydantic import BaseModel, ConfigDict

    class StrictOptions(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    return StrictOptions


def _is_field_info(value) -> bool:
    return type(value).__name__ == "FieldInfo" and type(value).__module__.startswith("pydantic")


def model_from_defaults(check_id: str, defaults: dict) -> type[CheckOptions]:
    """A CheckOptions class for a `{name: default}` dict (None-defaulted options accept anything)."""
    annotations = {name: (Optional[Any] if default is None else type(default)) for name, default in defaults.items()}
    name = "".join(p.capitalize() for p in check_id.replace("-", ".").split(".")) + "Options"
    namespace = {"__annotations__": annotations, **{k: option(v) for k, v in defaults.items()}}
    return types.new_class(name, (CheckOptions,), exec_body=lambda ns: ns.update(namespace))


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


def describe(options: type[CheckOptions]) -> list[dict]:
    """[{name, type, default, description}] for the catalogue and `posture checks show`."""
    return [{"name": name, "type": type_name(hint), "default": copy.deepcopy(opt.default),
             "description": opt.description or ""}
            for name, (hint, opt) in options.declared().items()]
