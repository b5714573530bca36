"""build_report cleans every string of the report once, and a planted credential reaches no format.

The cleaning walk takes shortcuts (each distinct string cleaned once, each shared dict walked once):
these tests plant credentials where the shortcuts apply (a location shared by many findings, the
same string as value and as key, evidence nested in lists and tuples, a str subclass) and read
every format's text."""
from __future__ import annotations

import io
from enum import Enum

import pytest

from reports import registry
from reports.interface import RenderOptions
from scanner.checkapi.registry import CheckSpec
from scanner.core.model import Location, Result
from scanner.core.redact import clean, clean_tree
from scanner.engine.report_build import build_report
from scanner.engine.runner import CheckOutcome

SECRETS = ["PLANTEDuserinfo0123", "PLANTEDquery4567", "PLANTEDkeyname89", "PLANTEDtuple42", "PLANTEDenum77",
           "PLANTEDmeta55", "PLANTEDerr66", "PLANTEDexposure31", "PLANTEDgraph13"]
URL = f"https://deploy:{SECRETS[0]}@git.example.org/org/app.git"
QUERY = f"https://charts.example.org/index.yaml?access_token={SECRETS[1]}"
FORMATS = ["json", "html", "sarif", "junit", "markdown", "prometheus"]


class Kind(str, Enum):
    LEAK = f"see https://x:{SECRETS[4]}@h.example/"


def _spec(cid: str) -> CheckSpec:
    return CheckSpec(id=cid, title=cid, severity="high", rationale="r", remediation=f"fetch {QUERY}",
                     references=(), func=lambda i, o: [])


def _outcomes() -> list[CheckOutcome]:
    shared = Location(f"apps/{URL}.yaml", 3)  # one location dict for every finding below
    results = []
    for i, status in enumerate(["fail", "warn", "pass", "fail", "mitigated"] * 4):
        results.append(Result(
            status, f"Deployment media/app-{i} {URL}", f"pulls from {QUERY}", location=shared,
            resource={"kind": "Deployment", "namespace": "media", "name": f"app-{i}", "origin": "git"},
            evidence={"url": URL, f"?token={SECRETS[2]}": [QUERY, (f"?sig={SECRETS[3]}", 1)], "same": URL,
                      "kind": Kind.LEAK, "n": 1.5},
            namespace="media",
            mitigated_by=[{"layer": "nodes", "mechanism": "m", "detail": URL, "path": "talos/a.yaml", "line": 2}]
            if status == "mitigated" else None))
    return [CheckOutcome(_spec("workloads.planted"), results),
            CheckOutcome(_spec("secrets.planted"), [Result("fail", URL, QUERY, location=shared)])]


@pytest.fixture(scope="module")
def report():
    meta = {"sources": [{"type": "git", "path": "repo", "web_url": f"https://u:{SECRETS[5]}@github.com/o/r.git"}],
            "started_at": "2025-05-04T10:00:00Z", "duration_s": 1.0, "stats": {}, "phases": {}}
    errors = [{"code": "read-failed", "path": "a.yaml", "line": 1, "message": f"cannot fetch ?password={SECRETS[6]}",
               "kind": "input"}]
    exposure = [{"host": "app.example.org", "kind": "HTTPRoute", "exposure": "external",
                 "backend": f"https://a:{SECRETS[7]}@b.example/"}]
    graph = {"nodes": [{"id": "Kustomization/flux-system/apps", "kind": "Kustomization", "name": "apps",
                        "path": f"x?token={SECRETS[8]}"}], "edges": []}
    return build_report(outcomes=_outcomes(), weights={}, scan_meta=meta, waivers=[], errors=errors,
                        exposure=exposure, flux_graph=graph)


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_planted_value_reaches_a_format(report, fmt):
    buf = io.StringIO()
    registry.write_stream(report, fmt, buf, RenderOptions())
    text = buf.getvalue()
    assert text
    assert [s for s in SECRETS if s in text] == []


def test_every_finding_sharing_the_location_is_clean(report):
    findings = [f for c in report.checks for f in c.findings]
    assert len(findings) == 21
    for f in findings:
        assert f.location.path == "apps/https://REDACTED@git.example.org/org/app.git.yaml"
        assert SECRETS[0] not in f.subject and SECRETS[1] not in f.message
        if f.subject.startswith("Deployment"):
            assert set(f.evidence) == {"url", "?token=REDACTED", "same", "kind", "n"}
    assert report.scan.sources[0].web_url == "https://REDACTED@github.com/o/r.git"


def test_clean_tree_is_clean_applied_to_every_string():
    shared = {f"k?token={SECRETS[2]}": URL}
    tree = {"a": [shared, shared, (QUERY, [URL])], "b": {"c": shared, "d": Kind.LEAK}, URL: QUERY,
            "bad\udcffname": "caf\udce9"}
    out = clean_tree(tree)
    assert out is tree
    assert out["a"][0] is shared and out["a"][1] is shared and out["b"]["c"] is shared
    assert shared == {"k?token=REDACTED": clean(URL)}
    assert out["a"][2] == (clean(QUERY), [clean(URL)])
    assert out["b"]["d"] == clean(Kind.LEAK) and SECRETS[4] not in out["b"]["d"]
    assert out[clean(URL)] == clean(QUERY)
    assert out["bad\\xffname"] == "caf\\xe9"
    assert not [s for s in SECRETS if s in repr(out)]
