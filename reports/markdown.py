"""Markdown summary for a pull-request comment: score, gate, per-layer table, top findings, and the
scan read as the Flux security checklist (folded; RenderOptions(checklist=False) leaves it out).

GitHub refuses comments over 65,536 characters, so the output is built against a budget and
always ends well under 65,000 characters, whatever the scan size, with a note saying what was
left out. Manifest text is neutralised: no HTML, no table breaks, no @mentions that would ping.
"""
from __future__ import annotations

import re
from collections import Counter

from reports import checklist
from reports import forge as forge_mod
from reports.interface import RenderOptions
from scanner.core.model import LAYERS, SEVERITIES
from scanner.engine.report_model import CheckResult, Finding, Report

FILENAME = "posture-report.md"

LIMIT = 65_000
BUDGET = 60_000  # headroom for the closing note and the final guard
TOP_FINDINGS = 50
SEV_ICON = {"critical": "🟥", "high": "🔴", "medium": "🟠", "low": "🔵", "info": "⚪"}
GRADE_ICON = {"A": "🟢", "B": "🟢", "C": "🟡", "D": "🟠", "F": "🔴"}
VERDICT_ICON = {"fail": "❌ fail", "warn": "⚠️ warn", "error": "💥 error", "pass": "✅ pass",
                "not_applicable": "➖ n/a", "not_run": "⏭️ not run"}
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_WS = re.compile(r"\s+")


def md(value: object, limit: int = 200) -> str:
    """One line of inert Markdown: collapsed, shortened, HTML and Markdown syntax escaped."""
    s = _WS.sub(" ", "" if value is None else str(value)).strip()
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("@", "&#64;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def code(value: object, limit: int = 80) -> str:
    """Inline code: literal inside backticks, so only backticks and table pipes need care."""
    s = _WS.sub(" ", "" if value is None else str(value)).strip()[:limit].replace("`", "'")
    return "`" + s.replace("|", "\\|") + "`" if s else ""


def _score(v: object) -> str:
    return f"{v:.0f}" if isinstance(v, (int, float)) else "–"


def _header(report: Report) -> list[str]:
    score, scan, tool, gate = report.score, report.scan, report.tool, report.gate
    out = [f"## 🛡️ GitOps posture: **{_score(score.overall)}/100 · grade {GRADE_ICON.get(score.grade, '')} "
           f"{md(score.grade or '–', 4)}**", ""]
    if gate.evaluated:
        limits = " · ".join(x for x in (
            f"fail under {gate.fail_under}" if gate.fail_under is not None else "",
            f"fail on {md(gate.fail_on, 20)}" if gate.fail_on else "") if x)
        out.append(f"**Gate: {'✅ passed' if gate.passed else '❌ failed'}**" + (f" ({limits})" if limits else ""))
        out += [f"- {md(r, 300)}" for r in gate.reasons[:20]]
        out.append("")
    src = []
    for s in scan.sources:
        where = md(s.path or s.context or s.type, 80)
        src.append(where + (f" @ {code(str(s.commit)[:12])}" if s.commit else ""))
    meta = [*src, md((scan.started_at or "")[:16].replace("T", " "), 20), f"{md(tool.name, 40)} {md(tool.version, 20)}",
            f"{scan.duration_s:.1f} s"]
    out += ["<sub>" + " · ".join(m for m in meta if m) + "</sub>", ""]
    return out


def _layer_table(report: Report) -> list[str]:
    layers = report.score.layers
    order = [l for l in LAYERS if l in layers]
    out = ["| Layer | Grade | Score | Failing checks | " + " | ".join(f"{SEV_ICON[s]} {s}" for s in SEVERITIES[:4]) + " |",
           "|---|:-:|--:|--:|--:|--:|--:|--:|"]
    scored = [(v.score, l) for l, v in layers.items() if v.score is not None]
    weakest = min(scored)[1] if scored else None
    for l in order:
        v = layers[l]
        name = f"**{md(l, 40)}** ⬅ weakest" if l == weakest and (v.score or 0) < 100 else md(l, 40)
        out.append(f"| {name} | {GRADE_ICON.get(v.grade, '')} {md(v.grade or '–', 4)} | {_score(v.score)} | "
                   f"{v.failed_checks}/{v.checks} | "
                   + " | ".join(str(v.findings.get(s, 0)) for s in SEVERITIES[:4]) + " |")
    return out + [""]


def _open_findings(report: Report) -> list[tuple[CheckResult, Finding]]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    items = list(report.findings("fail", "warn"))
    items.sort(key=lambda cf: (rank.get(cf[1].severity, 9), cf[1].status != "fail", cf[0].id, cf[1].subject))
    return items


MITIGATED_LISTED = 10


def _mitigated(report: Report) -> list[str]:
    """How many findings pass only because another layer enforces them, and the score without them."""
    items = list(report.findings("mitigated"))
    bare = report.score.without_mitigations
    if not items or bare is None:
        return []
    out = [f"### Mitigated by another layer ({len(items)})", "",
           f"These subjects fail in their manifests but pass because the cluster enforces the control; without "
           f"those layers the score would be **{_score(bare.overall)}/100 (grade {md(bare.grade, 4)})**.",
           "", "| Check | Subject | Mitigated by |", "|---|---|---|"]
    groups: dict[tuple, list] = {}
    for c, f in items:
        first = (f.mitigated_by or [None])[0]
        groups.setdefault((c.id, first.layer if first else None, first.detail if first else None), []).append(f)
    for (cid, layer, detail), fs in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:MITIGATED_LISTED]:
        subj = md(fs[0].subject, 80) + (f" and {len(fs) - 1} more" if len(fs) > 1 else "")
        out.append(f"| {code(cid, 60)} | {subj} | {md(layer, 20)}: {md(detail, 160)} |")
    return out + [""]


def _checklist_section(report: Report, forge) -> list[str]:
    """The scan as the Flux security checklist, folded: item, verdict, checks, first open finding."""
    rows = checklist.checklist_view(report)
    tally = {v: sum(1 for r in rows if r["verdict"] == v) for v in checklist.VERDICT_ORDER}
    summary = " · ".join(f"{n} {VERDICT_ICON[v].split(' ', 1)[1]}" for v, n in tally.items() if n)
    src = checklist.source()
    out = ["<details><summary>Flux security checklist (" + summary + ")</summary>", "",
           f"Each item of the [Flux GitOps security audit checklist]({src['url']}), in its order.", "",
           "| # | Item | Verdict | Checks | Open findings |", "|--:|---|---|---|---|"]
    for n, r in enumerate(rows, 1):
        first = r["findings"][0] if r["findings"] else None
        if first:
            where = f"{first['path']}:{first['line']}" if first.get("line") else (first.get("path") or "")
            href = forge.file_url(first.get("path"), first.get("line")) if forge else None
            cell = md(where, 90)
            if href and where:
                cell = f"[{cell}]({href.replace(')', '%29').replace(' ', '%20')})"
            more = len(r["findings"]) + r["more_findings"] - 1
            detail = f"{cell}: {md(first['message'], 120)}" + (f" (+{more} more)" if more > 0 else "")
        else:
            detail = md(r["reason"], 140) if r["reason"] else ""
        checks = ", ".join(code(c["id"], 50) for c in r["checks"])
        out.append(f"| {n} | {md(r['section'], 40)}: {md(r['title'], 80)} | {VERDICT_ICON.get(r['verdict'], '')} | "
                   f"{checks} | {detail} |")
    return out + ["", "</details>", ""]


def render(report: Report, options: RenderOptions | None = None) -> str:
    options = options or RenderOptions()
    forge = forge_mod.from_report({"scan": report.scan.model_dump()}, options.web_url)
    lines = _header(report) + _layer_table(report)
    items = _open_findings(report)
    top = int(options.max_findings or TOP_FINDINGS)
    # The checklist view (unless RenderOptions(checklist=False)) is placed after the findings but budgeted
    # first, so a huge scan shortens its findings table rather than losing the checklist.
    tail_section = (_checklist_section(report, forge)
                    if options.checklist and checklist.covered(report) else [])
    size = sum(len(x) + 1 for x in lines) + sum(len(x) + 1 for x in tail_section)
    shown = 0
    body = []
    if items:
        body += ["| Severity | Check | Subject | Location | Finding |", "|---|---|---|---|---|"]
        size += sum(len(x) + 1 for x in body)
        for c, f in items[:top]:
            loc = f.location
            where = md(f.where, 90)
            href = forge.file_url(loc.path, loc.line) if forge and loc else None
            if href and where:
                where = f"[{where}]({href.replace(')', '%29').replace(' ', '%20')})"
            warn = " (warn)" if f.status == "warn" else ""
            row = (f"| {SEV_ICON.get(f.severity, '')} {md(f.severity, 10)}{warn} | {code(c.id, 60)} | "
                   f"{md(f.subject, 80)} | {where} | {md(f.message, 220)} |")
            if size + len(row) + 1 > BUDGET:
                break
            body.append(row)
            size += len(row) + 1
            shown += 1
        lines += [f"### Top findings ({shown} of {len(items)} open, by severity)", ""] + body + [""]
        if shown < len(items):
            lines.append(f"> ℹ️ {len(items) - shown} more open findings are not listed here (comment size limit); "
                         "see the HTML or SARIF report for all of them.")
            lines.append("")
    else:
        lines += ["✅ No open findings.", ""]
    lines += _mitigated(report)
    lines += tail_section
    expired = [w for w in report.waivers if w.expired]
    tail = []
    if report.waivers:
        tail.append(f"Waivers: {len(report.waivers)} ({len(expired)} expired)")
    if report.errors:
        codes = Counter(e.code for e in report.errors)
        tail.append(f"scan errors: {len(report.errors)} ("
                    + ", ".join(f"{code(c, 40)}" + (f" ×{n}" if n > 1 else "") for c, n in sorted(codes.items())) + ")")
    if tail:
        lines.append("<sub>" + " · ".join(tail) + "</sub>")
    text = "\n".join(lines) + "\n"
    if len(text) >= LIMIT:  # cannot happen with the budget above; a hard guarantee all the same
        text = text[: BUDGET] + "\n\n> ℹ️ Summary truncated to fit a pull-request comment.\n"
    return text
