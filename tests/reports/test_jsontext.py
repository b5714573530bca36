"""reports.jsontext writes the json module's text, byte for byte, whichever encoder made it."""
from __future__ import annotations

import io
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from reports import json_report, jsontext, sarif
from scanner.engine.report_model import Report
from tests.support.reports import as_model, make_report

# Every character, lone surrogates and controls included; floats of every magnitude, NaN and infinities.
_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text())
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=30)


def _stdlib(value, indent):
    return json.dumps(value, ensure_ascii=False, indent=indent,
                      separators=(",", ": ") if indent is not None else (",", ":"))


@settings(max_examples=400, deadline=None)
@given(_values, st.sampled_from([None, 2]))
def test_same_text_as_the_json_module(value, indent):
    assert jsontext.dumps(value, indent) == _stdlib(value, indent)


def test_the_two_cases_where_pydantic_differs_are_written_by_the_json_module():
    for value in ({"score": 1e-05}, [9.053369793805179e-07], {"name": "bad\udcffname"}, {"x": -4.5e-05}):
        for indent in (None, 2):
            assert jsontext.dumps(value, indent) == _stdlib(value, indent)


def _with_small_floats(report: dict) -> dict:
    """Floats pydantic's encoder writes otherwise than the json module: the json module's text is kept."""
    report = json.loads(json.dumps(report))
    finding = report["checks"][0]["findings"][0]
    finding["evidence"] = {"ratio": 1e-07, "tiny": 4.5e-05, "nan": float("nan"), "big": 1e300}
    report["scan"]["duration_s"] = 2e-05
    return report


def _with_small_floats_and_a_surrogate(report: dict) -> dict:
    report = _with_small_floats(report)
    report["errors"].append({"code": "read-failed", "path": "a.yaml", "message": "bad\udcffname", "kind": "input"})
    return report


def test_the_json_report_is_the_json_module_dump_of_the_model():
    for data in (make_report(40), make_report(600), _with_small_floats_and_a_surrogate(make_report(40)),
                 _with_small_floats_and_a_surrogate(make_report(600))):
        report = as_model(data)
        compact = sum(len(c.findings) for c in report.checks) >= json_report.COMPACT_FROM_FINDINGS
        expected = _stdlib(report.to_json_dict(), None if compact else 2) + "\n"
        assert json_report.render(report) == expected
        streamed = io.StringIO()
        json_report.write(report, None, streamed)  # a text stream without a binary buffer
        assert streamed.getvalue() == expected


def test_the_json_report_written_into_a_file_is_its_text_in_utf8(tmp_path):
    # `posture scan` writes into a UTF-8 text file: the encoder's bytes go to its binary buffer.
    for i, data in enumerate((make_report(40), make_report(600), _with_small_floats(make_report(600)))):
        report = as_model(data)
        path = tmp_path / f"r{i}.json"
        with open(path, "w", encoding="utf-8") as fh:
            json_report.write(report, None, fh)
        assert path.read_bytes() == json_report.render(report).encode("utf-8")
    with open(tmp_path / "latin.json", "w", encoding="latin-1", errors="replace") as fh:
        json_report.write(as_model(make_report(40)), None, fh)  # not UTF-8: written as text, as render's
    assert (tmp_path / "latin.json").read_text(encoding="latin-1") == \
        json_report.render(as_model(make_report(40))).encode("latin-1", "replace").decode("latin-1")


def test_sarif_is_the_json_module_dump_of_its_log():
    for data in (make_report(300), _with_small_floats_and_a_surrogate(make_report(30))):
        report = as_model(data)
        assert sarif.render(report) == _stdlib(sarif.build(report), 2) + "\n"


def test_models_too():
    report = Report.model_validate(_with_small_floats_and_a_surrogate(make_report(5)))
    assert jsontext.dumps_model(report, 2) == _stdlib(report.to_json_dict(), 2)
    report = as_model(make_report(5))
    assert jsontext.dumps_model(report) == _stdlib(report.to_json_dict(), None)
