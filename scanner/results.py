"""Shorthands for checks: build a Result that names its resource, file and line."""
from __future__ import annotations

from typing import Iterable

from .model import Location, Resource, Result


def _make(status: str, inv, subject: str, message: str, res: Resource | None, path: Iterable, **kw) -> Result:
    location = kw.pop("location", None)
    if location is None and res is not None:
        location = inv.location(res, path) if res.origin == "git" else Location(res.path, None)
    namespace = kw.pop("namespace", None)
    if namespace is None and res is not None:
        namespace = res.namespace
    resource = kw.pop("resource", None)
    if res is not None:
        resource = res.ref()
    return Result(status=status, subject=subject, message=message, resource=resource,
                  location=location, namespace=namespace, **kw)


def passed(inv, subject: str, message: str, res: Resource | None = None, path: Iterable = (), **kw) -> Result:
    return _make("pass", inv, subject, message, res, path, **kw)


def failed(inv, subject: str, message: str, res: Resource | None = None, path: Iterable = (), **kw) -> Result:
    return _make("fail", inv, subject, message, res, path, **kw)


def warned(inv, subject: str, message: str, res: Resource | None = None, path: Iterable = (), **kw) -> Result:
    return _make("warn", inv, subject, message, res, path, **kw)


def verdict(ok: bool, inv, subject: str, ok_message: str, fail_message: str, res: Resource | None = None,
            path: Iterable = (), **kw) -> Result:
    return _make("pass" if ok else "fail", inv, subject, ok_message if ok else fail_message, res, path, **kw)
