"""Check examples with exact expectations: checks/examples/<check-id>/<case>.yaml or <case>/, each with
<case>.expected.yaml beside it listing every finding of the check (subject and status), no more, no
fewer (order-free):

    findings:
      - {subject: "Deployment demo/worker", status: fail}
      - {subject: "Deployment demo/api", status: pass}

To start the expectation of a new case from what the check says today (then read it, and correct
it where the check is wrong):

    .venv/bin/python -m tests.support.examples CHECK_ID [CASE]   # writes missing .expected.yaml files
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path

import yaml

import checks

EXAMPLES = Path(checks.__file__).parent / "examples"
SUFFIX = ".expected.yaml"


def cases(check_id: str) -> dict[str, Path]:
    """case name -> its source (a YAML file or a directory), in name order."""
    folder = EXAMPLES / check_id
    if not folder.is_dir():
        return {}
    out = {}
    for p in sorted(folder.iterdir()):
        if p.name.endswith(SUFFIX) or p.name.startswith("."):
            continue
        if p.is_dir():
            out[p.name] = p
        elif p.suffix in (".yaml", ".yml"):
            out[p.stem] = p
    return out


def expectation_path(check_id: str, case: str) -> Path:
    return EXAMPLES / check_id / f"{case}{SUFFIX}"


def expected(check_id: str, case: str) -> Counter:
    data = yaml.safe_load(expectation_path(check_id, case).read_text(encoding="utf-8")) or {}
    return Counter((str(f["subject"]), str(f["status"])) for f in data.get("findings") or [])


def scan_case(check_id: str, src: Path, workdir: Path):
    """The check's result (report model) for the case scanned as a repository."""
    from tests.support.scanning import scan

    repo = workdir / "repo"
    if src.is_dir():
        shutil.copytree(src, repo)
    else:
        repo.mkdir()
        shutil.copy(src, repo / src.name)
    report = scan(repo, only=[check_id], cache_dir=None).report
    return next(c for c in report.checks if c.id == check_id)


def actual(check) -> Counter:
    return Counter((f.subject, f.status) for f in check.findings)


def write_expectation(check_id: str, case: str, check) -> Path:
    path = expectation_path(check_id, case)
    rows = sorted(actual(check).elements(), key=lambda sf: (sf[1] != "fail", sf[1], sf[0]))
    lines = ["# what this case must give, exactly (order-free): every finding of the check, no more, no fewer",
             "findings:" + ("" if rows else " []")]
    lines += [f"  - {{subject: {_quoted(s)}, status: {st}}}" for s, st in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _quoted(text: str) -> str:
    return yaml.safe_dump(text, default_style='"', width=10_000).strip()


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    check_id, only = argv[0], argv[1:]
    for case, src in cases(check_id).items():
        if only and case not in only:
            continue
        if expectation_path(check_id, case).exists():
            continue
        with tempfile.TemporaryDirectory() as tmp:
            print("wrote", write_expectation(check_id, case, scan_case(check_id, src, Path(tmp))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
