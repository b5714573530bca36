"""`posture waive`: add a waiver for one finding to posture.yaml, keeping the file's comments and
layout (ruamel.yaml's round-trip mode: a hand-kept config must not be reformatted by a tool)."""
from __future__ import annotations

import datetime as dt
import io
import json
import os

from reports.registry import atomic_write
from reports.waivers import waiver_resource

MIN_ID = 8  # a finding id may be shortened, like a git commit, while it stays unambiguous


class WaiveError(Exception):
    """The waiver cannot be written: the message says what to fix."""


def find_finding(report: dict, finding_id: str) -> tuple[dict, dict]:
    """(check, finding) whose fingerprint is `finding_id` (or starts with it, when unambiguous)."""
    want = finding_id.strip().lower()
    if len(want) < MIN_ID:
        raise WaiveError(f"finding id {finding_id!r} is too short: give at least {MIN_ID} characters")
    hits = [(c, f) for c in report.get("checks") or [] for f in c.get("findings") or []
            if str(f.get("fingerprint") or "").lower().startswith(want)]
    exact = [(c, f) for c, f in hits if str(f.get("fingerprint")).lower() == want]
    hits = exact or hits
    if not hits:
        raise WaiveError(f"no finding {finding_id!r} in the report (ids are the `fingerprint` of each finding)")
    if len({f.get("fingerprint") for _, f in hits}) > 1:
        raise WaiveError(f"finding id {finding_id!r} is ambiguous ({len(hits)} findings): give more characters")
    return hits[0]


def _expiry(value: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise WaiveError(f"--expires must be a date like 2027-01-31, got {value!r}") from None
    if day < dt.date.today():
        raise WaiveError(f"--expires {value} is in the past: an expired waiver does not apply")
    return day


def _indents(text: str) -> tuple[int, int, int]:
    """(mapping indent, sequence indent, dash offset) as the file already uses them, so that the
    rewrite changes only the new entry (ruamel applies one setting to the whole file)."""
    mapping, offset = 2, 2
    lines = [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    for prev, line in zip(lines, lines[1:]):
        if not prev.startswith((" ", "-")) and prev.rstrip().endswith(":"):
            pad = len(line) - len(line.lstrip(" "))
            if line.lstrip().startswith("- "):
                offset = pad
            elif pad:
                mapping = pad
    return mapping, offset + 2, offset


def _yaml():
    from ruamel.yaml import YAML

    y = YAML()  # round-trip: comments, key order, quoting and flow style survive
    y.preserve_quotes = True
    y.width = 4096
    return y


def add_waiver(config_path: str, report_path: str, finding_id: str, *, reason: str, expires: str,
               owner: str | None = None) -> dict:
    """Append the waiver to `config_path` (created if missing); the entry written."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.error import YAMLError

    try:
        with open(report_path, encoding="utf-8") as fh:
            report = json.load(fh)
    except OSError as exc:
        raise WaiveError(f"cannot read the report {report_path}: {exc.strerror or exc}; run `posture scan` first "
                         "or give --report") from None
    except ValueError as exc:
        raise WaiveError(f"{report_path} is not a JSON report: {exc}") from None
    if not reason.strip():
        raise WaiveError("--reason must say why the risk is accepted")
    check, finding = find_finding(report, finding_id)
    if finding.get("status") not in ("fail", "warn"):
        raise WaiveError(f"finding {finding_id} is {finding.get('status')}: only failing or warning findings are waived")
    entry = {"check": check.get("id"), "resource": waiver_resource(finding), "reason": reason.strip(),
             "expires": _expiry(expires)}  # a date: written unquoted, read back as a date

    y = _yaml()
    text = ""
    if os.path.exists(config_path):
        try:
            with open(config_path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise WaiveError(f"cannot read {config_path}: {exc.strerror or exc}") from None
    mapping, sequence, offset = _indents(text)
    y.indent(mapping=mapping, sequence=sequence, offset=offset)
    try:
        data = y.load(text) if text.strip() else None
    except YAMLError as exc:
        raise WaiveError(f"{config_path} is not valid YAML: {exc}") from None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, dict):
        raise WaiveError(f"{config_path}: the top level must be a mapping")
    waivers = data.get("waivers")
    if waivers is None:
        waivers = data["waivers"] = CommentedSeq()
    if not isinstance(waivers, list):
        raise WaiveError(f"{config_path}: waivers must be a list")
    if any(isinstance(w, dict) and w.get("check") == entry["check"] and w.get("resource") == entry["resource"]
           for w in waivers):
        raise WaiveError(f"{config_path} already waives {entry['check']} on {entry['resource']}")
    item = CommentedMap(entry)
    if owner:
        item["owner"] = owner
    waivers.append(item)
    _validate(data, config_path, item)
    buf = io.StringIO()
    y.dump(data, buf)
    atomic_write(config_path, buf.getvalue())
    return {**item, "expires": entry["expires"].isoformat()}


def _validate(data, config_path: str, item) -> None:
    """The file must still load as a configuration: a waiver the scan then rejects helps nobody.
    An `owner` the configuration does not know yet is kept as a comment on the entry instead."""
    from scanner.engine.config import ConfigError, parse

    plain = json.loads(json.dumps(data, default=str))  # dates as ISO strings, which the config reads too
    try:
        parse(plain, config_path)
    except ConfigError as exc:
        if "owner" in item and "owner" in str(exc):
            owner = item.pop("owner")
            item.yaml_add_eol_comment(f"owner: {owner}", "expires")
            return _validate(data, config_path, item)
        raise WaiveError(f"the waiver would make {config_path} invalid: {exc}") from None
