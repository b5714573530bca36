"""The JSON report: the report model itself, versioned by reports/schema/report.schema.json (generated
from scanner/engine/report_model.py).

Small reports are indented for people reading them; from `COMPACT_FROM_FINDINGS` findings on the
report is written on one line without spaces: the same JSON value, about 30% smaller. Either way
it ends with a newline. The text is the json module's (`ensure_ascii=False`), written straight from
the model by pydantic's encoder when that gives the same text (reports.jsontext): a non-UTF-8 file
name kept with surrogateescape does not stop the report; the writer decides how it is encoded.
"""
from __future__ import annotations

import codecs

from reports.interface import RenderOptions
from reports.jsontext import dumps_model, dumps_model_utf8
from scanner.engine.report_model import Report

FILENAME = "posture-report.json"
COMPACT_FROM_FINDINGS = 500


def _indent(report: Report) -> int | None:
    return None if sum(len(c.findings) for c in report.checks) >= COMPACT_FROM_FINDINGS else 2


def render(report: Report, options: RenderOptions | None = None) -> str:
    return dumps_model(report, indent=_indent(report)) + "\n"


def write(report: Report, options: RenderOptions | None, fh) -> None:
    """`render`'s text into `fh`. Into a UTF-8 file the encoder's bytes go to the file's binary buffer
    as they are: on a large repo the text is tens of megabytes, and a str of it (two bytes a character
    once one is not ASCII) and its encoded copy were the scan's peak of memory."""
    data = dumps_model_utf8(report, indent=_indent(report))
    buffer = getattr(fh, "buffer", None)
    if isinstance(data, bytes) and buffer is not None and codecs.lookup(fh.encoding or "ascii").name == "utf-8":
        fh.flush()
        buffer.write(data)
        buffer.write(b"\n")
        return
    fh.write(data.decode("utf-8") if isinstance(data, bytes) else data)
    fh.write("\n")
