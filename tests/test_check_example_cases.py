"""Named example cases give exactly the findings they expect.

A case is `checks/examples/<check-id>/<case>.yaml` (one file scanned as a repo) or `<case>/` (a small
repo) with `<case>.expected.yaml` beside it listing every finding of the check, subject and status,
order-free: a missing, extra or differently judged subject fails the case. The case is scanned with
only its check, as a repository of its own (a `posture.yaml` inside it applies)."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml

import checks
from scanner.engine.pipeline import scan

EXAMPLES = Path(checks.__file__).parent / "examples"
SUFFIX = ".expected.yaml"


def _cases() -> list[tuple[str, Path, Path]]:
    out = []
    for expected in sorted(EXAMPLES.glob(f"*/*{SUFFIX}")):
        check_id = expected.parent.name
        stem = expected.name[: -len(SUFFIX)]
        for cand in (expected.parent / f"{stem}.yaml", expected.parent / stem):
            if cand.exists():
                out.append((check_id, cand, expected))
                break
        else:
            out.append((check_id, expected.parent / stem, expected))  # reported as missing by the test
    return out


CASES = _cases()


def test_cases_are_found():
    assert len(CASES) >= 60, f"only {len(CASES)} example cases with expectations"


@pytest.mark.parametrize("check_id,src,expected", CASES, ids=lambda v: v if isinstance(v, str) else v.name)
def test_example_case(check_id, src, expected, tmp_path):
    assert src.exists(), f"{expected.name} has no case {src.name}(.yaml)"
    want = Counter((str(f["subject"]), str(f["status"])) for f in yaml.safe_load(expected.read_text())["findings"] or [])
    repo = tmp_path / "repo"
    if src.is_dir():
        shutil.copytree(src, repo)
    else:
        repo.mkdir()
        shutil.copy(src, repo / src.name)
    report = scan(str(repo), only=[check_id]).report
    check = next(c for c in report["checks"] if c["id"] == check_id)
    assert check["error"] is None, check["error"]
    got = Counter((f["subject"], f["status"]) for f in check["findings"])
    assert got == want, (f"{check_id} {src.name}: missing {sorted((want - got).elements())}, "
                         f"unexpected {sorted((got - want).elements())}")
    for f in check["findings"]:
        if f["status"] in ("fail", "warn"):
            assert f["location"] and f["location"]["path"], f"{f['subject']}: a finding names its file"
