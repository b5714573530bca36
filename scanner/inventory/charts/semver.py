"""Chart versions and Helm's version constraints (Masterminds/semver v3, which Helm and Flux use):
`1.2.3`, `1.2.x`, `*`, `~1.2`, `^1.2.3`, comparisons, `1.2 - 1.4`, `,`/space for AND, `||` for OR.
Prereleases match only a constraint that names one."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$")
_PART = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")
_OP = re.compile(r"^(>=|=>|<=|=<|!=|>|<|=|~>|~|\^)?\s*(.+)$")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    pre: tuple = ()

    def _pre_key(self):
        # A release sorts after its prereleases; numeric identifiers sort before alphanumeric ones.
        if not self.pre:
            return (1,)
        return (0,) + tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.pre)

    def __lt__(self, other: "Version") -> bool:
        return (self.major, self.minor, self.patch, self._pre_key()) < \
            (other.major, other.minor, other.patch, other._pre_key())


def parse_version(s: str) -> Version | None:
    m = _VERSION.match(str(s).strip())
    if not m:
        return None
    return Version(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0),
                   tuple(m.group(4).split(".")) if m.group(4) else ())


class BadConstraint(ValueError):
    pass


def _bound(text: str) -> tuple[list, int, tuple]:
    """`1.2.x` -> ([1, 2], number of given parts before a wildcard, prerelease)."""
    m = _PART.match(text.strip())
    if not m:
        raise BadConstraint(f"invalid version {text!r} in constraint")
    nums = []
    for g in m.groups()[:3]:
        if g is None or g in ("x", "X", "*"):
            break
        nums.append(int(g))
    pre = tuple(m.group(4).split(".")) if m.group(4) and len(nums) == 3 else ()
    return nums, len(nums), pre


def _v(nums: list, pre: tuple = ()) -> Version:
    n = nums + [0] * (3 - len(nums))
    return Version(n[0], n[1], n[2], pre)


def _next(nums: list) -> Version:
    """The first version after every version matching the partial `nums` (1.2 -> 1.3.0)."""
    if not nums:
        return Version(1 << 62, 0, 0)
    bumped = nums[:-1] + [nums[-1] + 1]
    return _v(bumped)


def _comparators(term: str) -> list:
    """A single constraint term -> [(op, Version)] all of which must hold."""
    m = _OP.match(term.strip())
    if not m:
        raise BadConstraint(f"invalid constraint {term!r}")
    op, rest = m.group(1) or "=", m.group(2)
    if rest in ("*", "x", "X"):
        return [(">=", Version(0, 0, 0, ("0",)))] if op in ("=", ">=", "~", "^", "~>") else [("<", Version(0, 0, 0))]
    nums, given, pre = _bound(rest)
    low = _v(nums, pre)
    if op in ("=",):
        return [("=", low)] if given == 3 else [(">=", low), ("<", _next(nums))]
    if op == "!=":
        return [("!=", low)] if given == 3 else [("!range", (low, _next(nums)))]
    if op in (">=", "=>"):
        return [(">=", low)]
    if op == ">":
        return [(">", low)] if given == 3 else [(">=", _next(nums))]
    if op == "<":
        return [("<", low)]
    if op in ("<=", "=<"):
        return [("<=", low)] if given == 3 else [("<", _next(nums))]
    if op in ("~", "~>"):
        upper = _next(nums[:2]) if given >= 2 else _next(nums[:1])
        return [(">=", low), ("<", upper)]
    # caret: the leftmost non-zero part stays
    if given == 0:
        return [(">=", Version(0, 0, 0))]
    if nums[0] > 0 or given == 1:
        upper = _next(nums[:1])
    elif given == 2 or nums[1] > 0:
        upper = _next(nums[:2])
    else:
        upper = _next(nums[:3])
    return [(">=", low), ("<", upper)]


def _holds(op: str, bound, v: Version) -> bool:
    if op == "=":
        return v == bound
    if op == "!=":
        return v != bound
    if op == "!range":
        lo, hi = bound
        return not (lo <= v < hi)
    if op == ">=":
        return v >= bound
    if op == ">":
        return v > bound
    if op == "<":
        return v < bound
    return v <= bound


def parse_constraint(text: str) -> list[tuple[list, bool]]:
    """OR-groups of AND-ed comparators, each group with whether it names a prerelease."""
    groups = []
    for alt in str(text).split("||"):
        alt = re.sub(r"\s+-\s+", " HYPHEN ", alt.strip())
        alt = re.sub(r"(>=|=>|<=|=<|!=|~>|[<>=~^])\s+", r"\1", alt)
        terms = [t for t in re.split(r"[\s,]+", alt) if t]
        comps: list = []
        i = 0
        while i < len(terms):
            if i + 2 < len(terms) and terms[i + 1] == "HYPHEN":
                comps += _comparators(">=" + terms[i]) + _comparators("<=" + terms[i + 2])
                i += 3
                continue
            comps += _comparators(terms[i])
            i += 1
        if not comps:
            comps = _comparators("*")
        groups.append((comps, "-" in alt.replace(" HYPHEN ", " ")))
    return groups


def satisfies(version: str, constraint: str) -> bool:
    v = parse_version(version)
    if v is None:
        return False
    for comps, names_pre in parse_constraint(constraint):
        if v.pre and not names_pre:
            continue
        if all(_holds(op, b, v) for op, b in comps):
            return True
    return False


def best(versions: list[str], constraint: str) -> str | None:
    """The highest of `versions` that satisfies `constraint` (an exact version matches itself)."""
    constraint = (constraint or "*").strip() or "*"
    if constraint in versions:
        return constraint
    groups = parse_constraint(constraint)
    chosen, chosen_v = None, None
    for s in versions:
        v = parse_version(s)
        if v is None:
            continue
        ok = any((not v.pre or names_pre) and all(_holds(op, b, v) for op, b in comps) for comps, names_pre in groups)
        if ok and (chosen_v is None or v > chosen_v):
            chosen, chosen_v = s, v
    return chosen
