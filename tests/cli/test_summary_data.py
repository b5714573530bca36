"""The terminal summary reads a slim dump of the report (scanner.cli.terminal.summary_data): every
field it and Fix first read must be there, with the values the full JSON report has."""
from __future__ import annotations

from reports.fixfirst import fix_first
from scanner.cli.terminal import summary_data
from scanner.engine.report_model import Report
from tests.support.reports import make_report


def _items(report: dict) -> list[tuple]:
    return [(i.key, i.severity, round(i.gain, 9), [(f["subject"], f["location"], f["status"]) for f in i.findings])
            for i in fix_first(report, limit=100)]


def test_fix_first_ranks_the_slim_dump_as_it_ranks_the_full_report():
    model = Report.model_validate(make_report(200))
    full, slim = model.to_json_dict(), summary_data(model)
    assert _items(slim) == _items(full) and len(_items(full)) > 5
    for key in ("score", "gate", "errors", "scan", "coverage"):
        assert slim.get(key) == full.get(key)
    for c_slim, c_full in zip(slim["checks"], full["checks"], strict=True):
        assert {k: c_full[k] for k in c_slim if k not in ("findings", "subjects")} == \
            {k: v for k, v in c_slim.items() if k not in ("findings", "subjects")}
        assert c_slim["subjects"]["total"] == c_full["subjects"]["total"]
        for f_slim, f_full in zip(c_slim["findings"], c_full["findings"], strict=True):
            assert f_slim == {k: f_full[k] for k in f_slim}
