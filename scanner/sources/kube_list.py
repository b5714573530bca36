"""List every object of one resource type, page by page, and shape it for the inventory.

Lists are cluster-wide (`/apis/<g>/<v>/<plural>`) so one paginated walk covers every namespace.
Secrets are only ever listed in the PartialObjectMetadata form: the API server drops `data` and
`stringData` before anything leaves it.
"""
from __future__ import annotations

from scanner.sources.kube_http import KubeError, KubeHTTP
from scanner.sources.kube_types import METADATA_ACCEPT, ResourceType

# Stripped from every object. managedFields: bulky field-ownership bookkeeping no check reads.
# last-applied-configuration: a full copy of the object as `kubectl apply` sent it; on a Secret
# that copy includes the data, and the PartialObjectMetadata form keeps annotations. Its value is
# replaced, not the key removed: "applied with kubectl" is itself evidence of a hand-made change.
DROP_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)
DROPPED = "(value dropped by gitops-posture)"


class MetadataRefused(Exception):
    """The server answered a metadata-only list with something else (it may have sent data)."""


def list_path(t: ResourceType, api_version: str) -> str:
    return f"/api/{api_version}/{t.plural}" if not t.group else f"/apis/{api_version}/{t.plural}"


def list_objects(http: KubeHTTP, t: ResourceType, api_version: str, *, page_size: int,
                 metadata_only: bool = False, field_selector: str | None = None) -> tuple[list[dict], int]:
    """All objects of `t` (each with apiVersion and kind), and how many pages it took."""
    path = list_path(t, api_version)
    accept = METADATA_ACCEPT if metadata_only else "application/json"
    items: list[dict] = []
    token: str | None = None
    pages = 0
    restarted = False
    while True:
        query = [("limit", str(page_size))]
        if token:
            query.append(("continue", token))
        if field_selector:
            query.append(("fieldSelector", field_selector))
        try:
            body = http.get_json(path, query, accept)
        except KubeError as exc:
            if exc.status != 410 or not token:
                raise
            # The continue token expired (compaction). The 410 carries a token for the rest of the
            # list at a newer revision; without one, start over once.
            token = ((exc.body.get("metadata") or {}).get("continue")) or None
            if token is None:
                if restarted:
                    raise
                restarted, items, pages = True, [], 0
            continue
        pages += 1
        if metadata_only and body.get("kind") != "PartialObjectMetadataList":
            # Whatever came back is dropped unread: a server (or proxy) ignoring the Accept header
            # may have sent full objects, and we stop before asking for another page of them.
            del body
            raise MetadataRefused(f"{path}: the server ignored the metadata-only Accept header")
        for obj in body.get("items") or ():
            if isinstance(obj, dict):
                items.append(shape(obj, t, api_version, metadata_only))
        token = (body.get("metadata") or {}).get("continue") or None
        if not token:
            return items, pages


def shape(obj: dict, t: ResourceType, api_version: str, metadata_only: bool) -> dict:
    """The object as a manifest would be: apiVersion and kind filled in (list items omit them)."""
    md = _clean_metadata(obj.get("metadata"))
    if metadata_only:
        # Build from metadata alone: nothing else from the response is kept.
        return {"apiVersion": api_version, "kind": t.kind, "metadata": md}
    out = dict(obj)
    out["apiVersion"] = api_version
    out["kind"] = t.kind
    out["metadata"] = md
    return out


def _clean_metadata(md) -> dict:
    md = dict(md) if isinstance(md, dict) else {}
    md.pop("managedFields", None)
    ann = md.get("annotations")
    if isinstance(ann, dict) and any(k in ann for k in DROP_ANNOTATIONS):
        md["annotations"] = {k: (DROPPED if k in DROP_ANNOTATIONS else v) for k, v in ann.items()}
    return md
