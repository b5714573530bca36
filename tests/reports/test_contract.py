"""The report contract: the committed JSON schema is the one generated from the model, it is strict,
and every registered formatter renders a real engine report through the written Protocol."""
from __future__ import annotations

import io
import json
from pathlib import Path

import jsonschema
import pydantic
import pytest

from reports.interface import Formatter, RenderOptions, StreamingFormatter
from reports.registry import formatters, load, write_reports
from scanner.engine import report_schema
from scanner.engine.report_model import Report
from tests.support.paths import EXAMPLE
from tests.support.scanning import run_scan


@pytest.fixture(scope="module")
def report() -> Report:
    return run_scan(str(EXAMPLE))


def test_committed_schema_is_generated_from_the_model():
    committed = report_schema.SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed == report_schema.text(), "run: python -m scanner.engine.report_schema"
    assert report_schema.main(["--check"]) == 0


def _objects(node, where="#"):
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            yield where, node
        for k, v in node.items():
            yield from _objects(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _objects(v, f"{where}/{i}")


def test_every_object_of_the_schema_is_closed():
    schema = report_schema.schema()
    objects = list(_objects(schema))
    assert len(objects) >= 20  # one per model class
    open_ = [w for w, o in objects if o.get("additionalProperties") is not False]
    assert open_ == []


def test_real_report_is_valid_and_unknown_fields_are_refused(report):
    data = report.to_json_dict()
    jsonschema.validate(data, report_schema.schema())
    data["checks"][0]["findings"][0]["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, report_schema.schema())
    with pytest.raises(pydantic.ValidationError):
        Report.model_validate(data)


def test_the_model_round_trips_through_json(report):
    assert Report.model_validate(json.loads(json.dumps(report.to_json_dict()))) == report


def test_the_report_is_immutable(report):
    with pytest.raises(pydantic.ValidationError):
        report.checks[0].status = "pass"


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_and_infinity_never_reach_a_report(report, bad):
    data = report.to_json_dict()
    data["score"]["overall"] = bad
    with pytest.raises(pydantic.ValidationError):
        Report.model_validate(data)


def test_every_registered_formatter_implements_the_protocol_and_renders(report, tmp_path):
    names = sorted(formatters())
    assert {"json", "html", "sarif", "junit", "markdown", "prometheus"} <= set(names)
    options = RenderOptions()
    for name in names:
        fmt = load(name)
        assert isinstance(fmt, Formatter), name
        assert isinstance(fmt.FILENAME, str) and fmt.FILENAME.startswith("posture-report."), name
        text = fmt.render(report, options)
        assert isinstance(text, str) and text.strip(), name
        if isinstance(fmt, StreamingFormatter):
            buf = io.StringIO()
            fmt.write(report, options, buf)
            assert buf.getvalue() == text, name  # streaming writes the same page
    written = write_reports(report, names, str(tmp_path))
    assert sorted(Path(p).name for p in written) == sorted(load(n).FILENAME for n in names)


def test_a_formatter_without_the_contract_is_refused(monkeypatch):
    import reports.registry as registry

    class _EP:
        name, value = "broken", "x:y"

        def load(self):
            return object()  # no FILENAME, no render

    monkeypatch.setattr(registry, "formatters", lambda: {"broken": _EP()})
    with pytest.raises(TypeError, match="Formatter"):
        registry.load("broken")


def test_json_formatter_writes_the_model(report):
    assert json.loads(load("json").render(report, RenderOptions())) == report.to_json_dict()
