"""The live source: read a cluster through the Kubernetes API, read-only, as inventory documents.

`fetch_cluster` discovers which of `RESOURCE_TYPES` the cluster serves, lists each one (paginated,
cluster-wide, a few types at a time), and reports what it could not read: a 403 is recorded with
the checks that lose their input and the scan goes on; a CRD that is not installed is an
"absent kind", which the policy and network checks turn into findings of their own.
Secrets are read as metadata only, and only where granted (see kube_types.OPT_IN); without that
grant, Secrets produced by ExternalSecrets are known from the ExternalSecrets' status and owner
(`derived_secrets`). See kube_list and kube_tls.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from scanner.core.model import Document, Resource, ScanError
from scanner.sources.kube_discovery import discover
from scanner.sources.kube_http import (CONNECT_TIMEOUT, ClusterUnavailable, KubeError, KubeHTTP, Unreachable,
                                      load_configuration)
from scanner.sources.kube_list import MetadataRefused, list_objects
from scanner.sources.kube_tls import TLS_FIELD_SELECTOR, TLS_TYPE, inspect_secret
from scanner.sources.kube_types import METADATA_ACCEPT, OPT_IN, RESOURCE_TYPES, SECRETS, ResourceType

__all__ = ["ClusterData", "ClusterUnavailable", "RESOURCE_TYPES", "METADATA_ACCEPT", "fetch_cluster",
           "cluster_documents", "cluster_resources", "document_path"]


@dataclass
class ClusterData:
    """What was read from a live cluster, and what could not be."""

    objects: list[dict] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    absent_kinds: list[str] = field(default_factory=list)  # CRD-backed kinds the cluster does not serve
    denied_kinds: list[str] = field(default_factory=list)  # 403 on list
    server: dict = field(default_factory=dict)  # host, context, version
    tls_certificates: list[dict] = field(default_factory=list)  # only with inspect_tls
    read_kinds: list[str] = field(default_factory=list)  # listed completely
    failed_kinds: list[str] = field(default_factory=list)  # not denied, but not read either (errors)
    derived_kinds: list[str] = field(default_factory=list)  # not granted; known from their producers
    stats: dict = field(default_factory=dict)  # requests, retries, pages per kind, seconds
    needs: dict = field(default_factory=dict)  # kind -> ids of the checks that read it (for error messages)

    def __repr__(self) -> str:  # a summary: the objects themselves can be thousands
        return (f"<ClusterData {self.server.get('host')} objects={len(self.objects)} errors={len(self.errors)} "
                f"absent={self.absent_kinds} denied={self.denied_kinds} tls={len(self.tls_certificates)}>")


def fetch_cluster(kubeconfig: str | None = None, context: str | None = None, *, inspect_tls: bool = False,
                  page_size: int = 250, request_timeout: float = 20.0, retries: int = 4,
                  connect_timeout: float = CONNECT_TIMEOUT, concurrency: int = 4,
                  needs: dict[str, tuple[str, ...]] | None = None) -> ClusterData:
    """Read the cluster. Raises ClusterUnavailable when nothing can be read at all (an unreachable
    server after one probe, without retries). `needs`: kind -> ids of the checks that read it, so an
    error can say which checks lost their input."""
    from kubernetes import client

    if page_size < 1 or concurrency < 1:
        raise ValueError("page_size and concurrency must be at least 1")
    started = time.perf_counter()
    cfg, ctx_name = load_configuration(kubeconfig, context, concurrency)
    api = client.ApiClient(cfg)
    http = KubeHTTP(api, timeout=request_timeout, retries=retries, connect_timeout=connect_timeout)
    pages: dict[str, int] = {}
    try:
        data = ClusterData(server={"host": cfg.host, "context": ctx_name, "version": _reach(http, ctx_name)},
                           needs=dict(needs or {}))
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="posture-kube") as pool:
            disc = discover(http, RESOURCE_TYPES, pool)
            _record_discovery(data, disc)
            jobs = [(t, pool.submit(_list_type, http, t, v, page_size)) for t, v in disc.served.items()]
            secret_meta: list[dict] = []
            for t, fut in sorted(jobs, key=lambda j: RESOURCE_TYPES.index(j[0])):
                try:
                    items, pages[t.kind] = fut.result()
                except Exception as exc:  # one unreadable type must not cost the others
                    _record_failure(data, t, exc)
                    continue
                data.read_kinds.append(t.kind)
                data.objects.extend(items)
                if t == SECRETS:
                    secret_meta = items
            if inspect_tls and SECRETS in disc.served:
                _inspect_tls(http, pool, page_size, data, secret_meta)
        if "Secret" in data.derived_kinds:
            data.objects.extend(derived_secrets(data.objects))
    finally:
        api.rest_client.pool_manager.clear()  # close pooled connections now, not at interpreter exit
    data.stats = {"requests": http.stats.requests, "retries": http.stats.retries, "pages": pages,
                  "seconds": round(time.perf_counter() - started, 3)}
    return data


def document_path(obj: dict) -> str:
    md = obj.get("metadata") or {}
    return f"cluster://{obj.get('kind')}/{md.get('namespace') or '-'}/{md.get('name')}"


def cluster_documents(data: ClusterData) -> list[Document]:
    """One Document per live object (line 0: a live object has no file position)."""
    return [Document(path=document_path(o), line=0, index=0, body=o, origin="cluster") for o in data.objects]


def cluster_resources(data: ClusterData) -> list[Resource]:
    """Resources as the inventory makes them from cluster_documents (deployed by definition)."""
    out = []
    for d in cluster_documents(data):
        md = d.body.get("metadata") or {}
        out.append(Resource(doc=d, namespace=md.get("namespace"), name=str(md.get("name", "")), deployed=True))
    return out


# ---- internals -------------------------------------------------------------------------------

def _reach(http: KubeHTTP, ctx_name: str | None) -> str | None:
    """The server's version, asked once: an unreachable server ends the scan here, in one line,
    rather than after every request's retries. An HTTP error (401, 403) is left to discovery."""
    try:
        version = http.probe()
    except Unreachable as exc:
        where = f"{http.host} (context {ctx_name})" if ctx_name else http.host
        raise ClusterUnavailable(f"cannot reach the Kubernetes API server {where}: {exc}") from None
    gitversion = (version or {}).get("gitVersion")
    return gitversion if isinstance(gitversion, str) else None


def _list_type(http: KubeHTTP, t: ResourceType, api_version: str, page_size: int):
    return list_objects(http, t, api_version, page_size=page_size, metadata_only=(t == SECRETS))


def _res(t: ResourceType) -> str:
    return f"{t.plural}.{t.group}" if t.group else t.plural


def _record_discovery(data: ClusterData, disc) -> None:
    for msg in disc.errors:
        data.errors.append(ScanError("cluster://discovery", None, msg, kind="source", code="cluster-discovery-failed"))
    for t in disc.absent:
        if t.builtin:  # every API server serves these; not being able to see one is an error
            data.failed_kinds.append(t.kind)
            data.errors.append(ScanError(f"cluster://{t.kind}", None, f"{_res(t)} is not served by this API server",
                                         kind="source", code="cluster-kind-not-served"))
        else:
            data.absent_kinds.append(t.kind)
    decided = {t.kind for t in disc.served} | {t.kind for t in disc.absent}
    data.failed_kinds.extend(t.kind for t in RESOURCE_TYPES if t.kind not in decided)


DERIVED_ANNOTATION = "posture.gitops/derived-from"


def derived_secrets(objects: list[dict]) -> list[dict]:
    """Secret metadata known without reading Secrets: the target of every ExternalSecret whose status
    says it synced (Ready, SecretSynced), owned by that ExternalSecret as ESO's creationPolicy Owner
    makes it. Carries no data, only what the ExternalSecret itself says."""
    out = []
    for o in objects:
        if o.get("kind") != "ExternalSecret" or not str(o.get("apiVersion", "")).startswith("external-secrets.io/"):
            continue
        md, spec, status = o.get("metadata") or {}, o.get("spec") or {}, o.get("status") or {}
        ready = next((c for c in status.get("conditions") or [] if isinstance(c, dict) and c.get("type") == "Ready"), {})
        if ready.get("status") != "True":
            continue  # not synced: the Secret may not exist (secrets.externalsecret-synced says why)
        target = spec.get("target") if isinstance(spec.get("target"), dict) else {}
        name = (status.get("binding") or {}).get("name") or target.get("name") or md.get("name")
        if not name:
            continue
        out.append({"apiVersion": "v1", "kind": "Secret", "metadata": {
            "name": name, "namespace": md.get("namespace"),
            "annotations": {DERIVED_ANNOTATION: f"ExternalSecret {md.get('namespace')}/{md.get('name')} status"},
            "ownerReferences": [{"apiVersion": o.get("apiVersion"), "kind": "ExternalSecret", "name": md.get("name"),
                                 "controller": True}]}})
    return out


def _record_failure(data: ClusterData, t: ResourceType, exc: Exception) -> None:
    if t in OPT_IN and isinstance(exc, KubeError) and exc.status == 403:
        # The default deployment: no grant on Secrets (a list returns their data). Not an error.
        data.derived_kinds.append(t.kind)
        data.errors.append(ScanError(f"cluster://{t.kind}", None,
                                     f"{_res(t)} not listed (not granted, as in the default deploy/base): Secrets "
                                     "produced by ExternalSecrets are known from their status and owner; "
                                     "deploy/overlays/secret-metadata grants the metadata list", kind="notice",
                                     code="secrets-not-listed"))
        return
    lost = _checks_needing(data, t.kind)
    lost_text = (f"checks losing input: {', '.join(lost)}" if lost
                 else f"checks that read {t.kind} judge without it")
    code = "cluster-list-failed"
    if isinstance(exc, KubeError) and exc.status == 403:
        code = "rbac-forbidden"
        data.denied_kinds.append(t.kind)
        msg = (f"forbidden to list {_res(t)} ({t.kind}): {exc.message}; {t.kind} objects not read, "
               f"{lost_text}. Grant get/list on {_res(t)} (deploy/base/clusterrole.yaml).")
    elif isinstance(exc, MetadataRefused):
        code = "secret-metadata-refused"
        data.failed_kinds.append(t.kind)
        msg = f"Secrets not read: {exc}; the scanner refuses to receive full Secrets. {lost_text}."
    else:
        data.failed_kinds.append(t.kind)
        msg = f"cannot list {_res(t)} ({t.kind}): {exc}; {t.kind} objects not read, {lost_text}."
    data.errors.append(ScanError(f"cluster://{t.kind}", None, msg, kind="source", code=code))


def _checks_needing(data: ClusterData, kind: str) -> tuple[str, ...]:
    return data.needs.get(kind, ())


def _inspect_tls(http: KubeHTTP, pool, page_size: int, data: ClusterData, secret_meta: list[dict]) -> None:
    """List TLS Secrets (metadata, by field selector), then read each one's certificate."""
    try:
        tls, _ = list_objects(http, SECRETS, "v1", page_size=page_size, metadata_only=True,
                              field_selector=TLS_FIELD_SELECTOR)
    except (KubeError, MetadataRefused) as exc:
        data.errors.append(ScanError("cluster://Secret", None, f"--inspect-tls: cannot list TLS Secrets: {exc}",
                                     kind="source", code="tls-secrets-unreadable"))
        return
    names = [((o["metadata"].get("namespace") or ""), o["metadata"].get("name") or "") for o in tls]
    is_tls = set(names)
    for obj in secret_meta:  # the metadata list cannot say a Secret's type; now we know these
        md = obj["metadata"]
        if (md.get("namespace") or "", md.get("name") or "") in is_tls:
            obj["type"] = TLS_TYPE
    futures = [(ns, name, pool.submit(inspect_secret, http, ns, name)) for ns, name in names if ns and name]
    denied = 0
    for ns, name, fut in futures:
        try:
            data.tls_certificates.append(fut.result())
        except KubeError as exc:
            denied += exc.status == 403
            if exc.status != 403:
                data.errors.append(ScanError(f"cluster://Secret/{ns}/{name}", None,
                                             f"--inspect-tls: cannot read the certificate: {exc.message}",
                                             kind="source", code="tls-secrets-unreadable"))
        except ValueError as exc:
            data.errors.append(ScanError(f"cluster://Secret/{ns}/{name}", None, f"--inspect-tls: {exc}",
                                         kind="source", code="tls-secrets-unreadable"))
    if denied:
        data.errors.append(ScanError(
            "cluster://Secret", None,
            f"--inspect-tls: forbidden to get {denied} TLS Secret(s); --inspect-tls needs `get` on secrets, "
            "which the default posture ClusterRole deliberately lacks (bind an extra Role)", kind="source",
            code="rbac-forbidden"))
