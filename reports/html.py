"""Self-contained HTML report: builds a view model from the JSON report dict and renders jinja2.

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
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from reports import svg

FILENAME = "posture-report.html"

TEMPLATES = Path(__file__).parent / "templates"
LAYERS = ("perimeter", "segmentation", "nodes", "workloads", "secrets", "authentication", "policy",
          "gitops", "backups", "monitoring")
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEV_RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}  # critical=5 ... info=1
STATUS_RANK = {"fail": 0, "error": 0, "warn": 1, "waived": 2, "pass": 3, "not_applicable": 4}
FINDING_STATUSES = ("fail", "warn", "waived", "pass")
_SAFE_URL = re.compile(r"^https?://[^\s\"'<>\x00-\x1f]+$", re.IGNORECASE)
EVIDENCE_CHARS = 240  # evidence is a hint next to the message, not a dump; keeps 5k rows light


def grade_of(score: float | None) -> str | None:
    if score is None:
        return None
    for grade, floor in (("A", 90), ("B", 80), ("C", 70), ("D", 60)):
        if score >= floor:
            return grade
    return "F"


def safe_url(url: object) -> str | None:
    """Only plain http(s) URLs become links: a `javascript:` web_url or reference stays text."""
    return url if isinstance(url, str) and _SAFE_URL.match(url) else None


def repo_link_base(report: dict, options: dict) -> tuple[str | None, str | None]:
    """(web_url, commit) for file links: the option overrides the first git source's URL."""
    scan = report.get("scan") or {}
    git = next((s for s in scan.get("sources") or [] if s.get("type") == "git"), {})
    web = safe_url(options.get("web_url")) or safe_url(git.get("web_url"))
    commit = git.get("commit") or scan.get("git_commit")
    if web:
        web = web.rstrip("/")
    return web, (commit if isinstance(commit, str) and re.fullmatch(r"[0-9A-Za-z._/-]+", commit) else None)


def source_href(web: str | None, commit: str | None, path: str | None, line: int | None) -> str | None:
    """`{web}/blob/{commit}/{path}#L{line}` for repo files; live-cluster paths get no link."""
    if not (web and commit and path) or "://" in path or path.startswith("/"):
        return None
    path = path[2:] if path.startswith("./") else path
    href = f"{web}/blob/{commit}/{quote(path, safe='/')}"
    return f"{href}#L{line}" if isinstance(line, int) and line >= 1 else href


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


def _finding_row(f: dict, check: dict, web: str | None, commit: str | None) -> dict:
    loc = f.get("location")
    sev = f.get("severity") or check.get("severity") or "info"
    remediation = f.get("remediation") or ""
    return {
        "sev": sev,
        "sev_rank": SEV_RANK.get(sev, 0),
        "status": f.get("status") or "fail",
        "status_rank": STATUS_RANK.get(f.get("status"), 9),
        "subject": f.get("subject") or "",
        "message": f.get("message") or "",
        "ns": _namespace(f),
        "loc": _loc_text(loc),
        "href": source_href(web, commit, (loc or {}).get("path"), (loc or {}).get("line")),
        # Repeating the check's remediation on 500 rows says nothing new and bloats the page.
        "remediation": remediation if remediation and remediation != check.get("remediation") else "",
        "evidence": _evidence_text(f.get("evidence")),
        "waiver": f.get("waiver") or {},
        "check": check.get("id") or "",
        "layer": check.get("layer") or "",
    }


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


def _sections(report: dict, order: list[str], web: str | None, commit: str | None):
    by_layer: dict[str, list[dict]] = {l: [] for l in order}
    waived: list[dict] = []
    facets = {"s": {s: 0 for s in SEVERITIES}, "t": {s: 0 for s in FINDING_STATUSES}, "l": {l: 0 for l in order}}
    namespaces: dict[str, int] = {}
    total = 0
    for check in report.get("checks") or []:
        rows = []
        for f in check.get("findings") or []:
            row = _finding_row(f, check, web, commit)
            total += 1
            facets["s"][row["sev"]] = facets["s"].get(row["sev"], 0) + 1
            facets["t"][row["status"]] = facets["t"].get(row["status"], 0) + 1
            facets["l"][row["layer"]] = facets["l"].get(row["layer"], 0) + 1
            key = row["ns"] or "-"
            namespaces[key] = namespaces.get(key, 0) + 1
            (waived if row["status"] == "waived" else rows).append(row)
        rows.sort(key=lambda r: (r["status_rank"], -r["sev_rank"], r["subject"]))
        subj = check.get("subjects") or {}
        entry = {
            "c": check,
            "sev_rank": SEV_RANK.get(check.get("severity"), 0),
            "status_rank": STATUS_RANK.get(check.get("status"), 9),
            "refs": _refs(check.get("references")),
            "rows": rows,
            "subjects": {k: subj.get(k, 0) for k in ("total", "passing", "failing", "warning", "waived")},
        }
        by_layer.setdefault(check.get("layer") or "", []).append(entry)
    for entries in by_layer.values():
        entries.sort(key=lambda e: (e["status_rank"], -e["sev_rank"], e["c"].get("id") or ""))
    waived.sort(key=lambda r: (r["check"], r["subject"]))
    ns_list = sorted(namespaces.items(), key=lambda kv: (kv[0] == "-", kv[0]))
    return by_layer, waived, facets, ns_list, total


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
    return {"rows": rows, "layout": layout, "nodes": nodes}


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
    return {"layout": layout, "nodes": info}


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


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its extension: manifest text is hostile
        # Partial reports (an engine error mid-scan) must still render: missing keys read as empty.
        undefined=jinja2.ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
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


def render(report: dict, options: dict | None = None) -> str:
    options = options or {}
    web, commit = repo_link_base(report, options)
    order = _layer_order(report)
    by_layer, waived, facets, namespaces, total = _sections(report, order, web, commit)
    css, js, script_hash = _assets()
    scan = report.get("scan") or {}
    score = report.get("score") or {}
    return _env().get_template("report.html.j2").render(
        r=report,
        scan=scan,
        score=score,
        overall_grade=score.get("grade") or grade_of(score.get("overall")),
        gate=report.get("gate") or {},
        tool=report.get("tool") or {},
        web=web,
        commit=commit,
        commit_href=f"{web}/commit/{commit}" if web and commit else None,
        gauge=svg.gauge(score.get("overall")),
        bands=_bands(report, order),
        order=order,
        by_layer=by_layer,
        waived=waived,
        waivers=report.get("waivers") or [],
        facets=facets,
        namespaces=namespaces,
        total=total,
        matrix=_matrix(report, order),
        exposure=_exposure(report, web, commit),
        flux=_flux(report),
        trend=_trend(report, options.get("history") or [], order),
        errors=report.get("errors") or [],
        css=css,
        js=js,
        script_hash=script_hash,
        source_href=lambda p, l: source_href(web, commit, p, l),
    )
