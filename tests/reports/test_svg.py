"""The layered DAG layout behind the Flux graph and exposure map: order, no overlap, speed."""
from __future__ import annotations

import random
import time

from reports import svg


def _overlaps(layout) -> list[tuple[str, str]]:
    bad = []
    by_col: dict[int, list] = {}
    for n, b in layout.boxes.items():
        by_col.setdefault(b.column, []).append((b.y, b.h, n))
    for col in by_col.values():
        col.sort()
        for (y1, h1, a), (y2, _, b) in zip(col, col[1:]):
            if y1 + h1 > y2:
                bad.append((a, b))
    return bad


def test_edges_point_right_in_a_dag():
    nodes = ["root", "a", "b", "c", "d"]
    edges = [("root", "a", "creates"), ("root", "b", "creates"), ("a", "c", "creates"), ("b", "c", "dependsOn"),
             ("c", "d", "creates"), ("root", "d", "creates")]
    lay = svg.layered_layout(nodes, edges)
    for s, t, _ in edges:
        assert lay.boxes[s].rank < lay.boxes[t].rank
    assert lay.boxes["d"].rank == 3  # longest path, not shortest
    assert not _overlaps(lay)
    assert all(not e.back for e in lay.edges)
    assert lay.width > 0 and lay.height > 0


def test_cycles_and_unknown_nodes_do_not_break_it():
    lay = svg.layered_layout(["a", "b", "c"], [("a", "b", "x"), ("b", "c", "x"), ("c", "a", "x"), ("a", "zz", "x"), ("b", "b", "x")])
    assert set(lay.boxes) == {"a", "b", "c"}
    assert len(lay.edges) == 3 and sum(e.back for e in lay.edges) == 1


def test_wide_ranks_wrap_into_columns():
    nodes = ["root"] + [f"n{i}" for i in range(100)]
    lay = svg.layered_layout(nodes, [("root", f"n{i}", "creates") for i in range(100)], max_per_column=40)
    assert lay.columns == 1 + 3
    assert lay.height < 45 * (26 + 8)
    assert not _overlaps(lay)


def test_fixed_ranks_are_kept():
    lay = svg.layered_layout(["z", "v", "h"], [("z", "v", ""), ("v", "h", "")], fixed_rank={"z": 0, "v": 1, "h": 3})
    assert [lay.boxes[n].rank for n in "zvh"] == [0, 1, 3]


def test_three_hundred_nodes_lay_out_fast():
    rnd = random.Random(1)
    nodes = [f"n{i}" for i in range(300)]
    edges = [(f"n{rnd.randrange(i)}", f"n{i}", "creates") for i in range(1, 300)]
    edges += [(f"n{rnd.randrange(300)}", f"n{rnd.randrange(300)}", "dependsOn") for _ in range(150)]
    start = time.perf_counter()
    lay = svg.layered_layout(nodes, edges)
    assert time.perf_counter() - start < 1.0
    assert len(lay.boxes) == 300 and not _overlaps(lay)


def test_gauge_and_polylines():
    g = svg.gauge(75.0)
    assert g["track"].startswith("M") and g["value"].startswith("M")
    assert svg.gauge(None)["value"] is None
    segs = svg.polyline_segments([50, None, 70, 80], 0, 0, 300, 100)
    assert len(segs) == 2 and segs[0] == "0.0,50.0"
