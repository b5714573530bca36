"""RFC 6902 JSON patches as kustomize applies them (evanphx/json-patch): add, replace and remove on
JSON-pointer paths. Every other operation, and every case the library would fail on (a missing
parent or key, an index out of range, a path into a scalar), raises NotNative."""
from __future__ import annotations

import json
import re

from scanner.inventory.builder.native.model import EMPTY_NULL, FLOW_EMPTY, NotNative, deep_copy
from scanner.inventory.builder.native.reader import MAX_DEPTH, has_line_breaks

_INDEX = re.compile(r"0|[1-9][0-9]*")
_SURROGATE = re.compile("[\ud800-\udfff]")


def strict_json(text: str):
    """A patch text read as JSON, as kustomize reads one starting with `[`. Refused: floats and
    large integers (kustomize writes them otherwise), strings Go reads otherwise (a lone surrogate
    becomes U+FFFD) or kustomize prints so that they read back otherwise (Unicode line breaks, a
    `<<` key: a merge key when read back)."""
    try:
        value = json.loads(text, parse_float=_refuse_number, parse_int=_int_or_refuse,
                           parse_constant=_refuse_number)
    except ValueError:
        raise NotNative("a JSON patch that is not JSON (kustomize refuses it)") from None
    except RecursionError:
        raise NotNative("a JSON patch nests too deep") from None
    stack = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise NotNative(f"a JSON patch nests deeper than {MAX_DEPTH} levels")
        if isinstance(v, dict):
            if "<<" in v:
                raise NotNative("a JSON patch with a `<<` key (a merge key once kustomize prints it)")
            stack.extend((k, depth) for k in v)
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
        elif isinstance(v, str) and (_SURROGATE.search(v) or has_line_breaks(v)):
            raise NotNative("a JSON patch with a string kustomize reads or prints otherwise")
    return value


def _refuse_number(text: str):
    raise NotNative(f"a JSON patch with the number {text!r}, which kustomize writes otherwise")


def _int_or_refuse(text: str) -> int:
    value = int(text)
    if abs(value) >= 2 ** 53:
        _refuse_number(text)
    return value


def check_ops(ops) -> list[dict]:
    if not isinstance(ops, list) or not ops:
        raise NotNative("a JSON patch that is not a list of operations")
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove") \
                or not isinstance(op.get("path"), str) or not op["path"].startswith("/") \
                or not set(op) <= {"op", "path", "value"} or (op["op"] != "remove" and "value" not in op):
            raise NotNative("a JSON patch operation the native builder does not do")
        if _has_empty(op.get("value")):
            raise NotNative("a JSON patch value written empty (read by another YAML reader there)")
    return ops


def _has_empty(value) -> bool:
    stack = [value]
    while stack:
        v = stack.pop()
        if v is EMPTY_NULL or v is FLOW_EMPTY:
            return True
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return False


def apply(doc: dict, ops: list[dict]) -> None:
    for op in ops:
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in op["path"][1:].split("/")]
        parent = doc
        for t in tokens[:-1]:
            parent = _child(parent, t, op["path"])
        last = tokens[-1]
        kind = op["op"]
        if isinstance(parent, dict):
            if kind != "add" and last not in parent:
                raise NotNative(f"JSON patch {kind} of the missing field {op['path']}")
            if kind == "remove":
                del parent[last]
            else:
                parent[last] = deep_copy(op["value"])
        elif isinstance(parent, list):
            if kind == "add" and last == "-":
                parent.append(deep_copy(op["value"]))
                continue
            if not _INDEX.fullmatch(last):
                raise NotNative(f"JSON patch index {last!r} in {op['path']}")
            i = int(last)
            if i > len(parent) or (kind != "add" and i == len(parent)):
                raise NotNative(f"JSON patch index out of range in {op['path']}")
            if kind == "add":
                parent.insert(i, deep_copy(op["value"]))
            elif kind == "replace":
                parent[i] = deep_copy(op["value"])
            else:
                del parent[i]
        else:
            raise NotNative(f"JSON patch path {op['path']} goes into a scalar")


def _child(node, token: str, path: str):
    if isinstance(node, dict):
        if token not in node or node[token] is None or node[token] is EMPTY_NULL:
            raise NotNative(f"JSON patch path {path} does not exist")
        return node[token]
    if isinstance(node, list):
        if not _INDEX.fullmatch(token) or int(token) >= len(node):
            raise NotNative(f"JSON patch path {path} does not exist")
        return node[int(token)]
    raise NotNative(f"JSON patch path {path} goes into a scalar")
