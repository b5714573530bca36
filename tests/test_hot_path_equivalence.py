"""The speed-ups of the hot paths give the answers of the plain code they replace: the YAML-data copy
used for Flux patches, the start offset of the embedded-config credential search, the shared parse of
Flux patch texts, and the brace-less fast path of PVC claim names."""
from __future__ import annotations

import copy
import datetime as dt
import random

import checks.backups as cb
import checks.secrets as cs
import scanner.inventory.flux as fx
from scanner.core.model import Document, Resource, ScanError


class _Str(str):
    pass


def _random_data(rnd: random.Random, depth: int = 0, pool: list | None = None):
    """YAML-like data with now and then a sub-tree used twice (what a YAML alias gives)."""
    pool = [] if pool is None else pool
    r = rnd.random()
    if depth > 4 or r < 0.35:
        return rnd.choice(["a", "", "${X}", 0, 7, 1.5, True, False, None, _Str("s"), dt.date(2024, 1, 2),
                           b"raw", "x" * 40])
    if pool and r < 0.42:
        return rnd.choice(pool)
    if r < 0.75:
        node = {rnd.choice(["spec", "metadata", "name", "values", "k", 3, True, None]): _random_data(rnd, depth + 1, pool)
                for _ in range(rnd.randint(0, 5))}
    elif r < 0.97:
        node = [_random_data(rnd, depth + 1, pool) for _ in range(rnd.randint(0, 4))]
    else:
        node = {1, 2, "x"}
    pool.append(node)
    return node


def _shape(obj, seen: dict) -> object:
    """The data with each container numbered by first appearance: equal shapes share alike."""
    if isinstance(obj, (dict, list, set)):
        if id(obj) in seen:
            return ("ref", seen[id(obj)])
        seen[id(obj)] = len(seen)
        if isinstance(obj, dict):
            return ("dict", [(k, _shape(v, seen)) for k, v in obj.items()])
        if isinstance(obj, list):
            return ("list", [_shape(v, seen) for v in obj])
        return ("set", sorted(map(repr, obj)))
    return (type(obj).__name__, obj)


def _containers(obj, out: set) -> set:
    if isinstance(obj, (dict, list, set)) and id(obj) not in out:
        out.add(id(obj))
        for v in obj.values() if isinstance(obj, dict) else obj if isinstance(obj, list) else ():
            _containers(v, out)
    return out


def test_copy_data_equals_deepcopy():
    rnd = random.Random(11)
    for _ in range(3000):
        data = _random_data(rnd)
        want, got = copy.deepcopy(data), fx._copy_data(data)
        assert got == want
        assert _shape(got, {}) == _shape(want, {})  # aliases stay shared, nothing else is
        assert not (_containers(got, set()) & _containers(data, set()))  # nothing mutable shared with the source


def _expanded(x):
    """A full copy in which a YAML alias becomes two independent copies (as Kubernetes receives it)."""
    if isinstance(x, dict):
        return {k: _expanded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_expanded(v) for v in x]
    return copy.deepcopy(x)


def _apply_patch_reference(body: dict, patch) -> dict:
    """`_apply_patch` written plainly: a JSON6902 patch on a deep copy (aliases kept), a merge patch on an
    expanded copy (a merge into an aliased mapping changes that place only, as the API server sees it)."""
    out = copy.deepcopy(body) if isinstance(patch, list) else _expanded(body)
    if isinstance(patch, list):
        for op in patch:
            if not isinstance(op, dict) or op.get("op") not in ("add", "replace") or not isinstance(op.get("path"), str):
                continue
            parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].strip("/").split("/")]
            cur = out
            for part in parts[:-1]:
                if isinstance(cur, dict):
                    cur = cur.setdefault(part, {})
                elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
                    cur = cur[int(part)]
                else:
                    cur = None
                    break
            if isinstance(cur, dict):
                cur[parts[-1]] = copy.deepcopy(op.get("value"))
            elif isinstance(cur, list) and parts[-1] == "-":
                cur.append(copy.deepcopy(op.get("value")))
        return out

    def merge(dst, src):
        for k, v in src.items():
            if k in ("apiVersion", "kind"):
                continue
            if k == "metadata" and isinstance(v, dict):
                v = {kk: vv for kk, vv in v.items() if kk not in ("name", "namespace")}
            if isinstance(v, dict) and isinstance(dst.get(k), dict):
                merge(dst[k], v)
            else:
                dst[k] = copy.deepcopy(v)

    if isinstance(patch, dict):
        merge(out, patch)
    return out


def test_apply_patch_equals_the_deepcopy_version():
    rnd = random.Random(5)
    shared = {"retries": 3, "list": [1, {"a": "b"}]}
    for _ in range(2000):
        body = {"apiVersion": "v1", "kind": "HelmRelease", "metadata": {"name": "x", "labels": {"a": "b"}},
                "spec": {"install": shared, "upgrade": shared, "values": _random_data(rnd)}}
        if rnd.random() < 0.5:
            patch = {"metadata": {"name": "n", "annotations": {"k": "v"}},
                     "spec": {"install": {"retries": 5, "extra": _random_data(rnd)}, "values": _random_data(rnd)}}
        else:
            patch = [{"op": rnd.choice(["add", "replace", "remove"]),
                      "path": rnd.choice(["/spec/install/retries", "/spec/upgrade/list/-", "/spec/install/list/1/c",
                                          "/metadata/labels/x~1y", "/spec/new/deep", "/spec/values/0/k"]),
                      "value": _random_data(rnd)} for _ in range(rnd.randint(1, 4))]
        before = _expanded(body)
        want, got = _apply_patch_reference(body, patch), fx._apply_patch(body, patch)
        assert got == want
        assert body == before, "the patched document itself is never changed"
        if isinstance(patch, list):
            assert _shape(got, {}) == _shape(want, {})


def test_a_merge_patch_into_an_aliased_mapping_changes_that_place_only():
    shared = {"retries": 3}
    body = {"apiVersion": "v1", "kind": "HelmRelease", "metadata": {"name": "x"},
            "spec": {"install": {"remediation": shared}, "upgrade": {"remediation": shared}}}
    got = fx._apply_patch(body, {"spec": {"install": {"remediation": {"retries": 9}}}})
    assert got["spec"]["install"]["remediation"] == {"retries": 9}
    assert got["spec"]["upgrade"]["remediation"] == {"retries": 3}
    assert shared == {"retries": 3} and body["spec"]["install"]["remediation"] is shared


def test_line_cred_start_keeps_every_match():
    rnd = random.Random(3)
    frags = ["password", "PassWord", "passwd", "pass", "secret", "SECRET", "token", "Token", "api_key", "API-KEY",
             "apikey", "api", "my", "db_", ".", "-", "_", ":", "=", " ", "  ", "\t", "\n", "\n", "\n\n", "\r\n", " \n",
             "'", '"', "hunter2hunter2", "Zx9!kLm2pQr8#vB", "abc", "xxxxxxx", "#", ",", ";", "ſecret", "\u212a", "é",
             "\x1c", "\x0b"]
    matched = 0
    for _ in range(30000):
        text = "".join(rnd.choice(frags) for _ in range(rnd.randint(1, 40)))
        want = [(m.span(), m.groups()) for m in cs.LINE_CRED.finditer(text)]
        start = cs._line_cred_start(text)
        got = [] if start is None else [(m.span(), m.groups()) for m in cs.LINE_CRED.finditer(text, start)]
        assert got == want, text
        matched += bool(want)
    assert matched > 1000


def test_patch_texts_parsed_once_give_the_same_patches():
    spec = {"patches": [
        {"patch": "apiVersion: v1\nkind: HelmRelease\nmetadata: {name: x}\nspec: {interval: 1h}\n",
         "target": {"kind": "HelmRelease"}},
        {"patch": "- op: add\n  path: /spec/x\n  value: 1\n"},
        {"patch": "a: [unclosed\n"},
        {"patch": {"spec": {"y": 2}}},
        "not-a-dict",
    ]}
    loaded: dict = {}
    runs = []
    for path in ("a/ks.yaml", "b/ks.yaml"):  # the second node reuses the parses of the first
        plain_errors: list[ScanError] = []
        cached_errors: list[ScanError] = []
        plain = fx._parsed_patches(spec, plain_errors, path)
        cached = fx._parsed_patches(spec, cached_errors, path, loaded)
        assert cached == plain
        assert [(e.path, e.message) for e in cached_errors] == [(e.path, e.message) for e in plain_errors]
        assert len(cached_errors) == 1
        runs.append(cached)
    assert runs[0][0][1] is runs[1][0][1]  # one parse per text


def test_claim_names_without_braces_are_kept_as_they_are():
    doc = Document("a.yaml", 1, 0, {"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
                                    "metadata": {"name": "app"}, "spec": {"releaseName": "rel"}})
    hr = Resource(doc=doc, namespace="ns", name="app", deployed=True, variables={"APP": "x"})
    for s in ["data", "data-pvc", "a}", "a}}", "{{ .Release.Name }}-data", "${APP}-config", "${APP:-y}}", "", "x.y_z",
              "}", "{", "plain value with spaces"]:
        fast = "{" not in s and not s.endswith("}")
        if fast:
            assert cb._name(hr, s) == s
    values = {"persistence": {"data": {"existingClaim": "${APP}-data"}, "cache": {"existingClaim": "plain-claim"}},
              "list": ["{{ .Release.Name }}-x", 3, None, {"deep": ["y}"]}]}
    doc.body["spec"]["values"] = values
    inv = type("Inv", (), {"workloads": [], "of_kind": lambda self, *k: [hr] if "HelmRelease" in k else []})()
    assert cb._mounted_claims(inv) == {("ns", cb._name(hr, s)) for s in cb._strings(values, set())}
