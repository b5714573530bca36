"""Self-contained HTML report: builds a view model from the JSON report dict and renders jinja2.

The entry points (`render`, `write`) take the typed Report and RenderOptions of the formatter
contract (reports.interface) and hand the templates the report's JSON form.

Everything the page needs is inline (CSS, JS, SVG) so it opens air-gapped from disk. Manifest
values only ever reach the page through jinja's autoescape; the one script is static and is
pinned by a CSP hash, so even a markup injection that slipped past escaping could not run code.
"""
from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from reports import svg
from reports.interface import RenderOptions
from reports.links import safe_url, source_href
from scanner.engine.report_model import Credit, Report, mitigation_text

try:  # markupsafe's C escaper (what jinja's autoescape calls), without the Markup wrapper per value
    from markupsafe._speedups import _escape_inner as _escape_str
except ImportError:  # pragma: no cover - pure-Python markupsafe
    _NEEDS_ESCAPE = re.compile(r"[&<>\"']").search

    def _escape_str(s: str) -> str:
        if _NEEDS_ESCAPE(s) is None:
            return s
        return (s.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
                .replace("'", "&#39;").replace('"', "&#34;"))

FILENAME = "posture-report.html"

TEMPLATES = Path(__file__).parent / "templates"
LAYERS = ("perimeter", "segmentation", "nodes", "workloads", "secrets", "authentication", "policy",
          "gitops", "backups", "monitoring")
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEV_RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}  # critical=5 ... info=1
STATUS_RANK = {"fail": 0, "error": 0, "warn": 1, "waived": 2, "mitigated": 3, "pass": 3, "not_applicable": 4}
FINDING_STATUSES = ("fail", "warn", "waived", "mitigated", "pass")
EVIDENCE_CHARS = 240  # evidence is a hint next to the message, not a dump; keeps 5k rows light


def grade_of(score: float | None) -> str | None:
    if score is None:
        return None
    for grade, floor in (("A", 90), ("B", 80), ("C", 70), ("D", 60)):
        if score >= floor:
            return grade
    return "F"


def repo_link_base(report: dict, options: dict) -> tuple[str | None, str | None]:
    """(web_url, commit) for file links: the option overrides the first git source's URL."""
    scan = report.get("scan") or {}
    git = next((s for s in scan.get("sources") or [] if s.get("type") == "git"), {})
    web = safe_url(options.get("web_url")) or safe_url(git.get("web_url"))
    commit = git.get("commit") or scan.get("git_commit")
    if web:
        web = web.rstrip("/")
    return web, (commit if isinstance(commit, str) and re.fullmatch(r"[0-9A-Za-z._/-]+", commit) else None)


def _loc_text(loc: dict | None) -> str:
    if not loc or not loc.get("path"):
        return ""
    return f"{loc['path']}:{loc['line']}" if loc.get("line") else str(loc["path"])


def _evidence_text(evidence: object) -> str:
    if not isinstance(evidence, dict) or not evidence:
        return ""
    text = "; ".join(f"{k}={v}" for k, v in evidence.items())
    return text if len(text) <= EVIDENCE_CHARS else text[: EVIDENCE_CHARS - 1] + "…"


def _namespace(f: dict) -> str | None:
    return f.get("namespace") or ((f.get("resource") or {}).get("namespace"))


def _refs(refs: list | None) -> list[dict]:
    return [{"text": str(r), "href": safe_url(r)} for r in refs or []]


def _e(value: object) -> str:
    """A value as jinja's autoescape prints it: str() (None prints "None"), then HTML-escaped."""
    return _escape_str(value if type(value) is str else str(value))


# Finding rows are the bulk of a big page (tens of thousands of <tr>s): they are built here as plain
# strings, every report value through `_e`, instead of through per-row jinja attribute lookups and
# Markup objects. The markup is exactly what the template loop used to produce.
def _finding_tr(f: dict, check: dict, web: str | None, commit: str | None) -> tuple:
    """(status_rank, -sev_rank, subject, html, sev, status, ns) for one finding of `check`."""
    loc = f.get("location")
    sev = f.get("severity") or check.get("severity") or "info"
    status = f.get("status") or "fail"
    status_rank = STATUS_RANK.get(f.get("status"), 9)
    sev_rank = SEV_RANK.get(sev, 0)
    subject = f.get("subject") or ""
    ns = _namespace(f)
    esev, estatus = _e(sev), _e(status)
    loc_text = _e(_loc_text(loc))
    href = source_href(web, commit, (loc or {}).get("path"), (loc or {}).get("line")) if loc else None
    remediation = f.get("remediation") or ""
    # Repeating the check's remediation on 500 rows says nothing new and bloats the page.
    if remediation == check.get("remediation"):
        remediation = ""
    evidence = _evidence_text(f.get("evidence"))
    parts = [
        '<tr class="f" data-s="', esev, '" data-t="', estatus, '" data-n="', _e(ns or "-"),
        '"><td data-v="', str(sev_rank), '"><span class="sev ', esev, '">', esev,
        '</span></td><td data-v="', str(status_rank), '"><span class="st ', estatus, '">', estatus,
        "</span></td><td>", _e(subject), "</td><td>", _e(f.get("message") or ""),
    ]
    if status == "mitigated":
        credits = [Credit.model_validate(c) for c in f.get("mitigated_by") or ()]
        parts += ('<small class="d mitigated">', _e(mitigation_text(credits)), "</small>")
    if evidence:
        parts += ('<small class="d">', _e(evidence), "</small>")
    if remediation:
        parts += ('<small class="d fix">Fix: ', _e(remediation), "</small>")
    parts += ("</td><td>", _e(ns or ""), '</td><td class="loc">')
    if href:
        parts += ('<a href="', _e(href), '">', loc_text, "</a>")
    else:
        parts.append(loc_text)
    parts.append("</td></tr>\n")
    return status_rank, -sev_rank, subject, "".join(parts), sev, status, ns


def _waived_tr(f: dict, check: dict, web: str | None, commit: str | None) -> tuple:
    """(check id, subject, html) for one waived finding, shown apart from the open ones."""
    loc = f.get("location")
    sev = f.get("severity") or check.get("severity") or "info"
    subject = f.get("subject") or ""
    check_id = check.get("id") or ""
    esev = _e(sev)
    waiver = f.get("waiver") or {}
    loc_text = _e(_loc_text(loc))
    href = source_href(web, commit, (loc or {}).get("path"), (loc or {}).get("line")) if loc else None
    parts = [
        '<tr class="f" data-s="', esev, '" data-t="waived" data-n="', _e(_namespace(f) or "-"),
        '" data-l="', _e(check.get("layer") or ""), '"><td data-v="', str(SEV_RANK.get(sev, 0)),
        '"><span class="sev ', esev, '">', esev, "</span></td><td><code>", _e(check_id),
        "</code></td><td>", _e(subject), "</td><td>", _e(f.get("message") or ""), "</td><td>",
        _e(waiver.get("reason", "")) if isinstance(waiver, dict) else "",
        '<small class="d">expires ', _e((waiver.get("expires") if isinstance(waiver, dict) else None) or "never"),
        '</small></td><td class="loc">',
    ]
    if href:
        parts += ('<a href="', _e(href), '" rel="noopener noreferrer">', loc_text, "</a>")
    else:
        parts.append(loc_text)
    parts.append("</td></tr>\n")
    return check_id, subject, "".join(parts)


def _truncate(text: str, length: int) -> str:
    """jinja's `truncate(length, True, '…', 0)`."""
    return text if len(text) <= length else text[: length - 1] + "…"


def _dag_svg(layout: svg.Layout, nodes: dict, kind: str, label: str) -> Markup:
    """The inline SVG of a laid-out DAG (flux graph or exposure map); every label escaped.

    Built here rather than in a template macro: the 100x Flux graph has ~20,000 nodes."""
    w, h = str(int(round(layout.width))), str(int(round(layout.height)))
    ekind = _e(kind)
    out = [f'<svg class="dag {ekind}" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{_e(label)}">\n'
           f'  <defs><marker id="arrow-{ekind}" viewBox="0 0 8 8" refX="7.5" refY="4" markerWidth="7" markerHeight="7" '
           f'orient="auto"><path class="arrow" d="M0,0 L8,4 L0,8 z"/></marker></defs>\n  <g class="edges">\n']
    marker = f'" marker-end="url(#arrow-{ekind})"/>\n'
    for e in layout.edges:
        out.append(f'<path class="e {_e(e.kind)}{" back" if e.back else ""}" d="{_e(e.d)}{marker}')
    out.append('  </g>\n  <g class="nodes">\n')
    flux = kind == "flux"
    for nid, b in layout.boxes.items():
        n = nodes[nid]
        get = n.get
        transform = f'transform="translate({b.x:.1f},{b.y:.1f})">\n'
        ty = str(b.h / 2 + 4)
        if flux:
            ks = get("kind") == "Kustomization"
            title = [_e(get("kind", "")), " ", _e(get("namespace", "")), "/", _e(get("name", ""))]
            if get("path"):
                title += (" — ", _e(get("path")))
                if get("line"):
                    title += (":", _e(get("line")))
            if get("count"):
                title += (" — ", _e(get("count")), " open finding(s), worst ", _e(get("worst", "")))
            if get("suspended"):
                title.append(" — suspended")
            if get("deployed") is False:
                title.append(" — not deployed")
            out.append(
                f'  <g class="node {"ks" if ks else "hr"} n-{_e(get("worst") or "none")}'
                f'{" suspended" if get("suspended") else ""}{" undeployed" if get("deployed") is False else ""}" '
                f'{transform}    <title>{"".join(title)}</title>\n'
                f'    <rect width="{b.w}" height="{b.h}" rx="5"/><text class="k" x="6" y="{ty}">{"KS" if ks else "HR"}</text>'
                f'<text x="30" y="{ty}">{_e(_truncate(get("name") or "", 24))}</text>\n  </g>\n')
        else:
            out.append(
                f'  <g class="node {_e(get("cls", ""))}" {transform}    <title>{_e(get("title") or get("label", ""))}</title>\n'
                f'    <rect width="{b.w}" height="{b.h}" rx="5"/><text x="9" y="{ty}">{_e(_truncate(get("label") or "", 30))}</text>\n  </g>\n')
    out.append("  </g>\n</svg>\n")
    return Markup("".join(out))


def _layer_order(report: dict) -> list[str]:
    present = list((report.get("score") or {}).get("layers") or {})
    for c in report.get("checks") or []:
        if c.get("layer") and c["layer"] not in present:
            present.append(c["layer"])
    return [l for l in LAYERS if l in present] + [l for l in present if l not in LAYERS]


def _bands(report: dict, order: list[str]) -> list[dict]:
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
            "weakest": False,
        })
    scored = [b for b in bands if b["score"] is not None]
    if scored:
        low = min(b["score"] for b in scored)
        for b in scored:
            b["weakest"] = b["score"] == low and low < 100
    return bands


def _sort_key(row: tuple) -> tuple:
    return row[0], row[1], row[2]


class _Rows:
    """The finding rows of one check (or the waived rows of all), built when the template prints
    them: a page written with `write` then holds one check's rows at a time, not the whole page."""

    __slots__ = ("checks", "waived", "web", "commit")

    def __init__(self, checks: list[dict], waived: bool, web: str | None, commit: str | None):
        self.checks, self.waived, self.web, self.commit = checks, waived, web, commit

    def __html__(self) -> str:
        web, commit = self.web, self.commit
        if self.waived:
            rows = [_waived_tr(f, c, web, commit) for c in self.checks for f in c.get("findings") or []
                    if (f.get("status") or "fail") == "waived"]
            rows.sort(key=lambda r: (r[0], r[1]))
            return "".join([r[2] for r in rows])
        rows = [_finding_tr(f, c, web, commit) for c in self.checks for f in c.get("findings") or []
                if (f.get("status") or "fail") != "waived"]
        rows.sort(key=_sort_key)
        return "".join([r[3] for r in rows])


def _sections(report: dict, order: list[str], web: str | None, commit: str | None):
    """Per layer its check entries (rows built lazily, see _Rows), the waived rows, facet counts."""
    by_layer: dict[str, list[dict]] = {l: [] for l in order}
    waived_checks: list[dict] = []
    n_waived = 0
    facets = {"s": {s: 0 for s in SEVERITIES}, "t": {s: 0 for s in FINDING_STATUSES}, "l": {l: 0 for l in order}}
    fs, ft, fl = facets["s"], facets["t"], facets["l"]
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
            "rows_html": _Rows([check], False, web, commit),
            "subjects": {k: subj.get(k, 0) for k in ("total", "passing", "failing", "warning", "waived", "mitigated")},
        })
    for entries in by_layer.values():
        entries.sort(key=lambda e: (e["status_rank"], -e["sev_rank"], e["c"].get("id") or ""))
    ns_list = sorted(namespaces.items(), key=lambda kv: (kv[0] == "-", kv[0]))
    return by_layer, (n_waived, _Rows(waived_checks, True, web, commit)), facets, ns_list, total


def _matrix(report: dict, order: list[str]) -> dict:
    data = report.get("namespaces") or {}
    cols = [l for l in order if any(l in v for v in data.values())]
    rows = []
    for ns, per in data.items():
        cells = []
        for l in cols:
            c = per.get(l)
            cells.append(None if c is None else {**c, "grade": grade_of(c.get("score"))})
        scores = [c["score"] for c in cells if c and c.get("score") is not None]
        rows.append({"ns": ns, "cells": cells, "worst": min(scores) if scores else None,
                     "failing": sum(c.get("failing", 0) for c in cells if c)})
    rows.sort(key=lambda r: (r["worst"] if r["worst"] is not None else 101, r["ns"]))
    return {"cols": cols, "rows": rows}


def _auth(e: dict) -> tuple[str | None, str, bool]:
    """(label, detail, accepted) from `auth`, a mechanism string or the engine's AuthInfo dict."""
    auth = e.get("auth")
    if isinstance(auth, dict):
        label = ":".join(str(x) for x in (auth.get("provider") or e.get("auth_provider"),
                                          auth.get("mechanism") or e.get("auth_mechanism")) if x)
        detail = " — ".join(str(x) for x in (auth.get("detail"), auth.get("declared_at")) if x)
        return label or "auth", detail, auth.get("accepted") is not False
    if auth:
        return str(auth), "", True
    return None, "", True


def _exposure(report: dict, web: str | None, commit: str | None) -> dict:
    """Zones -> entry (class/gateway) -> host -> backend, as a 4-column pinned DAG."""
    items = report.get("exposure") or []
    nodes: dict[str, dict] = {}
    edges: list[tuple[str, str, str]] = []
    rank: dict[str, int] = {}
    rows = []

    def node(key: str, r: int, **info) -> str:
        if key not in nodes:
            nodes[key] = info
            rank[key] = r
        return key

    for i, e in enumerate(items):
        ext = e.get("exposure") == "external"
        zone = node(f"z:{'ext' if ext else 'int'}", 0, label="Internet" if ext else "Internal network",
                    cls="zone-ext" if ext else "zone-int", title="")
        via = e.get("via") or e.get("kind") or "?"
        v = node(f"v:{zone}:{via}", 1, label=via, cls="via", title=f"{e.get('kind')} via {via}")
        auth, auth_detail, accepted = _auth(e)
        # An auth guard from a provider the config does not accept is shown, but not as "protected".
        state = ("auth" if accepted else "auth-weak") if auth else ("open-ext" if ext else "open-int")
        ident = f"{e.get('kind')} {e.get('namespace') or '-'}/{e.get('name')}"
        h = node(f"h:{i}", 2, label=e.get("host") or e.get("name") or "?", cls=f"host {state}",
                 title=f"{e.get('host')} — {ident} — auth: {auth or 'none'}"
                 + (f" — {e['reason']}" if e.get("reason") else ""))
        edges += [(zone, v, "route"), (v, h, "route")]
        if e.get("backend"):
            b = node(f"b:{e['backend']}", 3, label=e["backend"], cls="backend", title=e["backend"])
            edges.append((h, b, "route"))
        loc = e.get("location") or {}
        rows.append({**e, "host": e.get("host") or f"({e.get('name') or '?'})", "state": state,
                     "auth": auth, "auth_detail": auth_detail, "accepted": accepted, "loc": _loc_text(loc),
                     "href": source_href(web, commit, loc.get("path"), loc.get("line"))})
    rows.sort(key=lambda r: (r.get("exposure") != "external", r["state"] != "open-ext", r.get("host") or ""))
    layout = svg.layered_layout(list(nodes), edges, fixed_rank=rank, node_w=210, gap_x=46, max_per_column=60)
    return {"rows": rows, "layout": layout, "nodes": nodes, "svg": _dag_svg(layout, nodes, "exposure", "Exposure map")}


def _flux(report: dict) -> dict | None:
    graph = report.get("flux_graph") or {}
    gnodes = graph.get("nodes") or []
    if not gnodes:
        return None
    # Colour each node by the worst failing finding on that very object (its own checks and, for
    # HelmReleases rendered from values, the workloads derived from it).
    worst: dict[tuple, list] = {}
    for check in report.get("checks") or []:
        for f in check.get("findings") or []:
            if f.get("status") not in ("fail", "warn"):
                continue
            r = f.get("resource") or {}
            key = (r.get("kind"), r.get("namespace"), r.get("name"))
            sev = f.get("severity") or check.get("severity") or "info"
            cur = worst.setdefault(key, [0, 0])
            cur[0] = max(cur[0], SEV_RANK.get(sev, 0))
            cur[1] += 1
    rank_sev = {v: k for k, v in SEV_RANK.items()}
    info = {}
    for n in gnodes:
        w = worst.get((n.get("kind"), n.get("namespace"), n.get("name")))
        info[n["id"]] = {**n, "worst": rank_sev.get(w[0]) if w else None, "count": w[1] if w else 0}
    # Dependencies go left of their dependents; parents left of what they create.
    edges = []
    for e in graph.get("edges") or []:
        if e.get("type") == "dependsOn":
            edges.append((e["to"], e["from"], "dependsOn"))
        else:
            edges.append((e["from"], e["to"], e.get("type") or "creates"))
    layout = svg.layered_layout([n["id"] for n in gnodes], edges)
    return {"layout": layout, "nodes": info, "svg": _dag_svg(layout, info, "flux", "Flux dependency graph")}


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


class _ReportEnvironment(jinja2.Environment):
    """The report's data is plain dicts: `x.y` in a template looks the key up first. jinja's own order
    (an attribute, then the key) fails and catches an AttributeError for every `x.y` on a dict (~7,000 of
    them on a 2,500-finding page). A dict's methods are still reached when it has no such key
    (`stats.items()`)."""

    def getattr(self, obj, attribute):
        if obj.__class__ is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    """One environment a process: templates are compiled once, then cached."""
    env = _ReportEnvironment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its extension: manifest text is hostile
        # Partial reports (an engine error mid-scan) must still render: missing keys read as empty.
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=True,  # a template edited while the process runs is recompiled (uptodate check)
    )
    env.globals.update(grade_of=grade_of, SEVERITIES=SEVERITIES)
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
    parts = ("main", "graphs", "tail")
    web, commit = repo_link_base(report, options)
    order = _layer_order(report)
    scan = report.get("scan") or {}
    score = report.get("score") or {}
    errors = report.get("errors") or []
    ctx = dict(
        parts=parts,
        r=report,
        scan=scan,
        score=score,
        overall_grade=score.get("grade") or grade_of(score.get("overall")),
        gate=report.get("gate") or {},
        tool=report.get("tool") or {},
        web=web,
        commit=commit,
        commit_href=f"{web}/commit/{commit}" if web and commit else None,
        bands=_bands(report, order),
        order=order,
        errors=errors,
    )
    if "main" in parts:
        by_layer, (waived, waived_html), facets, namespaces, total = _sections(report, order, web, commit)
        css, _, script_hash = _assets()
        ctx.update(
            gauge=svg.gauge(score.get("overall")),
            by_layer=by_layer,
            waived=waived,  # a count; the rows are `waived_html`
            waived_html=waived_html,
            waivers=report.get("waivers") or [],
            facets=facets,
            namespaces=namespaces,
            total=total,
            trend=_trend(report, options.get("history") or [], order),
            css=css,
            script_hash=script_hash,
            # the table of contents links the other parts' sections when they will be there
            has_matrix=bool(report.get("namespaces")),
            has_exposure=bool(report.get("exposure")),
            has_flux=bool((report.get("flux_graph") or {}).get("nodes")),
        )
    if "graphs" in parts:
        ctx.update(matrix=_matrix(report, order), exposure=_exposure(report, web, commit), flux=_flux(report))
    if "tail" in parts:
        ctx.update(js=_assets()[1], source_href=lambda p, l: source_href(web, commit, p, l))
    return ctx


def _inputs(report: Report, options: RenderOptions | None) -> tuple[dict, dict]:
    """The templates' view of the contract's arguments: the report's JSON form, options as a dict."""
    options = options or RenderOptions()
    return report.to_json_dict(), {"history": list(options.history), "web_url": options.web_url}


def render(report: Report, options: RenderOptions | None = None) -> str:
    return _env().get_template("report.html.j2").render(_context(*_inputs(report, options)))


def write(report: Report, options: RenderOptions | None, fh) -> None:
    """Render into the text file `fh` piece by piece (a large page is never held whole in memory)."""
    for piece in _env().get_template("report.html.j2").generate(_context(*_inputs(report, options))):
        fh.write(piece)
