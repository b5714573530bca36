"""Shorthands for checks: build a Result that names its resource, file and line."""
from __future__ import annotations

from typing import Iterable

from scanner.core.model import Location, Resource, Result


def line_of(inv, res_or_doc, path: Iterable = ()) -> int | None:
    """`inv.line_of`, memoised per inventory: several checks ask for the same (document, key path)."""
    doc = res_or_doc.doc if isinstance(res_or_doc, Resource) else res_or_doc
    path = tuple(path)
    memo = inv.__dict__.get("_line_memo")
    if memo is None:
        memo = inv.__dict__["_line_memo"] = {}
    key = (id(doc), path)
    try:
        hit = memo.get(key, memo)
    except TypeError:  # an unhashable key in the path
        return inv.line_of(doc, path)
    if hit is memo:
        hit = memo[key] = (doc, inv.line_of(doc, path))  # the doc is kept so its id is never reused
    elif hit[0] is not doc:
        return inv.line_of(doc, path)
    return hit[1]


def location(inv, res_or_doc, path: Iterable = ()) -> Location:
    doc = res_or_doc.doc if isinstance(res_or_doc, Resource) else res_or_doc
    return Location(doc.path, line_of(inv, doc, path))


def _make(status: str, inv, subject: str, message: str, res: Resource | None, path: Iterable, **kw) -> Result:
    location = kw.pop("location", None)
    if location is None and res is not None:
        location = Location(res.path, line_of(inv, res.doc, path)) if res.origin == "git" else Location(res.path, None)
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


def mitigated(inv, subject: str, message: str, res: Resource | None = None, path: Iterable = (), *,
              by: list, **kw) -> Result:
    """A subject whose manifest fails the check but which passes because another layer enforces the control:
    `by` lists that enforcement ({layer, mechanism, detail, path, line}: scanner.analysis.effective.Credit)."""
    return _make("mitigated", inv, subject, message, res, path, mitigated_by=[_credit_dict(c) for c in by], **kw)


def _credit_dict(c) -> dict:
    return c.as_dict() if hasattr(c, "as_dict") else dict(c)


def verdict(ok: bool, inv, subject: str, ok_message: str, fail_message: str, res: Resource | None = None,
            path: Iterable = (), **kw) -> Result:
    return _make("pass" if ok else "fail", inv, subject, ok_message if ok else fail_message, res, path, **kw)
