"""kustomize's strategic merge of a patch into an object, for objects without an OpenAPI schema.

kyaml's merge2 walks the whole object, not only the patched fields. Read off kustomize v5.8.1 and
its sources (kyaml walk, merge2; lists are never inferred associative without a schema):
  - a field only in the object: a mapping is walked in turn, a list or scalar is kept, and a value
    written empty (`key:`, or `{key: }`) is dropped, where an explicit `null` is kept;
  - a field the patch sets to null (`null`, `~` or empty) is removed, and never added;
  - a mapping in the patch merges into the object's mapping (or is added where the object has none
    or null, with the nulls inside it dropped);
  - a list or scalar in the patch replaces the object's value as written.
A patch that changes the type of a value, or holds `$patch`-style directives, raises NotNative.
"""
from __future__ import annotations

from scanner.inventory.builder.native.model import EMPTY_NULL, FLOW_EMPTY, NotNative, deep_copy

_MISSING = object()
_CLEAR = object()


def merge(dest: dict, patch: dict) -> dict:
    return _map(dest, patch)


def _map(dest: dict, origin: dict | None) -> dict:
    out = {}
    for key, d in dest.items():
        v = _walk(d, origin.get(key, _MISSING) if origin is not None else _MISSING)
        if v is not _CLEAR:
            out[key] = v
    if origin is not None:
        for key, o in origin.items():
            if key not in dest:
                v = _walk(_MISSING, o)
                if v is not _CLEAR:
                    out[key] = v
    return out


def _walk(d, o):
    if o is _MISSING:
        if d is EMPTY_NULL or d is FLOW_EMPTY:
            return _CLEAR
        return _map(d, None) if isinstance(d, dict) else d
    if o is None or o is EMPTY_NULL or o is FLOW_EMPTY:
        return _CLEAR
    absent = d is _MISSING or d is None or d is EMPTY_NULL or d is FLOW_EMPTY
    if isinstance(o, dict):
        if absent:
            return _added(o)
        if isinstance(d, dict):
            return _map(d, o)
        raise NotNative("a strategic merge patch puts a mapping where the object has another type")
    if isinstance(o, list):
        if absent or isinstance(d, list):
            return deep_copy(o)  # one patch goes to many objects: none may share its lists
        raise NotNative("a strategic merge patch puts a list where the object has another type")
    if isinstance(d, (dict, list)):
        raise NotNative("a strategic merge patch puts a scalar where the object has a collection")
    return o


def _added(o: dict) -> dict:
    return {k: (_added(v) if isinstance(v, dict) else deep_copy(v)) for k, v in o.items()
            if v is not None and v is not EMPTY_NULL and v is not FLOW_EMPTY}


def has_directives(value) -> bool:
    """A `$patch`, `$setElementOrder/...`, `$retainKeys` or other `$` key anywhere."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if any(isinstance(k, str) and k.startswith("$") for k in v):
                return True
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def has_lists(value) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            return True
    return False
