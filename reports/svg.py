"""Geometry for the report's inline SVG: a layered DAG layout, the gauge arc and trend polylines.

This module only computes numbers and path strings; the templates draw the elements, so every
label goes through jinja's autoescape and no manifest text is ever formatted into markup here.

The DAG layout is a small Sugiyama-style pass chosen to stay linear-ish for a few hundred nodes:
cycle breaking by DFS, longest-path ranks, a few barycentre sweeps to reduce crossings, then
columns (ranks flow left to right). Ranks wider than `max_per_column` wrap into several columns
so a Flux tree with 200 HelmReleases under one Kustomization stays a readable height.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class Box:
    """A node's box in a laid-out graph: position, size, rank and column."""

    x: float
    y: float
    w: float
    h: float
    rank: int
    column: int


@dataclass(slots=True)
class Edge:
    """An edge of a laid-out graph, with its SVG path."""

    source: str
    target: str
    d: str  # SVG path data
    kind: str = ""
    back: bool = False  # drawn against the rank direction (part of a cycle or same column)


@dataclass(slots=True)
class Layout:
    """A laid-out graph: the boxes, the routed edges and the canvas size."""

    boxes: dict[str, Box] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0
    columns: int = 0


def _acyclic(nodes: list[str], succ: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Edges that close a cycle (found by an iterative DFS); ranking ignores them."""
    state: dict[str, int] = {}  # 1 = on stack, 2 = done
    back: set[tuple[str, str]] = set()
    for root in nodes:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(succ.get(root, ())))]
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ.get(nxt, ()))))
    return back


def _ranks(nodes: list[str], succ: dict[str, list[str]], back: set[tuple[str, str]]) -> dict[str, int]:
    """Longest-path ranking over the acyclic part (Kahn's algorithm, O(V+E))."""
    indeg = {n: 0 for n in nodes}
    for u in nodes:
        for v in succ.get(u, ()):
            if (u, v) not in back:
                indeg[v] += 1
    rank = {n: 0 for n in nodes}
    queue = [n for n in nodes if indeg[n] == 0]
    i = 0
    while i < len(queue):
        u = queue[i]
        i += 1
        for v in succ.get(u, ()):
            if (u, v) in back:
                continue
            rank[v] = max(rank[v], rank[u] + 1)
            indeg[v] -= 1
            if indeg[v] == 0:
                queue.append(v)
    return rank


def _order(layers: list[list[str]], pred: dict[str, list[str]], succ: dict[str, list[str]], sweeps: int) -> None:
    """Barycentre heuristic: reorder each rank by the mean position of its neighbours, in place."""
    pos: dict[str, float] = {}

    def index(layer: list[str]) -> None:
        n = max(len(layer) - 1, 1)
        for i, v in enumerate(layer):
            pos[v] = i / n  # normalised so ranks of different sizes compare

    for layer in layers:
        index(layer)
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        seq = layers[1:] if down else layers[-2::-1]
        for layer in seq:
            nbrs = pred if down else succ
            keyed = []
            for i, v in enumerate(layer):
                ps = [pos[u] for u in nbrs.get(v, ()) if u in pos]
                keyed.append((sum(ps) / len(ps) if ps else pos[v], i, v))
            keyed.sort()
            layer[:] = [v for _, _, v in keyed]
            index(layer)


def layered_layout(
    nodes: list[str],
    edges: list[tuple[str, str, str]],
    *,
    fixed_rank: dict[str, int] | None = None,
    node_w: float = 190,
    node_h: float = 26,
    gap_x: float = 60,
    gap_y: float = 8,
    max_per_column: int = 40,
    sweeps: int = 4,
    pad: float = 8,
) -> Layout:
    """Lay out a directed graph left to right.

    `edges` are (source, target, kind); an edge means "source is drawn left of target".
    `fixed_rank` pins nodes to columns (the exposure map's zones -> entry -> host -> backend).
    """
    seen: set[str] = set()
    order = [n for n in nodes if not (n in seen or seen.add(n))]
    known = set(order)
    succ: dict[str, list[str]] = {n: [] for n in order}
    pred: dict[str, list[str]] = {n: [] for n in order}
    clean = []
    for s, t, kind in edges:
        if s in known and t in known and s != t:
            succ[s].append(t)
            pred[t].append(s)
            clean.append((s, t, kind))

    if fixed_rank is not None:
        rank = {n: fixed_rank.get(n, 0) for n in order}
    else:
        rank = _ranks(order, succ, _acyclic(order, succ))
    depth = max(rank.values(), default=-1) + 1
    layers: list[list[str]] = [[] for _ in range(depth)]
    for n in order:
        layers[rank[n]].append(n)
    _order(layers, pred, succ, sweeps)

    # Wrap wide ranks into several columns, keeping their order top-to-bottom, column by column.
    columns: list[tuple[int, list[str]]] = []
    for r, layer in enumerate(layers):
        if not layer:
            continue
        parts = max(1, math.ceil(len(layer) / max_per_column))
        per = math.ceil(len(layer) / parts)
        for p in range(parts):
            columns.append((r, layer[p * per:(p + 1) * per]))

    tallest = max((len(c) for _, c in columns), default=0)
    full_h = tallest * (node_h + gap_y) - gap_y if tallest else 0
    out = Layout(columns=len(columns))
    for ci, (r, col) in enumerate(columns):
        col_h = len(col) * (node_h + gap_y) - gap_y
        y0 = pad + (full_h - col_h) / 2  # centre short columns against the tallest one
        x = pad + ci * (node_w + gap_x)
        for i, n in enumerate(col):
            out.boxes[n] = Box(x, y0 + i * (node_h + gap_y), node_w, node_h, r, ci)
    out.width = pad * 2 + len(columns) * (node_w + gap_x) - (gap_x if columns else 0)
    out.height = pad * 2 + full_h

    for s, t, kind in clean:
        a, b = out.boxes[s], out.boxes[t]
        if b.column > a.column:
            x1, y1 = a.x + a.w, a.y + a.h / 2
            x2, y2 = b.x, b.y + b.h / 2
            mid = (x1 + x2) / 2
            d = f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            out.edges.append(Edge(s, t, d, kind))
        else:
            # Same or earlier column: loop out to the right of both boxes so it stays visible.
            x1, y1 = a.x + a.w, a.y + a.h / 2
            x2, y2 = b.x + b.w, b.y + b.h / 2
            bulge = max(x1, x2) + gap_x * 0.45
            d = f"M{x1:.1f},{y1:.1f} C{bulge:.1f},{y1:.1f} {bulge:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            out.edges.append(Edge(s, t, d, kind, back=True))
    return out


def arc_path(cx: float, cy: float, r: float, start_deg: float, end_deg: float) -> str:
    """SVG arc from start to end angle (degrees, 0 = 3 o'clock, clockwise positive on screen)."""
    if end_deg - start_deg >= 360:
        end_deg = start_deg + 359.99
    a0, a1 = math.radians(start_deg), math.radians(end_deg)
    x0, y0 = cx + r * math.cos(a0), cy + r * math.sin(a0)
    x1, y1 = cx + r * math.cos(a1), cy + r * math.sin(a1)
    large = 1 if end_deg - start_deg > 180 else 0
    return f"M{x0:.2f},{y0:.2f} A{r:.2f},{r:.2f} 0 {large} 1 {x1:.2f},{y1:.2f}"


def gauge(score: float | None, r: float = 70, stroke: float = 14) -> dict:
    """A 240-degree gauge: track path, value path (empty for no score) and the view box."""
    start, sweep = 150.0, 240.0
    cx = cy = r + stroke
    value = None
    if score is not None:
        frac = min(max(score, 0.0), 100.0) / 100.0
        value = arc_path(cx, cy, r, start, start + max(sweep * frac, 0.5))
    return {
        "size": 2 * (r + stroke),
        "cx": cx,
        "cy": cy,
        "track": arc_path(cx, cy, r, start, start + sweep),
        "value": value,
        "stroke": stroke,
    }


def polyline_segments(values: list[float | None], x0: float, y0: float, w: float, h: float,
                      vmin: float = 0.0, vmax: float = 100.0) -> list[str]:
    """Points strings for <polyline>; a missing value (layer not assessed) breaks the line."""
    n = len(values)
    step = w / (n - 1) if n > 1 else 0.0
    segs: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segs[-1]:
                segs.append([])
            continue
        x = x0 + (i * step if n > 1 else w / 2)
        y = y0 + h - (min(max(v, vmin), vmax) - vmin) / (vmax - vmin) * h
        segs[-1].append(f"{x:.1f},{y:.1f}")
    return [" ".join(s) for s in segs if s]


def scale_y(v: float, y0: float, h: float, vmin: float = 0.0, vmax: float = 100.0) -> float:
    return y0 + h - (v - vmin) / (vmax - vmin) * h
