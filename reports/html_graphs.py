"""The report's two graphs (Flux dependency graph, exposure map) as view models and inline SVG.

Both must stay usable at 100+ apps: every node links to its findings (`#f?g=<node id>`, which the
page's script turns into a filter), the page's script searches and zooms them, each has a table
view, and a Flux graph larger than `COLLAPSE_FROM` nodes is drawn as one overview node per
namespace group, each group expandable into its own graph (a <details>, so it works without JS).
Every label is escaped; the SVG is built as strings because the 100x graph has ~20,000 nodes.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from urllib.parse import quote

from markupsafe import Markup

from reports import svg
from reports.forge import Forge

COLLAPSE_FROM = 60  # Flux nodes: above this, the graph is shown per namespace group
SEV_RANK = {"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}
RANK_SEV = {v: k for k, v in SEV_RANK.items()}

try:  # markupsafe's C escaper, without the Markup wrapper per value
    from markupsafe._speedups import _escape_inner as _escape_str
except ImportError:  # pragma: no cover - pure-Python markupsafe
    from markupsafe import escape as _escape_markup

    def _escape_str(s: str) -> str:
        return str(_escape_markup(s))


def e(value: object) -> str:
    """A value as jinja's autoescape prints it: str(), then HTML-escaped."""
    return _escape_str(value if type(value) is str else str(value))


def node_key(kind: object, namespace: object, name: object) -> str:
    """The id a finding row and a graph node share: `Kind/namespace/name`, spaces encoded (the page
    keeps several in one space-separated attribute)."""
    return f"{kind}/{namespace or '-'}/{name}".replace("%", "%25").replace(" ", "%20")


def filter_href(key: str) -> str:
    return "#f?g=" + quote(key, safe="/")


def _truncate(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def dag_svg(layout: svg.Layout, nodes: dict, kind: str, label: str, ident: str) -> Markup:
    """The inline SVG of a laid-out DAG; each node a link to its findings (or its group)."""
    w, h = str(int(round(layout.width))), str(int(round(layout.height)))
    ekind, eid = e(kind), e(ident)
    out = [f'<svg class="dag {ekind}" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
           f'aria-label="{e(label)}" data-w="{w}">\n'
           f'  <defs><marker id="arrow-{eid}" viewBox="0 0 8 8" refX="7.5" refY="4" markerWidth="7" markerHeight="7" '
           f'orient="auto"><path class="arrow" d="M0,0 L8,4 L0,8 z"/></marker></defs>\n  <g class="edges">\n']
    marker = f'" marker-end="url(#arrow-{eid})"/>\n'
    for edge in layout.edges:
        out.append(f'<path class="e {e(edge.kind)}{" back" if edge.back else ""}" d="{e(edge.d)}{marker}')
    out.append('  </g>\n  <g class="nodes">\n')
    for nid, b in layout.boxes.items():
        n = nodes[nid]
        ty = str(b.h / 2 + 4)
        transform = f'transform="translate({b.x:.1f},{b.y:.1f})"'
        search = e(n.get("search") or n.get("title") or "")
        out.append(f'  <a href="{e(n["href"])}" class="node {e(n.get("cls", ""))}" {transform} data-q="{search}">'
                   f'<title>{e(n.get("title") or "")}</title>'
                   f'<rect width="{b.w}" height="{b.h}" rx="5"/>')
        if n.get("tag"):
            out.append(f'<text class="k" x="6" y="{ty}">{e(n["tag"])}</text><text x="30" y="{ty}">')
        else:
            out.append(f'<text x="9" y="{ty}">')
        out.append(f'{e(_truncate(n.get("label") or "", n.get("chars", 24)))}</text></a>\n')
    out.append("  </g>\n</svg>\n")
    return Markup("".join(out))


# ------------------------------------------------------------------------------ finding membership

def finding_nodes(report: dict) -> tuple[dict[int, list[str]], dict[str, list]]:
    """(id(finding) -> graph node keys it belongs to, node key -> [worst severity rank, open count]).

    A finding belongs to the node of its own resource (Flux object, route) and, for a HelmRelease,
    to the objects rendered from it (same file: their location is the HelmRelease's values)."""
    graph = report.get("flux_graph") or {}
    hr_by_path: dict[str, str] = {}
    flux_ids = set()
    for n in graph.get("nodes") or []:
        key = node_key(n.get("kind"), n.get("namespace"), n.get("name"))
        flux_ids.add(key)
        if n.get("kind") == "HelmRelease" and n.get("path"):
            hr_by_path.setdefault(n["path"], key)
    route_ids = {node_key(x.get("kind"), x.get("namespace"), x.get("name")) for x in report.get("exposure") or []}
    wanted = flux_ids | route_ids
    member: dict[int, list[str]] = {}
    stats: dict[str, list] = defaultdict(lambda: [0, 0])
    for check in report.get("checks") or []:
        check_sev = check.get("severity")
        for f in check.get("findings") or []:
            r = f.get("resource") or {}
            keys = []
            if r:
                own = node_key(r.get("kind"), r.get("namespace"), r.get("name"))
                if own in wanted:
                    keys.append(own)
            hr = hr_by_path.get((f.get("location") or {}).get("path") or "")
            if hr and hr not in keys:
                keys.append(hr)
            if not keys:
                continue
            member[id(f)] = keys
            if f.get("status") in ("fail", "warn"):
                rank = SEV_RANK.get(f.get("severity") or check_sev or "info", 0)
                for k in keys:
                    s = stats[k]
                    s[0] = max(s[0], rank)
                    s[1] += 1
    return member, stats


# ------------------------------------------------------------------------------ Flux graph

def _groups(nodes: list[dict], edges: list[dict]) -> dict[str, str]:
    """node id -> namespace group: a HelmRelease's namespace; a Kustomization's is the namespace of
    the HelmReleases it creates (then of the Kustomizations it creates), else its own. Flux objects
    often all live in flux-system: grouping by the app namespace is what a reviewer looks for."""
    by_id = {n["id"]: n for n in nodes}
    children: dict[str, list[str]] = defaultdict(list)
    for ed in edges:
        if ed.get("type") != "dependsOn" and ed.get("from") in by_id and ed.get("to") in by_id:
            children[ed["from"]].append(ed["to"])
    group: dict[str, str] = {}
    for n in nodes:
        if n.get("kind") != "Kustomization":
            group[n["id"]] = n.get("namespace") or "-"
    for _ in range(3):  # KS -> KS -> HR chains are rarely deeper than this
        for n in nodes:
            if n["id"] in group:
                continue
            kids = [group[c] for c in children.get(n["id"], ()) if c in group]
            if kids:
                group[n["id"]] = Counter(kids).most_common(1)[0][0]
    for n in nodes:
        group.setdefault(n["id"], n.get("namespace") or "-")
    return group


def _flux_node(n: dict, stats: dict, forge: Forge | None) -> dict:
    key = node_key(n.get("kind"), n.get("namespace"), n.get("name"))
    worst, count = stats.get(key, (0, 0))
    ks = n.get("kind") == "Kustomization"
    title = f"{n.get('kind', '')} {n.get('namespace') or '-'}/{n.get('name', '')}"
    if n.get("path"):
        title += f" — {n['path']}" + (f":{n['line']}" if n.get("line") else "")
    if count:
        title += f" — {count} open finding(s), worst {RANK_SEV.get(worst, '')}"
    if n.get("suspended"):
        title += " — suspended"
    if n.get("deployed") is False:
        title += " — not deployed"
    cls = ("ks" if ks else "hr") + f" n-{RANK_SEV.get(worst, 'none')}"
    cls += " suspended" if n.get("suspended") else ""
    cls += " undeployed" if n.get("deployed") is False else ""
    return {"id": n["id"], "key": key, "kind": n.get("kind"), "name": n.get("name") or "", "namespace": n.get("namespace"),
            "label": n.get("name") or "", "tag": "KS" if ks else "HR", "cls": cls, "title": title,
            "search": f"{n.get('kind')} {n.get('namespace')}/{n.get('name')} {n.get('path') or ''}".lower(),
            "href": filter_href(key), "worst": RANK_SEV.get(worst), "count": count,
            "path": n.get("path"), "line": n.get("line"), "suspended": bool(n.get("suspended")),
            "deployed": n.get("deployed") is not False,
            "file_href": forge.file_url(n.get("path"), n.get("line")) if forge else None}


def flux(report: dict, stats: dict, forge: Forge | None) -> dict | None:
    graph = report.get("flux_graph") or {}
    gnodes = [n for n in graph.get("nodes") or [] if isinstance(n, dict) and n.get("id")]
    if not gnodes:
        return None
    gedges = [ed for ed in graph.get("edges") or [] if isinstance(ed, dict)]
    info = {n["id"]: _flux_node(n, stats, forge) for n in gnodes}
    # Dependencies go left of their dependents; parents left of what they create.
    edges = []
    for ed in gedges:
        if ed.get("from") not in info or ed.get("to") not in info:
            continue
        if ed.get("type") == "dependsOn":
            edges.append((ed["to"], ed["from"], "dependsOn"))
        else:
            edges.append((ed["from"], ed["to"], ed.get("type") or "creates"))
    group_of = _groups(gnodes, gedges)
    parents: dict[str, list[str]] = defaultdict(list)
    deps: dict[str, list[str]] = defaultdict(list)
    for a, b, kind in edges:
        (deps if kind == "dependsOn" else parents)[b].append(info[a]["label"])
    rows = []
    for nid, n in info.items():
        rows.append({**n, "group": group_of[nid], "parents": parents.get(nid, []), "deps": deps.get(nid, [])})
    rows.sort(key=lambda r: (-SEV_RANK.get(r["worst"] or "", 0), r["group"], r["kind"] or "", r["name"]))
    view = {"rows": rows, "total": len(info), "collapsed": len(info) > COLLAPSE_FROM}
    if not view["collapsed"]:
        layout = svg.layered_layout(list(info), edges)
        view["svg"] = dag_svg(layout, info, "flux", "Flux dependency graph", "flux")
        return view
    # One overview node per group, and one graph per group (its nodes and the edges inside it).
    members: dict[str, list[str]] = defaultdict(list)
    for nid in info:
        members[group_of[nid]].append(nid)
    names = sorted(members)
    gid = {g: f"fg-{i}" for i, g in enumerate(names)}
    overview_nodes, overview_edges, seen = {}, [], set()
    groups = []
    for g in names:
        ids = members[g]
        worst = max((SEV_RANK.get(info[i]["worst"] or "", 0) for i in ids), default=0)
        count = sum(info[i]["count"] for i in ids)
        n_ks = sum(1 for i in ids if info[i]["tag"] == "KS")
        label = f"{g} · {n_ks} KS · {len(ids) - n_ks} HR"
        overview_nodes[gid[g]] = {"label": label, "chars": 34, "href": f"#{gid[g]}", "cls": f"grp n-{RANK_SEV.get(worst, 'none')}",
                                  "title": f"{g}: {n_ks} Kustomization(s), {len(ids) - n_ks} HelmRelease(s), "
                                           f"{count} open finding(s) — click to expand",
                                  "search": " ".join([g] + [info[i]["search"] for i in ids])}
        inner = set(ids)
        sub_edges = [(a, b, k) for a, b, k in edges if a in inner and b in inner]
        layout = svg.layered_layout(ids, sub_edges)
        groups.append({"id": gid[g], "name": g, "count": count, "worst": RANK_SEV.get(worst), "nodes": len(ids),
                       "ks": n_ks, "svg": dag_svg(layout, info, "flux", f"Flux graph of {g}", gid[g])})
    for a, b, k in edges:
        ga, gb = gid[group_of[a]], gid[group_of[b]]
        if ga != gb and (ga, gb) not in seen:
            seen.add((ga, gb))
            overview_edges.append((ga, gb, k))
    layout = svg.layered_layout(list(overview_nodes), overview_edges, node_w=250)
    view["svg"] = dag_svg(layout, overview_nodes, "flux overview", "Flux graph by namespace", "flux-overview")
    view["groups"] = groups
    return view


# ------------------------------------------------------------------------------ exposure map

def _auth(x: dict) -> tuple[str | None, str, bool]:
    """(label, detail, accepted) from `auth`, a mechanism string or the engine's AuthInfo dict."""
    auth = x.get("auth")
    if isinstance(auth, dict):
        label = ":".join(str(v) for v in (auth.get("provider") or x.get("auth_provider"),
                                          auth.get("mechanism") or x.get("auth_mechanism")) if v)
        detail = " — ".join(str(v) for v in (auth.get("detail"), auth.get("declared_at")) if v)
        return label or "auth", detail, auth.get("accepted") is not False
    if auth:
        return str(auth), "", True
    return None, "", True


def _loc_text(loc: dict | None) -> str:
    if not loc or not loc.get("path"):
        return ""
    return f"{loc['path']}:{loc['line']}" if loc.get("line") else str(loc["path"])


def exposure(report: dict, stats: dict, forge: Forge | None) -> dict:
    """Zones -> entry (class/gateway) -> host -> backend, as a 4-column pinned DAG, and its table."""
    items = [x for x in report.get("exposure") or [] if isinstance(x, dict)]
    nodes: dict[str, dict] = {}
    edges: list[tuple[str, str, str]] = []
    rank: dict[str, int] = {}
    rows = []

    def node(key: str, r: int, **kw) -> str:
        if key not in nodes:
            kw.setdefault("href", "#exposure-table")
            kw.setdefault("chars", 30)
            nodes[key] = kw
            rank[key] = r
        return key

    for i, x in enumerate(items):
        ext = x.get("exposure") == "external"
        zone = node(f"z:{'ext' if ext else 'int'}", 0, label="Internet" if ext else "Internal network",
                    cls="zone-ext" if ext else "zone-int", title="")
        via = x.get("via") or x.get("kind") or "?"
        v = node(f"v:{zone}:{via}", 1, label=via, cls="via", title=f"{x.get('kind')} via {via}")
        auth, auth_detail, accepted = _auth(x)
        # An auth guard from a provider the config does not accept is shown, but not as "protected".
        state = ("auth" if accepted else "auth-weak") if auth else ("open-ext" if ext else "open-int")
        key = node_key(x.get("kind"), x.get("namespace"), x.get("name"))
        ident = f"{x.get('kind')} {x.get('namespace') or '-'}/{x.get('name')}"
        worst, count = stats.get(key, (0, 0))
        title = (f"{x.get('host')} — {ident} — auth: {auth or 'none'}" + (f" — {x['reason']}" if x.get("reason") else "")
                 + (f" — {count} open finding(s)" if count else ""))
        h = node(f"h:{i}", 2, label=x.get("host") or x.get("name") or "?", cls=f"host {state}", title=title,
                 href=filter_href(key), search=f"{x.get('host') or ''} {ident} {x.get('backend') or ''}".lower())
        edges += [(zone, v, "route"), (v, h, "route")]
        if x.get("backend"):
            b = node(f"b:{x['backend']}", 3, label=x["backend"], cls="backend", title=x["backend"])
            edges.append((h, b, "route"))
        loc = x.get("location") or {}
        rows.append({**x, "host": x.get("host") or f"({x.get('name') or '?'})", "state": state,
                     "auth": auth, "auth_detail": auth_detail, "accepted": accepted, "loc": _loc_text(loc),
                     "href": forge.file_url(loc.get("path"), loc.get("line")) if forge else None,
                     "filter": filter_href(key), "count": count})
    rows.sort(key=lambda r: (r.get("exposure") != "external", r["state"] != "open-ext", r.get("host") or ""))
    if not nodes:
        return {"rows": rows, "svg": None}
    layout = svg.layered_layout(list(nodes), edges, fixed_rank=rank, node_w=210, gap_x=46, max_per_column=60)
    return {"rows": rows, "svg": dag_svg(layout, nodes, "exposure", "Exposure map", "exposure")}
