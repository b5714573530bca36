"""kustomize's name-reference fix-up (FixBackReferences), run once on the whole build at the end.

For each object (the referrer) and each nameReference field spec that selects its kind, kustomize
walks the field path (through every element of a list on the way) and, at the end:
  - a name (scalar): if exactly one object that once had that name and the target kind is
    visible from the referrer (same namespace, cluster-scoped, or a ServiceAccount), and it has
    been renamed since (a hash suffix), the field gets its new name;
  - a mapping (RoleBinding subjects, webhook services): the object is picked by name (and by the
    mapping's namespace), and `name` and `namespace` are written from it.
Only objects with a previous id are candidates (a namespace transformer, a hash or a JSON patch
records one). A scalar met halfway along a path, a mapping without `name` or an ambiguous choice
fails kustomize, and raises NotNative here. The field specs are kustomize v5.8.1's built-in ones
plus the `nameReference` entries of the build's `configurations:` files.
"""
from __future__ import annotations

from scanner.inventory.builder.native.model import (EMPTY_NULL, NULLS, NotNative, Res, effective_namespace,
                                                    known_scope, split_api)
from scanner.inventory.builder.native.reader import read_values
from scanner.inventory.builder.native.tables import NAME_REFERENCES

_SPEC_FIELDS = frozenset({"path", "kind", "group", "version", "create"})
_ENTRY_FIELDS = frozenset({"kind", "group", "version", "fieldSpecs"})


class FieldSpec:
    __slots__ = ("target", "path", "kind", "group", "version", "roleref")

    def __init__(self, target: tuple[str, str, str], path: str, kind: str, group: str, version: str):
        self.target = target  # (kind, group, version) of the objects named there
        self.path = _split_path(path)
        self.kind, self.group, self.version = kind, group, version
        self.roleref = path.endswith("roleRef/name")


def _split_path(path: str) -> list[str]:
    """kustomize's splitPath: `/` separates, `\\/` is a slash inside a name; `[]` marks a list."""
    out: list[str] = []
    for part in path.split("/"):
        if out and out[-1].endswith("\\"):
            out[-1] = out[-1][:-1] + "/" + part
        else:
            out.append(part)
    return [p[:-2] if p.endswith("[]") else p for p in out]


def _index(entries) -> dict[str, list[FieldSpec]]:
    by_kind: dict[str, list[FieldSpec]] = {}
    for target, specs in entries:
        for path, kind, group, version in specs:
            by_kind.setdefault(kind, []).append(FieldSpec(target, path, kind, group, version))
    return by_kind


_BUILTIN = _index(NAME_REFERENCES)


def read_configuration(data: bytes, path: str) -> list:
    """The nameReference entries of a `configurations:` file (anything else raises NotNative)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise NotNative(f"configuration '{path}' is not UTF-8") from None
    docs = [d for d in read_values(text, path) if d is not None and d is not EMPTY_NULL]
    if len(docs) != 1 or not isinstance(docs[0], dict) or set(docs[0]) - {"nameReference"}:
        raise NotNative(f"configuration '{path}' holds more than nameReference entries")
    entries = []
    for e in docs[0].get("nameReference") or []:
        if not isinstance(e, dict) or not set(e) <= _ENTRY_FIELDS or not isinstance(e.get("fieldSpecs"), list):
            raise NotNative(f"configuration '{path}' has a nameReference entry the native builder does not read")
        target = tuple(_str(e.get(k), path) for k in ("kind", "group", "version"))
        specs = []
        for fs in e["fieldSpecs"]:
            if not isinstance(fs, dict) or not set(fs) <= _SPEC_FIELDS or not _str(fs.get("path"), path):
                raise NotNative(f"configuration '{path}' has a field spec the native builder does not read")
            specs.append((fs["path"], *(_str(fs.get(k), path) for k in ("kind", "group", "version"))))
        entries.append((target, tuple(specs)))
    return entries


def _str(v, path: str) -> str:
    if v is None:
        return ""
    if not isinstance(v, str):
        raise NotNative(f"configuration '{path}' has a field that is not a string")
    return v


def fix(resources: list[Res], custom: list) -> None:
    by_kind = _BUILTIN if not custom else _merged(custom)
    ctx = _Fixer(resources)
    for res in resources:
        org_kind = res.org()[0]
        group, version = split_api(res.api)
        for spec in by_kind.get(org_kind, []) + by_kind.get("", []):
            if (spec.group and spec.group != group) or (spec.version and spec.version != version):
                continue
            if spec.kind and spec.kind != res.kind:
                continue  # the field spec is applied with the referrer's current kind
            ctx.walk(res, spec, res.body, spec.path)


def _merged(custom: list) -> dict[str, list[FieldSpec]]:
    out = {k: list(v) for k, v in _BUILTIN.items()}
    for kind, specs in _index(custom).items():
        out.setdefault(kind, []).extend(specs)
    return out


class _Fixer:
    def __init__(self, resources: list[Res]):
        self.resources = resources
        self.binding_ns: dict[int, set[str]] = {}
        self.by_prev_name: dict[str, list[Res]] = {}
        for r in resources:
            for name in {n for _k, _ns, n in r.prev}:
                self.by_prev_name.setdefault(name, []).append(r)

    def walk(self, referrer: Res, spec: FieldSpec, node, path: list[str]) -> None:
        if not path:
            self.set(referrer, spec, node)
            return
        if isinstance(node, list):
            for item in node:
                if not isinstance(item, (dict, list)):
                    raise NotNative(f"a {referrer.kind} has a scalar where kustomize looks up a reference")
                self.walk(referrer, spec, item, path)
            return
        if not isinstance(node, dict):
            raise NotNative(f"a {referrer.kind} has a scalar where kustomize looks up a reference")
        value = node.get(path[0], None)
        if any(value is n for n in NULLS):
            return
        if len(path) == 1:
            self.set_leaf(referrer, spec, node, path[0])
            return
        self.walk(referrer, spec, value, path[1:])

    def set(self, referrer: Res, spec: FieldSpec, node) -> None:
        if isinstance(node, dict):
            self.set_mapping(referrer, spec, node)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, dict):
                    self.set_mapping(referrer, spec, item)
                elif isinstance(item, (str, int, bool)) or any(item is n for n in NULLS):
                    self.set_scalar(referrer, spec, node, i)

    def set_leaf(self, referrer: Res, spec: FieldSpec, parent: dict, key: str) -> None:
        value = parent[key]
        if isinstance(value, (dict, list)):
            self.set(referrer, spec, value)
        else:
            self.set_scalar(referrer, spec, parent, key)

    def set_scalar(self, referrer: Res, spec: FieldSpec, parent, key) -> None:
        value = parent[key]
        old = _text(value)
        if old is None or old not in self.by_prev_name:
            return
        # Only objects that once had the name can be chosen: those of them the referrer can see.
        candidates = [r for r in self.by_prev_name[old] if self.can_see(referrer, r)]
        referral = self.select(referrer, spec, old, candidates, names_only=True)
        if referral is not None and referral.name != old:
            parent[key] = referral.name

    def set_mapping(self, referrer: Res, spec: FieldSpec, node: dict) -> None:
        if "name" not in node:
            raise NotNative(f"a {referrer.kind} reference without a name (kustomize refuses it)")
        old = _text(node["name"])
        if old is None or old not in self.by_prev_name:
            return
        candidates = self.visible(referrer)
        if "namespace" in node:
            ns = _text(node["namespace"])
            by_org = [r for r in candidates if _eff(r.api, r.org()[0], r.org()[1]) == ns]
            candidates = by_org or [r for r in candidates if _eff(r.api, r.kind, r.namespace) == ns]
        referral = self.select(referrer, spec, old, candidates, names_only=False)
        if referral is None:
            return
        if referral.name == old and referral.namespace == "":
            return
        node["name"] = referral.name
        if referral.namespace:
            node["namespace"] = referral.namespace

    def visible(self, referrer: Res) -> list[Res]:
        """kustomize's SubsetThatCouldBeReferencedByResource."""
        return [r for r in self.resources if self.can_see(referrer, r)]

    def can_see(self, referrer: Res, r: Res) -> bool:
        if known_scope(referrer.api, referrer.kind) == "cluster" or known_scope(r.api, r.kind) == "cluster":
            return True
        if _eff(r.api, r.kind, r.namespace) == _eff(referrer.api, referrer.kind, referrer.namespace):
            return True
        binding_ns = self.binding_ns.get(id(referrer))
        if binding_ns is None:
            binding_ns = self.binding_ns[id(referrer)] = _binding_namespaces(referrer)
        return r.namespace in binding_ns

    def select(self, referrer: Res, spec: FieldSpec, old: str, candidates: list[Res], names_only: bool) -> Res | None:
        t_kind, t_group, t_version = spec.target
        picked = []
        for r in candidates:
            if not any(n == old for _k, _ns, n in r.prev):
                continue
            r_group, r_version = split_api(r.api)
            if not any(_selected(k, r_group, r_version, t_kind, t_group, t_version) for k, _ns, _n in r.prev):
                continue
            if spec.roleref and not self._roleref_ok(referrer, r):
                continue
            if known_scope(referrer.api, referrer.kind) != "cluster" and known_scope(r.api, r.kind) != "cluster" \
                    and r.kind != "ServiceAccount" \
                    and _eff(r.api, r.kind, r.namespace) != _eff(referrer.api, referrer.kind, referrer.namespace):
                continue
            picked.append(r)
        if not picked:
            return None
        if len(picked) == 1:
            return picked[0]
        first = picked[0]
        if all(r.name == first.name and (names_only or r.namespace == first.namespace) for r in picked):
            return first
        raise NotNative(f"a {referrer.kind} reference to '{old}' has several possible targets (kustomize refuses it)")

    @staticmethod
    def _roleref_ok(referrer: Res, r: Res) -> bool:
        ref = referrer.body.get("roleRef")
        if not isinstance(ref, dict) or not isinstance(ref.get("apiGroup"), str) \
                or not isinstance(ref.get("kind"), str):
            return True
        r_group, r_version = split_api(r.api)
        return any(_selected(k, r_group, r_version, ref["kind"], ref["apiGroup"], "") for k, _ns, _n in r.prev)


def _selected(kind, group, version, s_kind, s_group, s_version) -> bool:
    return (not s_group or group == s_group) and (not s_version or version == s_version) \
        and (not s_kind or kind == s_kind)


def _eff(api: str, kind: str, ns: str) -> str:
    return effective_namespace(api, kind, ns)


def _binding_namespaces(referrer: Res) -> set[str]:
    if referrer.kind != "RoleBinding":
        return set()
    out = set()
    for s in referrer.body.get("subjects") or []:
        if isinstance(s, dict) and s.get("kind") == "ServiceAccount" and isinstance(s.get("namespace"), str) \
                and isinstance(s.get("name"), str) and s["name"]:
            out.add(s["namespace"])
    return out


def _text(value) -> str | None:
    """The text kustomize compares for a scalar (None for a null, which it skips)."""
    if any(value is n for n in NULLS):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    raise NotNative("a reference that is not a scalar")

