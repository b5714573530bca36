"""API discovery: which of the resource types the scanner reads this cluster serves, at which version.

Aggregated discovery (one `/apis` response with every group, version and resource; GA in 1.30) is
asked for first; servers that do not speak it answer with the classic APIGroupList, and then only
the groups the scanner needs are fetched (`/apis/<group>/<version>`), in parallel.
A group missing from `/apis`, or a resource missing from every served version, is "absent": for a
CRD-backed kind that means the CRD is not installed.
"""
from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field

from scanner.sources.kube_http import ClusterUnavailable, KubeError, KubeHTTP
from scanner.sources.kube_types import ResourceType

AGGREGATED_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


@dataclass
class Discovery:
    """The resource types the API server serves, and those it does not."""

    served: dict[ResourceType, str] = field(default_factory=dict)  # type -> "v1" / "group/version"
    absent: list[ResourceType] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def discover(http: KubeHTTP, types: tuple[ResourceType, ...], pool: Executor) -> Discovery:
    out = Discovery()
    core = _core_resources(http)
    groups = _groups(http)
    wanted = sorted({t.group for t in types if t.group})
    # group -> [(version, set(plurals) or None when not fetched yet)] in the server's preference order
    if not isinstance(groups, _Aggregated):
        futures = {g: pool.submit(_fill_legacy_group, http, g, groups[g], {t for t in types if t.group == g})
                   for g in wanted if g in groups}
        for g, fut in futures.items():
            err = fut.result()
            if err:
                out.errors.append(err)
    for t in types:
        if not t.group:
            if t.plural in core:
                out.served[t] = "v1"
            else:
                out.absent.append(t)
            continue
        versions = groups.get(t.group)
        version = _pick(t, versions) if versions else None
        if version:
            out.served[t] = f"{t.group}/{version}"
        elif versions is None or all(plurals is not None for _, plurals in versions):
            out.absent.append(t)
        else:  # a version list we could not read: neither served nor provably absent
            out.errors.append(f"cannot tell whether {t.plural}.{t.group} is served (discovery failed)")
    return out


class _Aggregated(dict):
    """Marks a group map that came complete from aggregated discovery."""


def _core_resources(http: KubeHTTP) -> set[str]:
    try:
        body = http.get_json("/api/v1")
    except KubeError as exc:
        raise ClusterUnavailable(f"API discovery failed at {http.host}/api/v1: {exc}") from None
    return {r.get("name") for r in body.get("resources") or () if isinstance(r, dict)}


def _groups(http: KubeHTTP) -> dict:
    try:
        body = http.get_json("/apis", accept=AGGREGATED_ACCEPT)
    except KubeError as exc:
        raise ClusterUnavailable(f"API discovery failed at {http.host}/apis: {exc}") from None
    if body.get("kind") == "APIGroupDiscoveryList":
        out = _Aggregated()
        for item in body.get("items") or ():
            name = (item.get("metadata") or {}).get("name")
            if not name:
                continue
            out[name] = [(v.get("version"), {r.get("resource") for r in v.get("resources") or ()})
                         for v in item.get("versions") or () if v.get("version")]
        return out
    out: dict = {}
    for g in body.get("groups") or ():
        versions = [v.get("version") for v in g.get("versions") or () if v.get("version")]
        preferred = (g.get("preferredVersion") or {}).get("version")
        if preferred in versions:  # the preferred version first, then the rest in the server's order
            versions.remove(preferred)
            versions.insert(0, preferred)
        out[g.get("name")] = [[v, None] for v in versions]
    return out


def _fill_legacy_group(http: KubeHTTP, group: str, versions: list, types: set[ResourceType]) -> str | None:
    """Fetch resource lists until every wanted plural is placed (usually one request: the preferred)."""
    want = {t.plural for t in types}
    # the preferred version, then the versions the scanner knows, then the others
    known = {t.version for t in types}
    order = versions[:1] + [v for v in versions[1:] if v[0] in known] + [v for v in versions[1:] if v[0] not in known]
    for entry in order:
        if not want:
            break
        try:
            body = http.get_json(f"/apis/{group}/{entry[0]}")
        except KubeError as exc:
            if exc.status == 404:  # listed but not served (a stale aggregated API): serves nothing
                entry[1] = set()
                continue
            return f"API discovery of {group}/{entry[0]} failed: {exc}"
        entry[1] = {r.get("name") for r in body.get("resources") or () if isinstance(r, dict)}
        want -= entry[1]
    return None


def _pick(t: ResourceType, versions: list) -> str | None:
    """The first version (server preference order; the scanner's own version breaks no ties) serving t."""
    for version, plurals in versions:
        if plurals and t.plural in plurals:
            return version
    return None
