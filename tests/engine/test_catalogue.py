"""docs/checks.md is the generated catalogue of the registered checks and must not drift from them."""
from __future__ import annotations

from scanner.engine.catalogue import markdown
from scanner.engine.plugins import discover
from tests.support.paths import ROOT

DOC = ROOT / "docs" / "checks.md"


def test_catalogue_is_current():
    specs, _ = discover()
    builtin = [s for s in specs if s.module.startswith("checks.")]
    assert DOC.read_text() == markdown(builtin), "regenerate: posture checks list --markdown > docs/checks.md"


def test_every_check_documents_why_how_and_references():
    specs, _ = discover()
    for s in specs:
        if not s.module.startswith("checks."):
            continue
        assert len(s.rationale) > 60 and len(s.remediation) > 30, s.id
        assert s.references, f"{s.id} has no references"
