"""JSON text exactly as the standard library writes it, made by pydantic's encoder when that is the same.

`dumps(value, indent)` is `json.dumps(value, ensure_ascii=False, indent=indent)` (compact, without
spaces, when `indent` is None). The json module writes indented JSON with its pure-Python encoder;
pydantic-core's Rust encoder writes the same text several times faster. The two differ in only two
ways on JSON data with string keys: a float of magnitude below 1e-4 (json: `1e-05`, pydantic:
`0.00001`, `1e-7`) and a lone surrogate (pydantic refuses it). Pydantic's text is kept only when it
holds neither; otherwise the json module writes the value. Either way the report's bytes do not
depend on which encoder ran (tests/reports/test_jsontext.py compares the two on generated data).
"""
from __future__ import annotations

import json
import re
from typing import Callable

import pydantic_core
from pydantic import BaseModel

# How pydantic writes a float below 1e-4: `0.0000…` or `<digit>e-<digit>` (the literal `e-` first
# keeps the search fast). A string holding the same characters only sends the value to json.
_SCIENTIFIC_NEGATIVE = re.compile(rb"e-(?<=[0-9]e-)[0-9]")


def _exact_bytes(encode: Callable[[], bytes]) -> bytes | None:
    """pydantic's UTF-8 text when it is the json module's text too; None when the json module must write it."""
    try:
        data = encode()
    except pydantic_core.PydanticSerializationError:  # a lone surrogate
        return None
    return None if b"0.0000" in data or _SCIENTIFIC_NEGATIVE.search(data) is not None else data


def _stdlib(value, indent: int | None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent,
                      separators=(",", ": ") if indent is not None else (",", ":"))


def dumps(value, indent: int | None = None) -> str:
    """`json.dumps(value, ensure_ascii=False, indent=indent)` (compact separators when not indented)
    for JSON data whose dict keys are strings."""
    data = _exact_bytes(lambda: pydantic_core.to_json(value, indent=indent))
    return _stdlib(value, indent) if data is None else data.decode("utf-8")


def dumps_model(model: BaseModel, indent: int | None = None) -> str:
    """`dumps(model.model_dump(mode="json", by_alias=True), indent)`, without building the dict."""
    data = dumps_model_utf8(model, indent)
    return data.decode("utf-8") if isinstance(data, bytes) else data


def dumps_model_utf8(model: BaseModel, indent: int | None = None) -> bytes | str:
    """`dumps_model`'s text, as UTF-8 bytes straight from pydantic's encoder when that is the exact
    text (no str copy of a report of tens of megabytes), else as the str the json module wrote."""
    data = _exact_bytes(lambda: model.__pydantic_serializer__.to_json(model, indent=indent, by_alias=True))
    return _stdlib(model.model_dump(mode="json", by_alias=True), indent) if data is None else data
