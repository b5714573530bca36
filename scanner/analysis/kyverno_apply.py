"""Kyverno rule semantics applied to one object, as far as they are static: match/exclude blocks,
preconditions, validate patterns and mutate patches (patchStrategicMerge with anchors,
patchesJson6902, foreach over a list of the object).

Every function answers True/False when the repository decides it and None when it does not (a
`{{ }}` variable this module cannot resolve, a subject/role filter, a JMESPath beyond a plain field
path): callers never credit or blame on None.

Anchors (https://kyverno.io/docs/writing-policies/validate/#anchors): `(key)` conditional,
`=(key)` equality, `X(key)` negation, `^(key)` existence, `<(key)` global, `+(key)` add-if-absent.
"""
from __future__ import annotations

import copy
import fnmatch
import json
import re

from scanner.sources.yamlload import load_documents

_ANCHOR = re.compile(r"^\s*([=+^X<]?)\((.*)\)\s*$")
_VAR = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_PATH_EXPR = re.compile(r"^[A-Za-z_][\w]*(?:\.(?:[A-Za-z_][\w-]*|\"[^\"]+\"))*$")
# Pod-owning kinds Kyverno's auto-generation extends a Pod rule to.
AUTOGEN_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "ReplicationController")


class Unknown(Exception):
    """The repository does not decide the answer (a runtime variable, an unsupported expression)."""


class _Skip(Exception):
    """A global anchor did not hold: the whole rule does not apply."""


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


def anchor(key) -> tuple[str, str]:
    """`+(runAsNonRoot)` -> ("runAsNonRoot", "+"); `(name)` -> ("name", "("); plain keys -> (key, "")."""
    m = _ANCHOR.match(str(key))
    if m:
        return m.group(2), m.group(1) or "("
    return str(key), ""


def strip_anchors(value):
    if isinstance(value, dict):
        return {anchor(k)[0]: strip_anchors(v) for k, v in value.items()}
    if isinstance(value, list):
        return [strip_anchors(v) for v in value]
    return value


# ---- variables -------------------------------------------------------------------------------------

def _lookup(expr: str, ctx: dict):
    """A dotted field path (`request.object.metadata.labels."app"`), with `|| 'default'` fallbacks."""
    alternatives = [a.strip() for a in expr.split("||")]
    for alt in alternatives:
        if (alt.startswith("'") and alt.endswith("'")) or (alt.startswith("`") and alt.endswith("`")):
            lit = alt[1:-1]
            try:
                return json.loads(lit) if alt.startswith("`") else lit
            except ValueError:
                return lit
        if not _PATH_EXPR.match(alt):
            raise Unknown(expr)
        parts = re.findall(r'"([^"]+)"|([^.]+)', alt)
        keys = [a or b for a, b in parts]
        if keys[0] not in ctx:
            raise Unknown(expr)
        cur = ctx
        for k in keys:
            cur = cur.get(k) if isinstance(cur, dict) else None
            if cur is None:
                break
        if cur not in (None, "", [], {}):
            return cur
    return None


def resolve(value, ctx: dict):
    """Substitute `{{ }}` variables from `ctx`; Unknown when one cannot be resolved statically."""
    if isinstance(value, dict):
        return {resolve(k, ctx) if isinstance(k, str) else k: resolve(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, ctx) for v in value]
    if not isinstance(value, str) or "{{" not in value:
        return value
    whole = _VAR.fullmatch(value.strip())
    if whole:
        return _lookup(whole.group(1), ctx)
    return _VAR.sub(lambda m: "" if (v := _lookup(m.group(1), ctx)) is None else str(v), value)


# ---- value patterns ----------------------------------------------------------------------------------

def _scalar_matches(pattern, value) -> bool:
    if isinstance(pattern, str):
        if "{{" in pattern:
            raise Unknown(pattern)
        for alt in pattern.split("|"):
            alt = alt.strip()
            if _one_value(alt, value):
                return True
        return False
    if pattern is None:
        return value is None
    if isinstance(pattern, bool) or isinstance(value, bool):
        return str(pattern).lower() == str(value).lower()
    if isinstance(pattern, (int, float)):
        try:
            return float(value) == float(pattern)
        except (TypeError, ValueError):
            return False
    return pattern == value


def _one_value(alt: str, value) -> bool:
    if alt.startswith("!"):
        return value is None or not _one_value(alt[1:], value)
    for op in (">=", "<=", ">", "<"):
        if alt.startswith(op):
            try:
                v, p = float(value), float(alt[len(op):])
            except (TypeError, ValueError):
                return False
            return {">=": v >= p, "<=": v <= p, ">": v > p, "<": v < p}[op]
    if alt == "?*":
        return value not in (None, "")
    if value is None:
        return alt in ("", "null")
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return fnmatch.fnmatchcase(text, alt)


def matches(pattern, value) -> bool:
    """Does `value` satisfy a Kyverno validate pattern (anchors included)?"""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        conditions_hold = True
        for k, p in pattern.items():
            key, a = anchor(k)
            have = value.get(key)
            if a == "X":
                if key in value:
                    return False
            elif a == "=":
                if key in value and not matches(p, have):
                    return False
            elif a in ("(", "<"):
                if key not in value or not matches(p, have):
                    conditions_hold = False
            elif a == "^":
                if not isinstance(have, list) or not any(matches(p[0] if isinstance(p, list) and p else p, x) for x in have):
                    return False
        if not conditions_hold:
            return True  # a conditional anchor that does not hold: the rest of this map is not checked
        for k, p in pattern.items():
            key, a = anchor(k)
            if a:
                continue
            if key not in value:
                if isinstance(p, str) and (p.startswith("!") or p in ("null",)):
                    continue
                if p is None:
                    continue
                return False
            if not matches(p, value[key]):
                return False
        return True
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return False
        if not pattern:
            return not value
        if all(not isinstance(p, (dict, list)) for p in pattern) and len(pattern) > 1:
            return value == pattern
        return all(matches(pattern[0], v) for v in value)
    return _scalar_matches(pattern, value)


# ---- match / exclude -------------------------------------------------------------------------------

class Facts:
    """What a match block reads of an object: kind, name, namespace, labels, annotations, and the
    labels of its namespace."""

    __slots__ = ("kind", "name", "namespace", "labels", "annotations", "ns_labels")

    def __init__(self, kind, name, namespace, labels, annotations, ns_labels):
        self.kind, self.name, self.namespace = kind, name, namespace
        self.labels, self.annotations, self.ns_labels = labels or {}, annotations or {}, ns_labels or {}


def _kind_name(k) -> str:
    return str(k).rsplit("/", 1)[-1]


def _selector(sel, labels: dict) -> bool:
    sel = _d(sel)
    for k, v in _d(sel.get("matchLabels")).items():
        if not fnmatch.fnmatchcase(str(labels.get(k, "\0")), str(v)):
            return False
    for e in _l(sel.get("matchExpressions")):
        e = _d(e)
        k, op, vals = e.get("key"), e.get("operator"), [str(x) for x in _l(e.get("values"))]
        have = labels.get(k)
        if (op == "In" and (have is None or str(have) not in vals)) or \
                (op == "NotIn" and have is not None and str(have) in vals) or \
                (op == "Exists" and have is None) or (op == "DoesNotExist" and have is not None):
            return False
    return True


def _filter(flt: dict, facts: Facts, kinds_seen: list) -> bool | None:
    if any(flt.get(k) for k in ("subjects", "roles", "clusterRoles")):
        return None  # who makes the request is not in the repository
    res = _d(flt.get("resources"))
    kinds = [_kind_name(k) for k in _l(res.get("kinds"))]
    kinds_seen.extend(kinds)
    if kinds and facts.kind not in kinds and "*" not in kinds:
        return False
    names = [str(n) for n in _l(res.get("names"))] + ([str(res["name"])] if res.get("name") else [])
    if names and not any(fnmatch.fnmatchcase(facts.name or "", n) for n in names):
        return False
    nss = [str(n) for n in _l(res.get("namespaces"))]
    if nss and not any(fnmatch.fnmatchcase(facts.namespace or "", n) for n in nss):
        return False
    for k, v in _d(res.get("annotations")).items():
        if not fnmatch.fnmatchcase(str(facts.annotations.get(k, "\0")), str(v)):
            return False
    if res.get("selector") is not None and not _selector(res["selector"], facts.labels):
        return False
    if res.get("namespaceSelector") is not None and not _selector(res["namespaceSelector"], facts.ns_labels):
        return False
    return True


def _filters(block: dict) -> tuple[list, list]:
    block = _d(block)
    anys = [_d(f) for f in _l(block.get("any"))]
    alls = [_d(f) for f in _l(block.get("all"))]
    legacy = {k: v for k, v in block.items() if k in ("resources", "subjects", "roles", "clusterRoles")}
    if legacy:
        alls.append(legacy)
    return anys, alls


def block_matches(block: dict, facts: Facts) -> bool | None:
    """A match/exclude block: True, False, or None when it depends on who makes the request."""
    anys, alls = _filters(block)
    if not anys and not alls:
        return False
    seen: list = []
    if anys:
        got = [_filter(f, facts, seen) for f in anys]
        if True not in got:
            return None if None in got else False
    if alls:
        got = [_filter(f, facts, seen) for f in alls]
        if False in got:
            return False
        if None in got:
            return None
    return True


def rule_kinds(rule: dict) -> list[str]:
    anys, alls = _filters(_d(rule.get("match")))
    return [_kind_name(k) for f in anys + alls for k in _l(_d(f.get("resources")).get("kinds"))]


# ---- preconditions -------------------------------------------------------------------------------

def _condition(cond: dict, ctx: dict) -> bool:
    key = resolve(cond.get("key"), ctx)
    val = resolve(cond.get("value"), ctx)
    op = str(cond.get("operator") or "Equals")
    keys = key if isinstance(key, list) else [key]
    vals = val if isinstance(val, list) else [val]

    def eq(a, b) -> bool:
        if isinstance(b, str) and isinstance(a, (str, int, float, bool)):
            return fnmatch.fnmatchcase(str(a).lower() if isinstance(a, bool) else str(a), b)
        return a == b

    def contained(k) -> bool:
        return any(eq(k, v) for v in vals)

    if op in ("Equals", "Equal"):
        return eq(key, val)
    if op in ("NotEquals", "NotEqual"):
        return not eq(key, val)
    if op in ("In", "AnyIn"):
        return any(contained(k) for k in keys)
    if op == "AllIn":
        return all(contained(k) for k in keys)
    if op in ("NotIn", "AllNotIn"):
        return not any(contained(k) for k in keys)
    if op == "AnyNotIn":
        return any(not contained(k) for k in keys)
    if op in ("GreaterThan", "GreaterThanOrEquals", "LessThan", "LessThanOrEquals"):
        try:
            a, b = float(key), float(val)
        except (TypeError, ValueError):
            raise Unknown(op) from None
        return {"GreaterThan": a > b, "GreaterThanOrEquals": a >= b, "LessThan": a < b, "LessThanOrEquals": a <= b}[op]
    raise Unknown(op)


def conditions_hold(block, ctx: dict) -> bool:
    """`preconditions` (any/all, or the legacy list); raises Unknown when they are not static."""
    if block in (None, [], {}):
        return True
    if isinstance(block, list):
        return all(_condition(_d(c), ctx) for c in block)
    block = _d(block)
    anys, alls = _l(block.get("any")), _l(block.get("all"))
    if anys and not any(_condition(_d(c), ctx) for c in anys):
        return False
    return all(_condition(_d(c), ctx) for c in alls)


# ---- mutation -------------------------------------------------------------------------------------

def _record(changes: list, path: tuple, old, new) -> None:
    if old != new:
        changes.append(path)


def smp(target: dict, patch: dict, changes: list, path: tuple = ()) -> bool:
    """Apply a Kyverno patchStrategicMerge overlay in place; False when a conditional anchor at this
    level does not hold (nothing applied here). Raises _Skip for a failed global anchor."""
    for k, p in patch.items():
        key, a = anchor(k)
        if a in ("(", "<", "="):
            if a == "=":
                ok = key not in target or matches(p, target[key])
            else:
                ok = key in target and matches(p, target[key])
            if not ok:
                if a == "<":
                    raise _Skip(key)
                return False
        elif a == "X" and key in target:
            return False
    for k, p in patch.items():
        key, a = anchor(k)
        if a in ("(", "<", "=", "X", "^"):
            continue
        if a == "+":
            if key not in target:
                target[key] = strip_anchors(copy.deepcopy(p))
                changes.append(path + (key,))
            continue
        have = target.get(key)
        if isinstance(p, dict):
            if not isinstance(have, dict):
                have = target[key] = {}
            smp(have, p, changes, path + (key,))
        elif isinstance(p, list) and p and all(isinstance(x, dict) for x in p):
            if not isinstance(have, list):
                have = target[key] = []
            _merge_list(have, p, changes, path + (key,))
        else:
            new = strip_anchors(copy.deepcopy(p))
            _record(changes, path + (key,), have, new)
            target[key] = new
    return True


def _merge_list(have: list, patch: list, changes: list, path: tuple) -> None:
    for item in patch:
        conditional = any(anchor(k)[1] in ("(", "<", "=", "X") for k in item)
        if conditional:
            for i, el in enumerate(have):
                if isinstance(el, dict):
                    smp(el, item, changes, path + (_label(el, i),))
            continue
        name = item.get("name")
        hit = next((el for el in have if isinstance(el, dict) and name is not None and el.get("name") == name), None)
        if hit is None:
            have.append(strip_anchors(copy.deepcopy(item)))
            changes.append(path + (str(name) if name is not None else len(have) - 1,))
        else:
            smp(hit, item, changes, path + (str(name),))


def _label(el: dict, i: int):
    return str(el["name"]) if "name" in el else i


def json6902(target: dict, ops, changes: list) -> None:
    """Apply JSON patch operations (a list, or the YAML/JSON string Kyverno takes)."""
    if isinstance(ops, str):
        docs, _ = load_documents(ops)
        ops = docs[0].body if docs else []
    for op in _l(ops):
        op = _d(op)
        raw = op.get("path")
        if not isinstance(raw, str) or "{{" in raw:
            raise Unknown(str(raw))
        parts = [p.replace("~1", "/").replace("~0", "~") for p in raw.strip("/").split("/") if p != ""]
        if not parts:
            continue
        cur = target
        labels: list = []
        for part in parts[:-1]:
            if isinstance(cur, dict):
                if part not in cur and op.get("op") == "add":
                    cur[part] = {}
                cur = cur.get(part)
                labels.append(part)
            elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
                cur = cur[int(part)]
                labels.append(_label(cur, int(part)) if isinstance(cur, dict) else int(part))
            else:
                raise Unknown(raw)  # a path into what the object does not have: the patch would fail
        last = parts[-1]
        value = op.get("value")
        if isinstance(value, str) and "{{" in value:
            raise Unknown(value)
        kind = op.get("op")
        if kind in ("add", "replace"):
            if isinstance(cur, dict):
                _record(changes, tuple(labels) + (last,), cur.get(last), value)
                cur[last] = copy.deepcopy(value)
            elif isinstance(cur, list):
                if last == "-":
                    cur.append(copy.deepcopy(value))
                elif last.isdigit():
                    cur.insert(int(last), copy.deepcopy(value))
                changes.append(tuple(labels) + (last,))
        elif kind == "remove":
            if isinstance(cur, dict) and last in cur:
                cur.pop(last)
                changes.append(tuple(labels) + (last,))
            elif isinstance(cur, list) and last.isdigit() and int(last) < len(cur):
                cur.pop(int(last))
                changes.append(tuple(labels) + (last,))
        else:
            raise Unknown(str(kind))


def list_at(obj: dict, expr: str) -> list:
    """The list a foreach iterates: `request.object.spec.containers` (optionally `[]` and `|| []`)."""
    expr = str(expr or "").replace("[]", "").strip()
    got = resolve("{{ " + expr + " }}", {"request": {"object": obj}})
    return got if isinstance(got, list) else []


def mutate(obj: dict, rule: dict, ctx: dict) -> list:
    """Apply a mutate rule to `obj` in place; the changed key paths. Raises Unknown when the rule's
    effect cannot be decided from the repository (the object is then left unchanged by the caller)."""
    m = _d(rule.get("mutate"))
    changes: list = []
    try:
        if "patchStrategicMerge" in m:
            smp(obj, _d(resolve(m["patchStrategicMerge"], ctx)), changes)
        if "patchesJson6902" in m:
            ops = m["patchesJson6902"]
            if isinstance(ops, str) and "{{" in ops:
                raise Unknown("patchesJson6902 with variables")
            json6902(obj, ops, changes)
        for fe in _l(m.get("foreach")):
            fe = _d(fe)
            if fe.get("foreach") or fe.get("context"):
                raise Unknown("nested foreach / context")
            for i, el in enumerate(list_at(obj, fe.get("list"))):
                ectx = dict(ctx, element=el, elementIndex=i)
                if not conditions_hold(fe.get("preconditions"), ectx):
                    continue
                if "patchStrategicMerge" in fe:
                    smp(obj, _d(resolve(fe["patchStrategicMerge"], ectx)), changes)
                if "patchesJson6902" in fe:
                    json6902(obj, resolve(fe["patchesJson6902"], ectx), changes)
    except _Skip:
        return []
    return changes


def validate(obj: dict, rule: dict, ctx: dict) -> bool:
    """Does `obj` pass a validate rule's pattern/anyPattern? Unknown for deny, foreach, CEL, podSecurity."""
    v = _d(rule.get("validate"))
    if "pattern" in v:
        pattern = v["pattern"]
        if "{{" in json.dumps(pattern, default=str):
            raise Unknown("pattern with variables")
        return matches(pattern, obj)
    if "anyPattern" in v:
        pats = _l(v["anyPattern"])
        if "{{" in json.dumps(pats, default=str):
            raise Unknown("anyPattern with variables")
        return any(matches(p, obj) for p in pats)
    raise Unknown("validate form")
