"""Kubernetes label selector strings, as Flux patch targets and external-dns label filters write them."""
from __future__ import annotations

import re

_SET_TERM = re.compile(r"^\s*([^\s!=,()]+)\s+(in|notin)\s*\(([^)]*)\)\s*$")


def _split_selector(sel: str) -> list[str]:
    """Split on commas that are not inside `in (a, b)` value lists."""
    terms, depth, cur = [], 0, ""
    for ch in sel:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    return [t.strip() for t in terms if t.strip()]


def label_selector_matches(sel: str, labels: dict) -> bool:
    """Kubernetes label selector string: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`."""
    for term in _split_selector(sel):
        m = _SET_TERM.match(term)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            present = key in labels and str(labels[key]) in values
            if (op == "in" and not present) or (op == "notin" and present):
                return False
        elif "!=" in term:
            k, v = term.split("!=", 1)
            if str(labels.get(k.strip())) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if str(labels.get(k.strip())) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True
