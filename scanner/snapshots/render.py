"""A diff (from diff.diff_reports) as text for terminals, JSON for tools, Markdown for PR comments."""
from __future__ import annotations

import json

MD_LIMIT = 60_000  # GitHub comments and job summaries stop at 65,536 characters
MD_ROWS = 100  # per section; the rest is counted, not listed


def _num(v) -> str:
    return "-" if v is None else f"{v:.1f}" if isinstance(v, float) else str(v)


def _signed(v) -> str:
    return "" if v is None else f"{v:+.1f}"


def _side(side: dict) -> str:
    when = side.get("started_at") or "unknown time"
    return f"{side.get('label') or 'report'} ({when})"


def _where(i: dict) -> str:
    return f"  ({i['location']})" if i.get("location") else ""


def _message(i: dict, subject: str) -> str:
    """The finding's message without its subject when it repeats it (the subject heads the group)."""
    msg = (i.get("message") or "").strip()
    for prefix in (subject, subject.split(" ", 1)[-1]):
        if prefix and msg.startswith(prefix + ":"):
            msg = msg[len(prefix) + 1:].lstrip()
            break
    return msg


def _grouped(items: list[dict], fmt) -> list[str]:
    """Items grouped under their subject, each subject printed once (in first-seen order)."""
    groups: dict[str, list[dict]] = {}
    for i in items:
        groups.setdefault(i.get("subject") or i.get("resource") or "(repository)", []).append(i)
    out = []
    for subject, members in groups.items():
        out.append(f"  {subject}")
        out += [f"    {fmt(i, subject)}" for i in members]
    return out


def text(d: dict) -> str:
    s = d["score"]
    out = [f"posture diff: {_side(d['old'])} -> {_side(d['new'])}",
           f"Overall  {_num(s['overall']['old'])} ({s['grade']['old'] or '-'}) -> "
           f"{_num(s['overall']['new'])} ({s['grade']['new'] or '-'})  {_signed(s['overall']['delta'])}"]
    for name, v in s["layers"].items():
        out.append(f"  {name:<15} {_num(v['old']):>6} -> {_num(v['new']):>6}  {_signed(v['delta'])}".rstrip())

    def line(i: dict, subject: str, tag: str, tail: str = "") -> str:
        msg = _message(i, subject)
        return f"[{tag}] {i['check']}" + (f": {msg}" if msg else "") + _where(i) + tail

    sections = (
        ("New findings", d["new_findings"], lambda i, subj: line(i, subj, i["severity"])),
        ("Resolved findings", d["resolved_findings"], lambda i, subj: line(i, subj, i["severity"], f"  (now {i['now']})")),
        ("Severity changed", d["severity_changed"],
         lambda i, subj: line(i, subj, f"{i['old_severity']} -> {i['new_severity']}")),
    )
    for title, items, fmt in sections:
        out.append(f"{title} ({len(items)}):")
        out += _grouped(items, fmt) or ["  none"]
    if d["checks_added"] or d["checks_removed"]:
        out.append(f"Checks added: {', '.join(d['checks_added']) or 'none'}; "
                   f"removed: {', '.join(d['checks_removed']) or 'none'}")
    return "\n".join(out) + "\n"


def as_json(d: dict) -> str:
    return json.dumps(d, indent=2, ensure_ascii=False) + "\n"


def _md_cell(v) -> str:
    return str(v or "").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def markdown(d: dict) -> str:
    s = d["score"]
    out = [f"### Posture diff: {_md_cell(d['old'].get('label') or 'old')} → {_md_cell(d['new'].get('label') or 'new')}",
           "", "| | Old | New | Δ |", "|---|---:|---:|---:|",
           f"| **Overall** | {_num(s['overall']['old'])} ({s['grade']['old'] or '-'}) | "
           f"{_num(s['overall']['new'])} ({s['grade']['new'] or '-'}) | {_signed(s['overall']['delta'])} |"]
    out += [f"| {name} | {_num(v['old'])} | {_num(v['new'])} | {_signed(v['delta'])} |"
            for name, v in s["layers"].items()]
    sm = d["summary"]
    out += ["", f"**{sm['new']} new**, **{sm['resolved']} resolved**, "
                f"{sm['severity_changed']} re-rated, {sm['unchanged']} unchanged."]
    sections = (
        ("New findings", d["new_findings"], lambda i: i["severity"]),
        ("Resolved findings", d["resolved_findings"], lambda i: i["severity"]),
        ("Severity changed", d["severity_changed"], lambda i: f"{i['old_severity']} → {i['new_severity']}"),
    )
    size = sum(len(line) + 1 for line in out)
    for title, items, sev in sections:
        if not items:
            continue
        block = ["", f"#### {title} ({len(items)})", "", "| Severity | Check | Subject | Location |",
                 "|---|---|---|---|"]
        shown = 0
        for i in items[:MD_ROWS]:
            row = (f"| {_md_cell(sev(i))} | `{_md_cell(i['check'])}` | {_md_cell(i.get('subject') or i.get('resource'))}"
                   f" | {_md_cell(i.get('location'))} |")
            if size + len(row) > MD_LIMIT:
                break
            block.append(row)
            size += len(row) + 1
            shown += 1
        if shown < len(items):
            block.append(f"\n…and {len(items) - shown} more (see the JSON diff).")
        out += block
    return "\n".join(out) + "\n"


FORMATS = {"text": text, "json": as_json, "markdown": markdown}
