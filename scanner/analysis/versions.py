"""How firmly a reference pins what Flux fetches: OCI tags and semver constraints.

Flux evaluates chart versions and `ref.semver` with Masterminds semver: constraints joined by `,` or
spaces must all hold, `||` separates alternatives; operators `= != > < >= <= ~ ~> ^`, wildcards
`x X *` in any part, and hyphen ranges `1.2 - 1.4`. A constraint *floats* when new releases can
satisfy it: it is `exact` (one version), `bounded` (an upper limit in every alternative) or
`unbounded` (`*`, `>=1.0`, an empty version: any future release).
"""
from __future__ import annotations

import re

SEMVER_TAG = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_CONSTRAINT = re.compile(r"^(=|!=|>=|=>|<=|=<|>|<|~>|~|\^)?\s*v?([0-9xX*]+(?:\.[0-9xX*]+){0,2}(?:[-+][0-9A-Za-z.+-]*)?)$")
_WILD = {"x", "X", "*"}


def is_semver_tag(tag: str) -> bool:
    """A full `MAJOR.MINOR.PATCH` release tag: conventionally never re-pushed (unlike `latest`, `1.2`, `main`)."""
    return bool(SEMVER_TAG.match(tag.strip()))


def _parts(version: str) -> list[str]:
    return re.split(r"[-+]", version, maxsplit=1)[0].split(".")


def _term_kind(term: str) -> str | None:
    """exact, upper (sets an upper bound), lower (no upper bound) or None when not a constraint."""
    m = _CONSTRAINT.match(term)
    if not m:
        return None
    op, version = m.group(1) or "", m.group(2)
    parts = _parts(version)
    wild = [p in _WILD for p in parts]
    if op in ("", "="):
        if parts[0] in _WILD:
            return "lower"  # *, x: anything
        if not any(wild) and len(parts) == 3:
            return "exact"
        return "upper"  # 1, 1.2, 1.2.x: bounded by the next major/minor
    if op in ("<", "<=", "=<", "~", "~>", "^"):
        return "upper"
    return "lower"  # >, >=, !=


def constraint_kind(constraint) -> str:
    """`exact`, `bounded` or `unbounded` (an empty or unreadable constraint floats: unbounded)."""
    s = str(constraint if constraint is not None else "").strip()
    if not s:
        return "unbounded"
    kinds = []
    for alt in s.split("||"):
        alt = re.sub(r"\s*-\s+", " - ", alt.strip())
        if " - " in alt:  # hyphen range: both ends given
            kinds.append("bounded")
            continue
        terms = [t for t in re.split(r"[,\s]+", re.sub(r"(>=|<=|=>|=<|!=|~>|[<>=~^])\s+", r"\1", alt)) if t]
        tk = [_term_kind(t) for t in terms]
        if not tk or None in tk:
            kinds.append("unbounded")
        elif tk == ["exact"]:
            kinds.append("exact")
        elif "upper" in tk or "exact" in tk:
            kinds.append("bounded")
        else:
            kinds.append("unbounded")
    if "unbounded" in kinds:
        return "unbounded"
    return "exact" if kinds == ["exact"] else "bounded"
