"""The speed-ups of the hot paths give the answers of the plain code they replace: the YAML-data copy
used for Flux patches, the start offset of the embedded-config credential search, the shared parse of
Flux patch texts, and the brace-less fast path of PVC claim names."""
from __future__ import annotations

import copy
import random

import checks.backups as cb
import checks.secrets as cs
from scanner.core.model import Document, Resource






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




def _expanded(x):
    """A full copy in which a YAML alias becomes two independent copies (as Kubernetes receives it)."""
    if isinstance(x, dict):
        return {k: _expanded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_expanded(v) for v in x]
    return copy.deepcopy(x)








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
