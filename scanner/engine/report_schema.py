"""The JSON schema of the report, generated from the model (scanner.engine.report_model).

    python -m scanner.engine.report_schema          # rewrite reports/schema/report.schema.json
    python -m scanner.engine.report_schema --check  # exit 1 when the committed file differs

A test runs the check: the schema is never edited by hand."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from scanner.engine.report_model import Report

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "reports" / "schema" / "report.schema.json"
SCHEMA_ID = "https://gitops-posture.dev/schema/report-1.0.json"
DESCRIPTION = ("The result of one posture scan. Every output format renders from this model. schema_version "
               "follows semver: a new optional field is a minor change. Generated from "
               "scanner/engine/report_model.py; do not edit by hand.")


def schema() -> dict:
    # Serialization mode: what the JSON report holds (every field present, defaults included).
    body = Report.model_json_schema(by_alias=True, mode="serialization")
    body.pop("description", None)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "description": DESCRIPTION, **body}


def text() -> str:
    return json.dumps(schema(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if "--check" in argv:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text():
            print(f"{SCHEMA_PATH} is out of date: run python -m scanner.engine.report_schema", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
