"""The order of mapping keys in kustomize's output.

kustomize prints each object through sigs.k8s.io/yaml (JSON to goyaml.v2), whose writer sorts a
map's keys with goyaml.v2's keyList.Less: runes compared one by one; two letters by code point; a
letter against another rune puts the other first; two other runes by the digit runs starting there
(as numbers, a zero after a non-zero digit counting as a continuation), then by the runs' lengths,
then by code point; a prefix first. This order is not transitive for every set of keys, and Go's
sort is not stable, so a set of keys is ordered here only when the relation is a strict total
order on it (checked pair by pair); keys of other runes than ASCII (Go's and Python's Unicode
tables differ in age) and digit runs Go's int64 would overflow on are refused too.
"""
from __future__ import annotations

import re
from functools import cmp_to_key, lru_cache

from scanner.inventory.builder.native.model import EMPTY_NULL, FLOW_EMPTY, NotNative

_LETTERS = re.compile(r"[A-Za-z]*")
_LONG_DIGITS = re.compile(r"[0-9]{19}")
MAX_CHECKED_KEYS = 256  # pairs checked grow with the square; a larger map of odd keys goes to kustomize


def printed(o):
    """A body as kustomize prints it: keys in its order, EMPTY_NULL null, FLOW_EMPTY an empty string
    (raises NotNative)."""
    if isinstance(o, dict):
        return {k: printed(o[k]) for k in key_order(tuple(o))}
    if isinstance(o, list):
        return [printed(v) for v in o]
    if o is EMPTY_NULL:
        return None
    return "" if o is FLOW_EMPTY else o


@lru_cache(maxsize=4096)
def key_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    if all(_LETTERS.fullmatch(k) for k in keys):
        return tuple(sorted(keys))  # letters only: the order is the code points'
    for k in keys:
        if not k.isascii() or _LONG_DIGITS.search(k):
            raise NotNative(f"a mapping key ({k[:40]!r}) kustomize's writer may order otherwise")
    if len(keys) > MAX_CHECKED_KEYS:
        raise NotNative(f"a mapping of {len(keys)} keys that are not all letters")
    out = sorted(keys, key=cmp_to_key(_compare))
    for i, a in enumerate(out):
        for b in out[i + 1:]:
            if not _less(a, b) or _less(b, a):
                raise NotNative(f"mapping keys ({a[:40]!r}, {b[:40]!r}) kustomize's writer orders in no one way")
    return tuple(out)


def _compare(a: str, b: str) -> int:
    return -1 if _less(a, b) else (1 if _less(b, a) else 0)


def _less(a: str, b: str) -> bool:
    """goyaml.v2's keyList.Less for two ASCII string keys."""
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            continue
        al, bl = ca.isalpha(), cb.isalpha()
        if al and bl:
            return ca < cb
        if al or bl:
            return bl
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and a[j].isdigit():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdigit():
            an = an * 10 + ord(a[ai]) - 48
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdigit():
            bn = bn * 10 + ord(b[bi]) - 48
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)
