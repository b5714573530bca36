"""Markdown summary for a pull-request comment: score, gate, per-layer table, top findings, and the
scan read as the Flux security checklist (folded; `checklist: false` in the options leaves it out).

GitHub refuses comments over 65,536 characters, so the output is built against a budget and
always ends well under 65,000 characters, whatever the scan size, with a note saying what was
left out. Manifest text is neutralised: no HTML, no table breaks, no @mentions that would ping.
"""
from __future__ import annotations

import re

from reports import checklist
from reports import forge as forge_mod
from reports.html import grade_of

FILENAME = "posture-report.md"

LIMIT = 65_000
BUDGET = 60_000  # headroom for the closing note and the final guard
TOP_FINDINGS = 50
LAYERS = ("perimeter", "segmentation", "nodes", "workloads", "secrets", "authentication", "policy",
          "gitops", "backups", "monitoring")
SEVERITIES = ("critical", "high", "medium", "low", "info")
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


def _header(report: dict) -> list[str]:
    score = report.get("score") or {}
    grade = score.get("grade") or grade_of(score.get("overall"))
    scan = report.get("scan") or {}
    tool = report.get("tool") or {}
    out = [f"## 🛡️ GitOps posture: **{_score(score.get('overall'))}/100 · grade {GRADE_ICON.get(grade, '')} {md(grade or '–', 4)}**", ""]
    gate = report.get("gate") or {}
    if gate.get("evaluated"):
        limits = " · ".join(x for x in (
            f"fail under {gate['fail_under']}" if gate.get("fail_under") is not None else "",
            f"fail on {md(gate['fail_on'], 20)}" if gate.get("fail_on") else "") if x)
        out.append(f"**Gate: {'✅ passed' if gate.get('passed') else '❌ failed'}**" + (f" ({limits})" if limits else ""))
        out += [f"- {md(r, 300)}" for r in (gate.get("reasons") or [])[:20]]
        out.append("")
    src = []
    for s in scan.get("sources") or []:
        where = md(s.get("path") or s.get("context") or s.get("type"), 80)
        src.append(where + (f" @ {code(str(s['commit'])[:12])}" if s.get("commit") else ""))
    meta = [*src, md((scan.get("started_at") or "")[:16].replace("T", " "), 20),
            f"{md(tool.get('name'), 40)} {md(tool.get('version'), 20)}"]
    if isinstance(scan.get("duration_s"), (int, float)):
        meta.append(f"{scan['duration_s']:.1f} s")
    out += ["<sub>" + " · ".join(m for m in meta if m) + "</sub>", ""]
    return out


def _layer_table(report: dict) -> list[str]:
    layers = (report.get("score") or {}).get("layers") or {}
    order = [l for l in LAYERS if l in layers] + [l for l in layers if l not in LAYERS]
    out = ["| Layer | Grade | Score | Failing checks | " + " | ".join(f"{SEV_ICON[s]} {s}" for s in SEVERITIES[:4]) + " |",
           "|---|:-:|--:|--:|--:|--:|--:|--:|"]
    scored = [(v.get("score"), l) for l, v in layers.items() if isinstance(v.get("score"), (int, float))]
    weakest = min(scored)[1] if scored else None
    for l in order:
        v = layers[l] or {}
        g = v.get("grade") or grade_of(v.get("score"))
        counts = v.get("findings") or {}
        name = f"**{md(l, 40)}** ⬅ weakest" if l == weakest and v.get("score", 100) < 100 else md(l, 40)
        out.append(f"| {name} | {GRADE_ICON.get(g, '')} {md(g or '–', 4)} | {_score(v.get('score'))} | "
                   f"{v.get('failed_checks', 0)}/{v.get('checks', 0)} | "
                   + " | ".join(str(counts.get(s, 0)) for s in SEVERITIES[:4]) + " |")
    return out + [""]


def _open_findings(report: dict) -> list[tuple[dict, dict]]:
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    items = [(f, c) for c in report.get("checks") or [] for f in c.get("findings") or []
             if f.get("status") in ("fail", "warn")]
    items.sort(key=lambda fc: (rank.get(fc[0].get("severity") or fc[1].get("severity"), 9),
                               fc[0].get("status") != "fail", fc[1].get("id") or "", fc[0].get("subject") or ""))
    return items


MITIGATED_LISTED = 10


def _mitigated(report: dict) -> list[str]:
    """How many findings pass only because another layer enforces them, and the score without them."""
    items = [(f, c) for c in report.get("checks") or [] for f in c.get("findings") or [] if f.get("status") == "mitigated"]
    if not items:
        return []
    bare = (report.get("score") or {}).get("without_mitigations") or {}
    out = [f"### Mitigated by another layer ({len(items)})", "",
           f"These subjects fail in their manifests but pass because the cluster enforces the control; without "
           f"those layers the score would be **{_score(bare.get('overall'))}/100 (grade {md(bare.get('grade') or '–', 4)})**.",
           "", "| Check | Subject | Mitigated by |", "|---|---|---|"]
    by_layer: dict[tuple, list] = {}
    for f, c in items:
        by = f.get("mitigated_by") or [{}]
        by_layer.setdefault((c.get("id"), by[0].get("layer"), by[0].get("detail")), []).append(f)
    for (cid, layer, detail), fs in sorted(by_layer.items(), key=lambda kv: -len(kv[1]))[:MITIGATED_LISTED]:
        subj = md(fs[0].get("subject"), 80) + (f" and {len(fs) - 1} more" if len(fs) > 1 else "")
        out.append(f"| {code(cid, 60)} | {subj} | {md(layer, 20)}: {md(detail, 160)} |")
    return out + [""]


def _checklist_section(report: dict, forge) -> list[str]:
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


def render(report: dict, options: dict | None = None) -> str:
    options = options or {}
    forge = forge_mod.from_report(report, options.get("web_url"))
    lines = _header(report) + _layer_table(report)
    # The checklist view (unless `checklist: false`) is placed after the findings but budgeted first,
    # so a huge scan shortens its findings table rather than losing the checklist.
    tail_section = (_checklist_section(report, forge)
                    if options.get("checklist", True) and checklist.covered(report) else [])
    items = _open_findings(report)
    top = int(options.get("max_findings") or TOP_FINDINGS)
    size = sum(len(x) + 1 for x in lines) + sum(len(x) + 1 for x in tail_section)
    shown = 0
    body = []
    if items:
        body += ["| Severity | Check | Subject | Location | Finding |", "|---|---|---|---|---|"]
        size += sum(len(x) + 1 for x in body)
        for f, c in items[:top]:
            sev = f.get("severity") or c.get("severity") or "info"
            loc = f.get("location") or {}
            where = md(f"{loc.get('path')}:{loc['line']}" if loc.get("line") else loc.get("path") or "", 90)
            href = forge.file_url(loc.get("path"), loc.get("line")) if forge else None
            if href and where:
                where = f"[{where}]({href.replace(')', '%29').replace(' ', '%20')})"
            warn = " (warn)" if f.get("status") == "warn" else ""
            row = (f"| {SEV_ICON.get(sev, '')} {md(sev, 10)}{warn} | {code(c.get('id'), 60)} | "
                   f"{md(f.get('subject'), 80)} | {where} | {md(f.get('message'), 220)} |")
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
    waivers = report.get("waivers") or []
    expired = [w for w in waivers if w.get("expired")]
    errors = report.get("errors") or []
    tail = []
    if waivers:
        tail.append(f"Waivers: {len(waivers)} ({len(expired)} expired)")
    if errors:
        tail.append(f"scan errors: {len(errors)}")
    if tail:
        lines.append("<sub>" + " · ".join(tail) + "</sub>")
    text = "\n".join(lines) + "\n"
    if len(text) >= LIMIT:  # cannot happen with the budget above; a hard guarantee all the same
        text = text[: BUDGET] + "\n\n> ℹ️ Summary truncated to fit a pull-request comment.\n"
    return text
