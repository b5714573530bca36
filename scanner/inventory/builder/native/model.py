"""The native builder's vocabulary: a resource as kustomize's resmap holds it, its ids, its scope
and kustomize's output order.

A resource keeps its previous ids (kind, namespace, name before each transformer that records one)
because kustomize selects patch targets and name-reference referrals by them. A mapping value
written empty (`key:` in block style) is held as EMPTY_NULL until output: kustomize's strategic
merge walk drops such a field where it keeps an explicit `null`, and nothing else tells them apart.
An empty value in a flow mapping (`{key: }`) is FLOW_EMPTY: null to kustomize's walks, an empty
string in what it prints.
"""
from __future__ import annotations

from functools import lru_cache

from scanner.inventory.builder.native.tables import BUILTIN_GROUPS, CLUSTER_SCOPED, NAMESPACED, ORDER_FIRST, ORDER_LAST


class NotNative(Exception):
    """The build has something the native builder does not do exactly."""


class _EmptyNull:
    __slots__ = ()

    def __repr__(self) -> str:
        return "EMPTY_NULL"


EMPTY_NULL = _EmptyNull()


class _FlowEmpty:
    __slots__ = ()

    def __repr__(self) -> str:
        return "FLOW_EMPTY"


FLOW_EMPTY = _FlowEmpty()
NULLS = (None, EMPTY_NULL, FLOW_EMPTY)  # the values kustomize's walks take for null
CLUSTER = "~cluster"  # the effective namespace of a cluster-scoped object (kustomize: TotallyNotANamespace)


@lru_cache(maxsize=1024)
def split_api(api: str) -> tuple[str, str]:
    """(group, version) as kustomize's resid parses an apiVersion."""
    group, sep, version = api.partition("/")
    return (group, version) if sep else ("", api)


@lru_cache(maxsize=4096)
def scope(api: str, kind: str) -> str | None:
    """"cluster" or "namespaced" as kustomize v5.8.1 takes it, None when it is not known here."""
    if (api, kind) in CLUSTER_SCOPED:
        return "cluster"
    if (api, kind) in NAMESPACED:
        return "namespaced"
    return None if split_api(api)[0] in BUILTIN_GROUPS else "namespaced"


def known_scope(api: str, kind: str) -> str:
    got = scope(api, kind)
    if got is None:
        raise NotNative(f"the scope kustomize gives {api} {kind} is not known here")
    return got


def effective_namespace(api: str, kind: str, ns: str) -> str:
    """kustomize's ResId.EffectiveNamespace: cluster-scoped objects have none, "" means "default"."""
    if known_scope(api, kind) == "cluster":
        return CLUSTER
    return ns or "default"


class Res:
    """One object of a build: its body, where it came from, its previous ids."""

    __slots__ = ("body", "source", "generated_by", "prev", "needs_hash", "schema_comments")

    def __init__(self, body: dict, source: str | None = None, generated_by: str | None = None,
                 prev: list | None = None, needs_hash: bool = False, schema_comments: bool = False):
        self.body = body
        self.schema_comments = schema_comments  # its file has comments kyaml may read as field metadata
        self.source = source  # repo-relative file
        self.generated_by = generated_by  # repo-relative kustomization whose generator made it
        self.prev: list[tuple[str, str, str]] = prev if prev is not None else []  # (kind, namespace, name)
        self.needs_hash = needs_hash

    @property
    def api(self) -> str:
        return self.body["apiVersion"]

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]

    @property
    def namespace(self) -> str:
        ns = self.body["metadata"].get("namespace")
        return ns if isinstance(ns, str) else ""

    def labels(self) -> dict:
        got = self.body["metadata"].get("labels")
        if got is None or got is EMPTY_NULL:
            return {}
        if not isinstance(got, dict) or not all(isinstance(v, str) for v in got.values()):
            raise NotNative(f"{self.kind} {self.name} has labels that are not strings")
        return got

    def annotations(self) -> dict:
        got = self.body["metadata"].get("annotations")
        if got is None or got is EMPTY_NULL:
            return {}
        if not isinstance(got, dict) or not all(isinstance(v, str) for v in got.values()):
            raise NotNative(f"{self.kind} {self.name} has annotations that are not strings")
        return got

    def store_previous(self) -> None:
        self.prev.append((self.kind, self.namespace, self.name))

    def ids(self) -> list[tuple[str, str, str]]:
        """Every id, as (kind, namespace, name): the current one first, then the previous ones."""
        return [(self.kind, self.namespace, self.name)] + self.prev

    def org(self) -> tuple[str, str, str]:
        """kustomize's OrgId: the first previous id, or the current one."""
        return self.prev[0] if self.prev else (self.kind, self.namespace, self.name)

    def renamed(self) -> bool:
        return any(n != self.name for _k, _ns, n in self.prev)

    def copy(self) -> "Res":
        return Res(deep_copy(self.body), self.source, self.generated_by, list(self.prev), self.needs_hash,
                   self.schema_comments)


def deep_copy(o):
    if isinstance(o, dict):
        return {k: deep_copy(v) for k, v in o.items()}
    if isinstance(o, list):
        return [deep_copy(v) for v in o]
    return o


def finished(o):
    """A body as kustomize prints it: EMPTY_NULL becomes null, FLOW_EMPTY an empty string."""
    if isinstance(o, dict):
        return {k: finished(v) for k, v in o.items()}
    if isinstance(o, list):
        return [finished(v) for v in o]
    if o is EMPTY_NULL:
        return None
    return "" if o is FLOW_EMPTY else o


def _id_keys(res: Res) -> list[tuple]:
    """Keys under which two resources clash for kustomize (same group, kind, name and effective
    namespace), coarser where unsure: the version is left out and an unknown scope gives both."""
    group = split_api(res.api)[0]
    sc = scope(res.api, res.kind)
    out = []
    if sc in ("cluster", None):
        out.append((group, res.kind, res.name, CLUSTER))
    if sc in ("namespaced", None):
        out.append((group, res.kind, res.name, res.namespace or "default"))
    return out


def check_unique(resources: list[Res], where: str) -> None:
    """kustomize refuses two resources with one id in a resmap; so does this builder (more often)."""
    seen: set[tuple] = set()
    for res in resources:
        for key in _id_keys(res):
            if key in seen:
                raise NotNative(f"two objects with one id ({res.kind} {res.name}) in '{where or '.'}'")
            seen.add(key)


_TYPE_ORDER = {**{k: i - len(ORDER_FIRST) for i, k in enumerate(ORDER_FIRST)},
               **{k: 1 + i for i, k in enumerate(ORDER_LAST)}}


def _sort_key(res: Res) -> tuple:
    group, version = split_api(res.api)
    gvk = "_".join((group or "~G", version or "~V", res.kind or "~K"))
    return (_TYPE_ORDER.get(res.kind, 0), gvk, f"{res.namespace or '~X'}|{res.name or '~N'}")


def legacy_sorted(resources: list[Res]) -> list[Res]:
    """kustomize's default (legacy) output order."""
    return sorted(resources, key=_sort_key)
