"""Self-contained HTML report: a view model built from the report, rendered with jinja2.

Everything the page needs is inline (CSS, JS, SVG) so it opens air-gapped from disk. Manifest
values only ever reach the page through jinja's autoescape (or `e()` for the rows built here); the
one script is static and pinned by a CSP hash, so even a markup injection that slipped past escaping
could not run code.

The view model reads the report through `plain()`: a dict as the JSON report has it. A typed report
model is turned into that dict there, once, so the rest of this module does not change with it.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from reports import forge as forge_mod
from reports import html_graphs as graphs
from reports import svg
from reports.fixfirst import fix_first
from reports.html_graphs import e as _e
from reports.interface import RenderOptions
from reports.waivers import waiver_resource
from scanner.engine.report_model import Report

FILENAME = "posture-report.html"

TEMPLATES = Path(__file__).parent / "templates"
LAYERS = ("perimeter", "segmentation", "nodes", "workloads", "secrets", "authentication", "policy",
          "gitops", "backups", "monitoring")
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEV_RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}  # critical=5 ... info=1
STATUS_RANK = {"fail": 0, "error": 0, "warn": 1, "waived": 2, "mitigated": 3, "pass": 4, "not_applicable": 5}
FINDING_STATUSES = ("fail", "warn", "waived", "mitigated", "pass")
OPEN_STATUSES = ("fail", "warn")
EVIDENCE_CHARS = 240  # evidence is a hint next to the message, not a dump; keeps 5k rows light
WAIVER_DAYS = 90  # the expiry a waiver snippet proposes, counted from the scan date
FIX_SUBJECTS_SHOWN = 8  # subjects of a Fix-first item listed before "N more"
FIX_SUBJECTS_MAX = 60  # past this, the item points to the check's findings instead of listing them


def plain(report) -> dict:
    """The report as the JSON report's dict (a typed model is dumped once, here: the templates and the
    view builders below read plain data). A dict is taken as it is: the review sections that are not
    in the model yet (coverage, clusters, the checklist data) are tested with dicts."""
    return report.to_json_dict() if isinstance(report, Report) else report if isinstance(report, dict) else {}


def _options(options) -> dict:
    """RenderOptions (the formatter contract) as the dict the view builders read."""
    if isinstance(options, RenderOptions):
        return {"history": list(options.history), "web_url": options.web_url}
    return options or {}


def _template_cache(options) -> str | None:
    return options.template_cache_dir if isinstance(options, RenderOptions) else None


def mitigation_text(f: dict) -> str:
    """`mitigated by <layer>: <detail> at <path>:<line>` for a finding dict (Finding.mitigation_text
    says the same for the model)."""
    parts = []
    for c in f.get("mitigated_by") or []:
        where = f" at {c['path']}:{c['line']}" if c.get("path") and c.get("line") else (f" in {c['path']}" if c.get("path") else "")
        parts.append(f"{c.get('layer')}: {c.get('detail')}{where}")
    return "mitigated by " + "; ".join(parts) if parts else "mitigated by another layer"


def grade_of(score: float | None) -> str | None:
    if score is None:
        return None
    for grade, floor in (("A", 90), ("B", 80), ("C", 70), ("D", 60)):
        if score >= floor:
            return grade
    return "F"


def safe_url(url: object) -> str | None:
    """Only plain http(s) URLs become links: a `javascript:` reference stays text."""
    return url if isinstance(url, str) and forge_mod.SAFE_URL.match(url) else None


def _loc_text(loc: dict | None) -> str:
    if not loc or not loc.get("path") or loc.get("path") == ".":
        return ""
    return f"{loc['path']}:{loc['line']}" if loc.get("line") else str(loc["path"])


def _evidence_text(evidence: object) -> str:
    if not isinstance(evidence, dict) or not evidence:
        return ""
    text = "; ".join(f"{k}={v}" for k, v in evidence.items())
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"


def _namespace(f: dict) -> str | None:
    return f.get("namespace") or ((f.get("resource") or {}).get("namespace"))


def _cluster(f: dict) -> str | None:
    return f.get("cluster") or ((f.get("resource") or {}).get("cluster"))


def _refs(refs: list | None) -> list[dict]:
    return [{"text": str(r), "href": safe_url(r)} for r in refs or []]


def _yaml_str(s: str) -> str:
    return "'" + str(s).replace("'", "''").replace("\n", " ") + "'"


def waiver_snippet(check_id: str, f: dict, expires: str) -> str:
    return (f"  - check: {check_id}\n    resource: {_yaml_str(waiver_resource(f))}\n"
            f"    reason: 'why this risk is accepted'\n    expires: {expires}\n")


def _mitigation_text(f: dict) -> str:
    """'nodes: Talos applies RuntimeDefault at talos/patch.yaml:12' for each layer that enforces the
    control (the engine's `mitigated_by` credits; a single `mitigation` mapping is read too)."""
    if f.get("mitigated_by"):
        return mitigation_text(f)
    m = f.get("mitigation")
    if not isinstance(m, dict):
        return "mitigated by " + str(m) if m else mitigation_text(f)
    loc = m.get("location") if isinstance(m.get("location"), dict) else {"path": m.get("path"), "line": m.get("line")}
    return mitigation_text({"mitigated_by": [{"layer": m.get("layer") or m.get("by"), "path": loc.get("path"),
                                              "line": loc.get("line"),
                                              "detail": m.get("detail") or m.get("evidence") or m.get("reason") or ""}]})


def _days_left(expires: object, today: dt.date | None) -> int | None:
    if not expires or today is None:
        return None
    try:
        return (dt.date.fromisoformat(str(expires)[:10]) - today).days
    except ValueError:
        return None


def _scan_date(report: dict) -> dt.date | None:
    at = str((report.get("scan") or {}).get("started_at") or "")[:10]
    try:
        return dt.date.fromisoformat(at)
    except ValueError:
        return None


# Finding rows are the bulk of a big page (thousands of <tr>s): they are built here as plain strings,
# every report value through `_e`, instead of through per-row jinja attribute lookups.
def _finding_tr(f: dict, check: dict, forge, member: dict) -> tuple:
    """(status_rank, -sev_rank, subject, html) for one finding of `check`."""
    loc = f.get("location")
    sev = f.get("severity") or check.get("severity") or "info"
    status = f.get("status") or "fail"
    sev_rank = SEV_RANK.get(sev, 0)
    subject = f.get("subject") or ""
    ns = _namespace(f)
    esev, estatus = _e(sev), _e(status)
    loc_text = _e(_loc_text(loc))
    href = forge.file_url(loc.get("path"), loc.get("line")) if forge and loc else None
    remediation = f.get("remediation") or ""
    # Repeating the check's remediation on 500 rows says nothing new and bloats the page.
    if remediation == check.get("remediation"):
        remediation = ""
    evidence = _evidence_text(f.get("evidence"))
    parts = ['<tr class="f" data-s="', esev, '" data-t="', estatus, '" data-n="', _e(ns or "-"), '"']
    cluster = _cluster(f)
    if cluster:
        parts += (' data-c="', _e(cluster), '"')
    keys = member.get(id(f))
    if keys:
        parts += (' data-g="', _e(" ".join(keys)), '"')
    is_open = status in OPEN_STATUSES
    if is_open:
        parts += (' data-r="', _e(waiver_resource(f)), '" data-fp="', _e(f.get("fingerprint") or ""), '"')
    parts += ('><td data-v="', str(sev_rank), '"><span class="sev ', esev, '">', esev,
              '</span></td><td data-v="', str(STATUS_RANK.get(status, 9)), '"><span class="st ', estatus, '">', estatus,
              "</span>")
    if is_open:
        parts.append('<button type="button" class="wv" title="Waiver snippet for this finding">waive</button>')
    parts += ("</td><td>", _e(subject), "</td><td>", _e(f.get("message") or ""))
    if status == "mitigated":
        parts += ('<small class="d mit">', _e(_mitigation_text(f)), "</small>")
    if evidence:
        parts += ('<small class="d">', _e(evidence), "</small>")
    if remediation:
        parts += ('<small class="d fix">Fix: ', _e(remediation), "</small>")
    parts += ("</td><td>", _e(ns or ""), '</td><td class="loc">')
    if href:
        parts += ('<a href="', _e(href), '" rel="noopener noreferrer">', loc_text, "</a>")
    else:
        parts.append(loc_text)
    parts.append("</td></tr>\n")
    return STATUS_RANK.get(status, 9), -sev_rank, subject, "".join(parts)


def _waived_tr(f: dict, check: dict, forge, today: dt.date | None) -> tuple:
    """(check id, subject, html) for one waived finding: reason, owner, days to expiry."""
    loc = f.get("location")
    sev = f.get("severity") or check.get("severity") or "info"
    subject = f.get("subject") or ""
    check_id = check.get("id") or ""
    esev = _e(sev)
    waiver = f.get("waiver") if isinstance(f.get("waiver"), dict) else {}
    days = _days_left(waiver.get("expires"), today)
    loc_text = _e(_loc_text(loc))
    href = forge.file_url(loc.get("path"), loc.get("line")) if forge and loc else None
    parts = [
        '<tr class="f" data-s="', esev, '" data-t="waived" data-n="', _e(_namespace(f) or "-"),
        '" data-l="', _e(check.get("layer") or ""), '"',
    ]
    if _cluster(f):
        parts += (' data-c="', _e(_cluster(f)), '"')
    parts += ('><td data-v="', str(SEV_RANK.get(sev, 0)), '"><span class="sev ', esev, '">', esev,
              "</span></td><td><code>", _e(check_id), "</code></td><td>", _e(subject), "<small class=\"d\">",
              _e(f.get("message") or ""), "</small></td><td>", _e(waiver.get("reason") or ""), "</td><td>",
              _e(waiver.get("owner") or "–"), '</td><td data-v="', str(days if days is not None else 99999), '">',
              _e(waiver.get("expires") or "never"))
    if days is not None:
        parts += ('<small class="d', " bad" if days < 14 else "", '">', _e(f"{days} days left" if days >= 0 else "expired"),
                  "</small>")
    parts.append('</td><td class="loc">')
    if href:
        parts += ('<a href="', _e(href), '" rel="noopener noreferrer">', loc_text, "</a>")
    else:
        parts.append(loc_text)
    parts.append("</td></tr>\n")
    return check_id, subject, "".join(parts)


class _Rows:
    """The finding rows of one check (or the waived rows of all), built when the template prints
    them: a page written with `write` then holds one check's rows at a time, not the whole page."""

    __slots__ = ("checks", "waived", "forge", "member", "today")

    def __init__(self, checks: list[dict], waived: bool, forge, member: dict, today: dt.date | None = None):
        self.checks, self.waived, self.forge, self.member, self.today = checks, waived, forge, member, today

    def __html__(self) -> str:
        if self.waived:
            rows = [_waived_tr(f, c, self.forge, self.today) for c in self.checks for f in c.get("findings") or []
                    if (f.get("status") or "fail") == "waived"]
            rows.sort(key=lambda r: (r[0], r[1]))
            return "".join([r[2] for r in rows])
        rows = [_finding_tr(f, c, self.forge, self.member) for c in self.checks for f in c.get("findings") or []
                if (f.get("status") or "fail") != "waived"]
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        return "".join([r[3] for r in rows])


# ------------------------------------------------------------------------------ view-model parts

def _layer_order(report: dict) -> list[str]:
    present = list((report.get("score") or {}).get("layers") or {})
    for c in report.get("checks") or []:
        if c.get("layer") and c["layer"] not in present:
            present.append(c["layer"])
    return [l for l in LAYERS if l in present] + [l for l in present if l not in LAYERS]


def _clusters(report: dict) -> list[dict]:
    """Per-cluster scores ({name, overall, grade, layers}) when the report has more than one cluster.

    Accepts `score.clusters` (or top-level `clusters`) as a mapping name -> score, or a list of
    entries with a `name` and either the score fields or a `score` mapping."""
    raw = (report.get("score") or {}).get("clusters") or report.get("clusters")
    items: list[tuple[str, dict]] = []
    if isinstance(raw, dict):
        items = [(str(k), v) for k, v in raw.items() if isinstance(v, dict)]
    elif isinstance(raw, list):
        for v in raw:
            if isinstance(v, dict) and v.get("name"):
                items.append((str(v["name"]), v["score"] if isinstance(v.get("score"), dict) else v))
    out = []
    for name, sc in items:
        overall = sc.get("overall")
        layers = sc.get("layers") if isinstance(sc.get("layers"), dict) else {}
        out.append({"name": name, "overall": overall, "grade": sc.get("grade") or grade_of(overall),
                    "layers": {l: (v.get("score") if isinstance(v, dict) else v) for l, v in layers.items()}})
    return out if len(out) > 1 else []


def _bands(report: dict, order: list[str], clusters: list[dict]) -> list[dict]:
    layers = (report.get("score") or {}).get("layers") or {}
    bands = []
    for name in order:
        info = layers.get(name) or {}
        score = info.get("score")
        bands.append({
            "name": name,
            "score": score,
            "grade": info.get("grade") or grade_of(score),
            "weight": info.get("weight"),
            "checks": info.get("checks", 0),
            "failed_checks": info.get("failed_checks", 0),
            "findings": {s: (info.get("findings") or {}).get(s, 0) for s in SEVERITIES},
            "clusters": [{"score": c["layers"].get(name), "grade": grade_of(c["layers"].get(name))} for c in clusters],
            "bare": ((report.get("score") or {}).get("without_mitigations") or {}).get("layers", {}).get(name),
            "weakest": False,
        })
    scored = [b for b in bands if b["score"] is not None]
    if scored:
        low = min(b["score"] for b in scored)
        for b in scored:
            b["weakest"] = b["score"] == low and low < 100
    return bands


def _coverage(report: dict, forge) -> dict | None:
    """What the scan could not see: per-cluster percentage, gap counts by kind, the gaps with file."""
    cov = report.get("coverage")
    if not isinstance(cov, dict):
        return None
    clusters = []
    raw = cov.get("clusters")
    if isinstance(raw, dict):
        raw = [dict(v, name=k) if isinstance(v, dict) else {"name": k, "percent": v} for k, v in raw.items()]
    for c in raw or []:
        if isinstance(c, dict):
            pct = next((c[k] for k in ("percent", "percentage", "coverage") if isinstance(c.get(k), (int, float))), None)
            clusters.append({"name": c.get("name") or "cluster", "percent": pct})
    overall = next((cov[k] for k in ("percent", "percentage") if isinstance(cov.get(k), (int, float))), None)
    if overall is None and isinstance(cov.get("coverage"), (int, float)):
        overall = cov["coverage"]
    gaps = []
    for g in cov.get("gaps") or []:
        if not isinstance(g, dict):
            continue
        loc = g.get("location") if isinstance(g.get("location"), dict) else {"path": g.get("path") or g.get("file"),
                                                                            "line": g.get("line")}
        gaps.append({"kind": str(g.get("code") or g.get("kind") or "other"), "loc": _loc_text(loc),
                     "href": forge.file_url(loc.get("path"), loc.get("line")) if forge and loc.get("path") else None,
                     "message": g.get("message") or g.get("detail") or g.get("reason") or g.get("name") or "",
                     "cluster": g.get("cluster")})
    counts = Counter(g["kind"] for g in gaps)
    declared = cov.get("counts") if isinstance(cov.get("counts"), dict) else {}
    for k, v in declared.items():
        if isinstance(v, int) and k not in counts:
            counts[k] = v
    stats = {k: v for k, v in (cov.get("stats") or {}).items() if isinstance(v, (int, float))} \
        if isinstance(cov.get("stats"), dict) else {}
    return {"overall": overall, "clusters": clusters, "counts": sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
            "gaps": gaps, "stats": stats}


def _fix_first(report: dict, forge, today: dt.date | None) -> list[dict]:
    expires = (today + dt.timedelta(days=WAIVER_DAYS)).isoformat() if today else "2099-12-31"
    items = []
    for item in fix_first(report):
        c = item.check
        findings = sorted(item.findings, key=lambda f: ((f.get("location") or {}).get("path") or "~",
                                                        (f.get("location") or {}).get("line") or 0, f.get("subject") or ""))
        subjects = []
        for f in findings[:FIX_SUBJECTS_MAX]:
            loc = f.get("location") or {}
            subjects.append({"subject": f.get("subject") or "", "message": f.get("message") or "",
                             "loc": _loc_text(loc), "status": f.get("status"),
                             "href": forge.file_url(loc.get("path"), loc.get("line")) if forge and loc else None})
        items.append({"check": c, "id": c.get("id") or "", "title": c.get("title") or "", "severity": item.severity,
                      "gain": item.gain, "remediation": item.remediation, "rationale": c.get("rationale") or "",
                      "refs": _refs(c.get("references")), "count": len(findings),
                      "shown": subjects[:FIX_SUBJECTS_SHOWN], "more": subjects[FIX_SUBJECTS_SHOWN:],
                      "unlisted": max(0, len(findings) - FIX_SUBJECTS_MAX),
                      "waiver": "waivers:\n" + waiver_snippet(c.get("id") or "", findings[0], expires)})
    return items


def _sections(report: dict, order: list[str], forge, member: dict, today):
    """Per layer its check entries (rows built lazily, see _Rows), the waived rows, facet counts."""
    by_layer: dict[str, list[dict]] = {l: [] for l in order}
    waived_checks: list[dict] = []
    n_waived = 0
    facets = {"s": {s: 0 for s in SEVERITIES}, "t": {s: 0 for s in FINDING_STATUSES}, "l": {l: 0 for l in order},
              "c": {}}
    fs, ft, fl, fc = facets["s"], facets["t"], facets["l"], facets["c"]
    namespaces: dict[str, int] = {}
    total = 0
    for check in report.get("checks") or []:
        n_rows = n_check_waived = 0
        layer = check.get("layer") or ""
        check_sev = check.get("severity")
        findings = check.get("findings") or []
        for f in findings:
            status = f.get("status") or "fail"
            if status == "waived":
                n_check_waived += 1
            else:
                n_rows += 1
            sev = f.get("severity") or check_sev or "info"
            fs[sev] = fs.get(sev, 0) + 1
            ft[status] = ft.get(status, 0) + 1
            key = _namespace(f) or "-"
            namespaces[key] = namespaces.get(key, 0) + 1
            cl = _cluster(f)
            if cl:
                fc[cl] = fc.get(cl, 0) + 1
        total += len(findings)
        if findings:
            fl[layer] = fl.get(layer, 0) + len(findings)
        if n_check_waived:
            waived_checks.append(check)
            n_waived += n_check_waived
        subj = check.get("subjects") or {}
        by_layer.setdefault(layer, []).append({
            "c": check,
            "sev_rank": SEV_RANK.get(check_sev, 0),
            "status_rank": STATUS_RANK.get(check.get("status"), 9),
            "refs": _refs(check.get("references")),
            "rows": n_rows,
            "rows_html": _Rows([check], False, forge, member),
            "subjects": {k: subj.get(k, 0) for k in ("total", "passing", "failing", "warning", "waived", "mitigated")},
        })
    for entries in by_layer.values():
        entries.sort(key=lambda x: (x["status_rank"], -x["sev_rank"], x["c"].get("id") or ""))
    ns_list = sorted(namespaces.items(), key=lambda kv: (kv[0] == "-", kv[0]))
    waived = (n_waived, _Rows(waived_checks, True, forge, member, today))
    return by_layer, waived, facets, ns_list, total


def _matrix(report: dict, order: list[str]) -> dict:
    """Namespaces x layers. `worst` is the most severe open finding of the namespace (and how many
    there are), `score` the share of its subjects that pass, severity-weighted like the layers."""
    data = report.get("namespaces") or {}
    weights = {"critical": 10.0, "high": 6.0, "medium": 3.0, "low": 1.0, "info": 0.5}
    acc: dict[str, list] = {}
    for c in report.get("checks") or []:
        for f in c.get("findings") or []:
            ns = _namespace(f)
            if not ns:
                continue
            a = acc.setdefault(ns, [0.0, 0.0, 0, 0])  # weighted ok, weighted total, worst rank, count at worst
            sev = f.get("severity") or c.get("severity") or "info"
            w = weights.get(sev, 0.5)
            status = f.get("status")
            a[1] += w
            a[0] += w if status in ("pass", "waived", "mitigated") else (w / 2 if status == "warn" else 0.0)
            if status in OPEN_STATUSES:
                r = SEV_RANK.get(sev, 0)
                if r > a[2]:
                    a[2], a[3] = r, 1
                elif r == a[2]:
                    a[3] += 1
    cols = [l for l in order if any(l in v for v in data.values())]
    rank_sev = {v: k for k, v in SEV_RANK.items()}
    rows = []
    for ns in sorted(set(data) | set(acc)):
        per = data.get(ns) or {}
        cells = []
        for l in cols:
            cell = per.get(l)
            cells.append(None if cell is None else {**cell, "grade": grade_of(cell.get("score"))})
        ok, tot, worst, n_worst = acc.get(ns, (0.0, 0.0, 0, 0))
        score = round(100.0 * ok / tot, 1) if tot else None
        rows.append({"ns": ns, "cells": cells, "score": score, "grade": grade_of(score),
                     "worst": rank_sev.get(worst), "worst_rank": worst, "worst_count": n_worst,
                     "failing": sum(cell.get("failing", 0) for cell in cells if cell)})
    rows.sort(key=lambda r: (-r["worst_rank"], -r["worst_count"], r["score"] if r["score"] is not None else 101, r["ns"]))
    return {"cols": cols, "rows": rows}


def _waivers(report: dict, today: dt.date | None) -> list[dict]:
    out = []
    for w in report.get("waivers") or []:
        if isinstance(w, dict):
            out.append({**w, "days": _days_left(w.get("expires"), today)})
    return out


def _checklist(report: dict) -> dict | None:
    """The Flux security checklist (issue 21) when the report carries one: items with a status."""
    raw = report.get("flux_checklist")
    items = raw.get("items") if isinstance(raw, dict) else raw
    if not isinstance(items, list) or not items:
        return None
    rows = [{"id": i.get("id") or "", "title": i.get("title") or i.get("item") or "", "status": i.get("status") or "",
             "reason": i.get("reason") or i.get("message") or "", "checks": [str(c) for c in i.get("checks") or []]}
            for i in items if isinstance(i, dict)]
    return {"rows": rows, "source": raw.get("source") if isinstance(raw, dict) else None,
            "tenancy": raw.get("tenancy") if isinstance(raw, dict) else None}


def _trend(report: dict, history: list[dict], order: list[str]) -> dict | None:
    snaps = [h for h in history if isinstance(h, dict) and h.get("score")]
    cur_at = (report.get("scan") or {}).get("started_at")
    if not snaps or (snaps[-1].get("scan") or {}).get("started_at") != cur_at:
        snaps = snaps + [report]
    if len(snaps) < 2:
        return None
    x0, y0, w, h = 36.0, 10.0, 680.0, 180.0

    def layer_score(s: dict, l: str):
        return (((s.get("score") or {}).get("layers") or {}).get(l) or {}).get("score")

    overall = [(s.get("score") or {}).get("overall") for s in snaps]
    lines = [{"name": "overall", "cls": "overall", "segs": svg.polyline_segments(overall, x0, y0, w, h)}]
    for i, l in enumerate(order):
        vals = [layer_score(s, l) for s in snaps]
        if any(v is not None for v in vals):
            lines.append({"name": l, "cls": f"l{i % 10}", "segs": svg.polyline_segments(vals, x0, y0, w, h)})
    n = len(snaps)
    step = w / (n - 1)
    points = [{"x": x0 + i * step, "y": svg.scale_y(v, y0, h), "v": v,
               "at": ((s.get("scan") or {}).get("started_at") or "")[:16].replace("T", " ")}
              for i, (s, v) in enumerate(zip(snaps, overall)) if v is not None]
    every = max(1, n // 6)
    labels = [p for i, p in enumerate(points) if i % every == 0 or i == len(points) - 1]
    grid = [{"v": v, "y": svg.scale_y(v, y0, h)} for v in (0, 60, 70, 80, 90, 100)]
    return {"lines": lines, "points": points, "labels": labels, "grid": grid,
            "width": x0 + w + 40, "height": y0 + h + 26, "x0": x0, "x1": x0 + w, "base": y0 + h}


def _source_label(s: dict) -> str:
    """A source as the page names it: never an absolute local path."""
    if s.get("type") == "cluster":
        return s.get("context") or s.get("server") or "cluster"
    path = str(s.get("path") or "")
    if path.startswith("/") or (len(path) > 2 and path[1] == ":"):
        path = Path(path).name
    web = forge_mod.strip_credentials(s.get("web_url"))
    return path or (web.rsplit("/", 1)[-1] if web else "") or "repository"


_TICKS = re.compile(r"`([^`\n]{1,200})`")


def ticks(text: object) -> Markup:
    """Check prose with `code` spans: escaped first, then the backtick pairs become <code>."""
    return Markup(_TICKS.sub(r"<code>\1</code>", _e(text if text is not None else "")))


class _ReportEnvironment(jinja2.Environment):
    """The report's data is plain dicts: `x.y` in a template looks the key up first (jinja's own
    order, an attribute then the key, raises and catches an AttributeError per lookup on a dict)."""

    def getattr(self, obj, attribute):
        if obj.__class__ is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


# The templates compiled when the project is set up (`python -m reports.compile_templates`, run by
# `make` next to compileall for the .py files): a scan on an empty per-user cache does not compile
# them again. Read only; a template edited since is recompiled (jinja checks the source's checksum).
INSTALLED_TEMPLATE_CACHE = TEMPLATES / "__jinjacache__"


class _TemplateCache(jinja2.BytecodeCache):
    """jinja's own file bytecode cache, twice: the templates compiled at set-up first, then the
    per-user cache directory (read and written) when there is one."""

    def __init__(self, installed: Path | None, user_dir: str | None):
        self.installed = jinja2.FileSystemBytecodeCache(str(installed)) if installed and installed.is_dir() else None
        self.user = jinja2.FileSystemBytecodeCache(user_dir) if user_dir else None

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        for cache in (self.installed, self.user):
            if cache is not None and bucket.code is None:
                cache.load_bytecode(bucket)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if self.user is not None:
            self.user.dump_bytecode(bucket)


def _user_cache(template_cache_dir: str | None) -> str | None:
    if not template_cache_dir:
        return None
    try:
        os.makedirs(template_cache_dir, mode=0o700, exist_ok=True)
        return template_cache_dir
    except OSError:
        return None  # an unwritable cache only costs time


@lru_cache(maxsize=2)
def _env(template_cache_dir: str | None = None, read_installed: bool = True) -> jinja2.Environment:
    """One environment a process: templates are compiled once, then cached. jinja's own bytecode cache
    keeps the compiled templates between runs (keyed by the template's source, so an edited template is
    recompiled): in the set-up's directory and in `template_cache_dir` when given. Compiling them was a
    tenth of a warm scan and 0.3 s of a first one."""
    bytecode_cache = _TemplateCache(INSTALLED_TEMPLATE_CACHE if read_installed else None,
                                    _user_cache(template_cache_dir))
    env = _ReportEnvironment(
        bytecode_cache=bytecode_cache,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its extension: manifest text is hostile
        # Partial reports (an engine error mid-scan) must still render: missing keys read as empty.
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,
    )
    env.globals.update(grade_of=grade_of, SEVERITIES=SEVERITIES, FINDING_STATUSES=FINDING_STATUSES)
    env.filters["ticks"] = ticks
    return env


@lru_cache(maxsize=1)
def _assets() -> tuple[Markup, Markup, str]:
    css = (TEMPLATES / "report.css").read_text(encoding="utf-8")
    js = (TEMPLATES / "report.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(js.encode("utf-8")).digest()).decode("ascii")
    # Static files shipped with the package, never report data: safe to mark as markup.
    return Markup(css), Markup(js), f"'sha256-{digest}'"


def _context(report: dict, options: dict) -> dict:
    """The template's variables."""
    forge = forge_mod.from_report(report, options.get("web_url"))
    order = _layer_order(report)
    scan = report.get("scan") or {}
    score = report.get("score") or {}
    today = _scan_date(report)
    clusters = _clusters(report)
    member, stats = graphs.finding_nodes(report)
    by_layer, (waived, waived_html), facets, namespaces, total = _sections(report, order, forge, member, today)
    css, js, script_hash = _assets()
    exposure = graphs.exposure(report, stats, forge)
    return dict(
        r=report,
        scan=scan,
        sources=[{"label": _source_label(s), "type": s.get("type"), "commit": s.get("commit"),
                  "web": forge_mod.strip_credentials(s.get("web_url"))}
                 for s in scan.get("sources") or [] if isinstance(s, dict)],
        score=score,
        overall_grade=score.get("grade") or grade_of(score.get("overall")),
        bare=score.get("without_mitigations") if (score.get("without_mitigations") or {}).get("mitigated_findings") else None,
        gate=report.get("gate") or {},
        tool=report.get("tool") or {},
        forge=forge,
        commit_href=forge.commit_url() if forge else None,
        scan_date=today.isoformat() if today else "",
        waiver_days=WAIVER_DAYS,
        clusters=clusters,
        bands=_bands(report, order, clusters),
        coverage=_coverage(report, forge),
        fixes=_fix_first(report, forge, today),
        checklist=_checklist(report),
        order=order,
        errors=report.get("errors") or [],
        gauge=svg.gauge(score.get("overall")),
        by_layer=by_layer,
        waived=waived,  # a count; the rows are `waived_html`
        waived_html=waived_html,
        waivers=_waivers(report, today),
        facets=facets,
        namespaces=namespaces,
        total=total,
        trend=_trend(report, options.get("history") or [], order),
        css=css,
        js=js,
        script_hash=script_hash,
        matrix=_matrix(report, order),
        exposure=exposure,
        flux=graphs.flux(report, stats, forge),
        file_href=(lambda p, l: forge.file_url(p, l)) if forge else (lambda p, l: None),
    )


def render(report: Report, options: RenderOptions | None = None) -> str:
    return _env(_template_cache(options)).get_template("report.html.j2").render(
        _context(plain(report), _options(options)))


def write(report: Report, options: RenderOptions | None, fh) -> None:
    """Render into the text file `fh` piece by piece (a large page is never held whole in memory)."""
    for piece in _env(_template_cache(options)).get_template("report.html.j2").generate(
            _context(plain(report), _options(options))):
        fh.write(piece)
