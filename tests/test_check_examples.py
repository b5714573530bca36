"""Every check ships an example that passes and one that fails (checks/examples/<id>/pass|fail).

An example is a YAML file (pass.yaml / fail.yaml) or a directory holding a small repo (pass/ fail/).
The test scans each as a repository with only that check and asserts the verdict."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import checks
from tests.support.scanning import scan
from scanner.engine.plugins import discover

EXAMPLES = Path(checks.__file__).parent / "examples"
SPECS, _ = discover()
# Live-only checks judge cluster objects; their pass/fail examples are the fake API server's fixture
# clusters (tests/fakekube, tests/test_live_*.py), not repositories.
BUILTIN = [s for s in SPECS if s.module.startswith("checks.") and s.module != "checks.live"]


def _example(check_id: str, which: str) -> Path | None:
    for cand in (EXAMPLES / check_id / f"{which}.yaml", EXAMPLES / check_id / which):
        if cand.exists():
            return cand
    return None


def _scan_example(src: Path, tmp_path: Path, check_id: str) -> dict:
    repo = tmp_path / "repo"
    if src.is_dir():
        shutil.copytree(src, repo)
    else:
        repo.mkdir()
        shutil.copy(src, repo / src.name)
    report = scan(str(repo), only=[check_id]).report.to_json_dict()
    return next(c for c in report["checks"] if c["id"] == check_id)


def test_every_builtin_check_has_examples():
    missing = [s.id for s in BUILTIN if not (_example(s.id, "pass") and _example(s.id, "fail"))]
    assert not missing, f"checks without pass/fail examples in checks/examples/: {missing}"


@pytest.mark.parametrize("spec", BUILTIN, ids=lambda s: s.id)
def test_example_passes(spec, tmp_path):
    src = _example(spec.id, "pass")
    if src is None:
        pytest.fail(f"no pass example for {spec.id}")
    check = _scan_example(src, tmp_path, spec.id)
    statuses = [f["status"] for f in check["findings"]]
    assert "fail" not in statuses, [f["message"] for f in check["findings"] if f["status"] == "fail"]
    assert "pass" in statuses, f"{spec.id}: pass example produced no passing subject ({check['status']})"


@pytest.mark.parametrize("spec", BUILTIN, ids=lambda s: s.id)
def test_example_fails(spec, tmp_path):
    src = _example(spec.id, "fail")
    if src is None:
        pytest.fail(f"no fail example for {spec.id}")
    check = _scan_example(src, tmp_path, spec.id)
    assert check["status"] == "fail", f"{spec.id}: fail example judged {check['status']}"
    for f in check["findings"]:
        if f["status"] == "fail":
            assert f["location"] or f["resource"], "a finding must name its file/line or object"
            assert f["remediation"], "a finding must say how to fix it"


# ---- named cases (`<case>.yaml` or `<case>/` with `<case>.expected.yaml` beside it) -------------------------

def _cases():
    out = []
    for expected in sorted(EXAMPLES.glob("*/*.expected.yaml")):
        case = expected.name[: -len(".expected.yaml")]
        src = expected.parent / f"{case}.yaml"
        if not src.exists():
            src = expected.parent / case
        out.append(pytest.param(expected.parent.name, src, expected, id=f"{expected.parent.name}/{case}"))
    return out


@pytest.mark.parametrize("check_id,src,expected", _cases())
def test_example_case(check_id, src, expected, tmp_path):
    import yaml

    assert src.exists(), f"{expected} has no case {src.name} beside it"
    want = sorted((f["subject"], f["status"]) for f in yaml.safe_load(expected.read_text())["findings"])
    check = _scan_example(src, tmp_path, check_id)
    got = sorted((f["subject"], f["status"]) for f in check["findings"])
    assert got == want, [f"{f['subject']}: {f['status']}: {f['message']}" for f in check["findings"]]
