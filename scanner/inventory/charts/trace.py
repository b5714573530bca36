"""Which line of the HelmRelease produced a rendered object, where it can be told: a route whose
host is a value of `spec.values`, a workload whose image repository is one. A value that appears
at several places traces nowhere (the line would be a guess)."""
from __future__ import annotations

from collections import defaultdict

ROUTE_KINDS = ("Ingress", "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute")


def _strings(v, path: tuple, out: dict) -> None:
    if isinstance(v, dict):
        for k, x in v.items():
            _strings(x, path + (k,), out)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _strings(x, path + (i,), out)
    elif isinstance(v, str) and v:
        out[v].append(path)


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def _hosts(obj: dict) -> list[str]:
    spec = _d(obj.get("spec"))
    if obj.get("kind") == "Ingress":
        return [str(r.get("host")) for r in _l(spec.get("rules")) if isinstance(r, dict) and r.get("host")]
    return [str(h) for h in _l(spec.get("hostnames"))]


def _images(obj: dict) -> list[str]:
    out = []

    def walk(v, depth: int) -> None:
        if depth > 8:
            return
        if isinstance(v, dict):
            for k, x in v.items():
                if k in ("containers", "initContainers") and isinstance(x, list):
                    out.extend(str(c.get("image")) for c in x if isinstance(c, dict) and c.get("image"))
                else:
                    walk(x, depth + 1)

    walk(obj.get("spec"), 0)
    return out


def trace(objects: list[dict], values: dict, base: tuple = ("spec", "values")) -> dict[int, tuple]:
    """{object index: key path in the HelmRelease} for the objects that can be traced."""
    index: dict[str, list[tuple]] = defaultdict(list)
    _strings(values, (), index)
    out: dict[int, tuple] = {}
    for i, obj in enumerate(objects):
        found: set[tuple] = set()
        if obj.get("kind") in ROUTE_KINDS:
            for h in _hosts(obj):
                found.update(index.get(h, []))
        else:
            for image in _images(obj):
                repo = image.split("@", 1)[0].rsplit(":", 1)[0] if "/" in image else image.split(":", 1)[0]
                found.update(index.get(image, []) or index.get(repo, []))
        paths = {p[:-1] if isinstance(p[-1], int) else p for p in found}  # a host list traces to the list
        if len(paths) == 1:
            out[i] = base + paths.pop()
    return out
