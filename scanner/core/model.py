"""The data every stage shares: documents, resources, derived workloads and routes, results.

Data flows one way: sources produce `Document`s, the inventory turns them into `Resource`s (one per
place a document is deployed), derives `Workload`s and `Route`s, checks yield `Result`s.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from scanner.core.errors import DEFAULT_CODE_FOR_KIND
from scanner.core.redact import redact_urls

LAYERS = (
    "perimeter",
    "segmentation",
    "nodes",
    "workloads",
    "secrets",
    "authentication",
    "policy",
    "gitops",
    "backups",
    "monitoring",
)

SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: i for i, s in enumerate(reversed(SEVERITIES))}  # info=0 ... critical=4
# The same lists as types, for the report and posture.yaml models.
Layer = Literal[LAYERS]  # type: ignore[valid-type]
Severity = Literal[SEVERITIES]  # type: ignore[valid-type]

# Kinds that never carry a namespace: kustomize's and Flux's namespace settings skip them.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "ClusterPolicy",
        "ClusterSecretStore", "ClusterExternalSecret", "CiliumClusterwideNetworkPolicy", "StorageClass",
        "PersistentVolume", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding", "ClusterIssuer", "GatewayClass", "IngressClass", "APIService",
        "RuntimeClass", "CSIDriver", "VolumeSnapshotClass", "ClusterCleanupPolicy", "Node",
        "CiliumLoadBalancerIPPool", "CiliumL2AnnouncementPolicy", "CiliumBGPClusterConfig",
        "ClusterGenerator", "ClusterPushSecret", "FlowSchema", "PriorityLevelConfiguration",
    }
)


@dataclass(slots=True)
class Document:
    """One YAML document as it stands in a file (or one live object)."""

    path: str  # repo-relative POSIX path, or "cluster://<kind>/<ns>/<name>" for live objects
    line: int  # 1-based first line of the document
    index: int  # position of the document in its file
    body: Any  # the parsed document (usually a dict); read-only once the Document is made
    origin: str = "git"  # "git" or "cluster"
    # Read from the body once: every stage asks for them, tens of thousands of times per scan.
    kind: str = field(init=False, repr=False, compare=False)  # "" when the body has none
    api_version: str = field(init=False, repr=False, compare=False)
    is_manifest: bool = field(init=False, repr=False, compare=False)  # has both a kind and an apiVersion

    def __post_init__(self) -> None:
        body = self.body
        if isinstance(body, dict):
            self.kind = body.get("kind", "")
            self.api_version = body.get("apiVersion", "")
        else:
            self.kind = self.api_version = ""
        self.is_manifest = bool(self.kind) and bool(self.api_version)


@dataclass(slots=True, eq=False)
class Resource:
    """A Kubernetes object as it would be applied: a document in one deployment context.

    The same document included by several Flux Kustomizations (a shared component) yields one
    Resource per inclusion, each with its own namespace and substitution variables.
    """

    doc: Document
    namespace: str | None  # effective namespace (Flux targetNamespace > kustomize namespace > metadata)
    name: str  # effective name, Flux substitutions resolved where known
    deployed: bool
    flux_kustomization: str | None = None  # "<ns>/<name>" of the Flux Kustomization that applies it
    variables: dict[str, str] = field(default_factory=dict)  # postBuild substitutions in force
    body: Any = None  # the deployed body (built, patched, substituted); defaults to doc.body
    cluster: str | None = None  # the Flux root (cluster) that deploys it; None when not deployed
    # How the object is known: "kustomize" (the real binary built it), "native" (the exact native subset),
    # "helm" (a chart rendered), "values" (derived from HelmRelease values without the chart), "live"
    # (read from a cluster's API), "file" (a document not deployed by anything the scan saw).
    how: str = "file"
    producer: str | None = None  # "<Kind>/<ns>/<name>" of the HelmRelease that renders it (how "helm"/"values")
    _ref: dict | None = field(default=None, repr=False, compare=False)  # see ref()

    def __post_init__(self) -> None:
        if self.body is None:
            self.body = self.doc.body

    @property
    def kind(self) -> str:
        return self.doc.kind

    @property
    def api_version(self) -> str:
        return self.doc.api_version

    @property
    def group(self) -> str:
        av = self.api_version
        return av.split("/")[0] if "/" in av else ""

    @property
    def path(self) -> str:
        return self.doc.path

    @property
    def line(self) -> int:
        return self.doc.line

    @property
    def origin(self) -> str:
        return self.doc.origin

    @property
    def metadata(self) -> dict:
        md = self.body.get("metadata") if isinstance(self.body, dict) else None
        return md if isinstance(md, dict) else {}

    @property
    def spec(self) -> dict:
        sp = self.body.get("spec") if isinstance(self.body, dict) else None
        return sp if isinstance(sp, dict) else {}

    @property
    def labels(self) -> dict:
        v = self.metadata.get("labels")
        return v if isinstance(v, dict) else {}

    @property
    def annotations(self) -> dict:
        v = self.metadata.get("annotations")
        return v if isinstance(v, dict) else {}

    def ref(self) -> dict:
        """The identity shown in reports. One dict per resource, shared by all its findings (a large
        scan has hundreds of thousands of findings): treat it as read-only."""
        if self._ref is None:
            # A document nothing deploys is a file's content, not an object of the cluster: origin "file"
            # (its namespace, if any, is only what the file says).
            origin = "file" if self.origin == "git" and not self.deployed else self.origin
            self._ref = {
                "apiVersion": self.api_version,
                "kind": self.kind,
                "namespace": self.namespace,
                "name": self.name,
                "origin": origin,
            }
            if self.cluster and self.deployed:
                self._ref["cluster"] = self.cluster  # (with kind, namespace, name: its `posture inventory` entry)
            if self.producer:
                self._ref["producer"] = self.producer
        return self._ref

    def key(self) -> str:
        return f"{self.kind}/{self.namespace or '-'}/{self.name}"

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"<Resource {self.key()} {self.path}:{self.line}{'' if self.deployed else ' (not deployed)'}>"


@dataclass(slots=True, eq=False)
class Container:
    """A container of a workload, normalised, with its key path in the resource."""

    name: str
    spec: dict  # normalised container spec (image as a string, env as a list, ...)
    init: bool = False
    path: tuple = ()  # key path of the container inside the resource body (for line lookup)


@dataclass(slots=True, eq=False)
class Workload:
    """A pod template, from a raw manifest or derived from HelmRelease values (app-template)."""

    name: str
    namespace: str | None
    kind: str  # Deployment, StatefulSet, DaemonSet, CronJob, Job, Pod
    resource: Resource  # the manifest or HelmRelease it comes from
    pod: dict  # normalised pod spec without containers
    containers: list[Container]
    source: str  # "manifest" or "app-template"
    pod_path: tuple = ()  # key path of the pod-level options in the resource body
    pod_paths: dict = field(default_factory=dict)  # pod field -> key path where it was set (app-template)
    chart_version: str | None = None  # app-template version when known
    labels: dict = field(default_factory=dict)  # pod labels (for policy selectors)

    @property
    def all_containers(self) -> list[Container]:
        return self.containers

    def key(self) -> str:
        return f"{self.kind}/{self.namespace or '-'}/{self.name}"


@dataclass(slots=True, eq=False)
class Route:
    """An HTTP entry point: Ingress, HTTPRoute/GRPCRoute, or app-template ingress/route values."""

    name: str
    namespace: str | None
    kind: str  # Ingress, HTTPRoute, GRPCRoute
    resource: Resource  # the manifest or HelmRelease it comes from
    hosts: list[str]
    annotations: dict
    source: str  # "manifest" or "app-template"
    ingress_class: str | None = None  # Ingress class
    parent_refs: list[dict] = field(default_factory=list)  # Gateway API parents (namespace filled in)
    tls: bool = False  # Ingress declares tls
    filters: list[dict] = field(default_factory=list)  # Gateway API rule filters
    backends: list[dict] = field(default_factory=list)  # [{name, port}]
    path: tuple = ()  # key path inside the resource body
    aliases: tuple = ()  # other names the rendered object may carry (app-template naming)

    def key(self) -> str:
        return f"{self.kind}/{self.namespace or '-'}/{self.name}"


@dataclass(slots=True)
class Location:
    """A file and line a finding points at."""

    path: str
    line: int | None = None

    def as_dict(self) -> dict:
        return {"path": self.path, "line": self.line}


@dataclass(slots=True)
class Result:
    """One subject's verdict from one check."""

    status: str  # pass, fail, warn, mitigated (passes because another layer enforces it)
    subject: str  # what was judged: "namespace media", "Secret media/foo", ...
    message: str
    resource: dict | None = None  # Resource.ref() or a synthetic identity
    location: Location | None = None
    severity: str | None = None  # overrides the check's severity for this result
    remediation: str | None = None  # overrides the check's remediation for this result
    evidence: dict = field(default_factory=dict)  # what proves the verdict (never secret values)
    namespace: str | None = None  # for the namespace x layer matrix
    # For `mitigated`: the layers that enforce what the manifest lacks, each with its evidence
    # ({layer, mechanism, detail, path, line}).
    mitigated_by: list | None = None
    cluster: str | None = None  # in a repository with several clusters: the one this verdict is about


@dataclass(slots=True)
class ScanError:
    """Something the scan could not read or do: recorded and reported, never fatal.

    `code` is stable (scanner.core.errors.ERROR_CODES): consumers filter on it, never on `message`."""

    path: str
    line: int | None
    message: str
    kind: str = "input"  # input, config, check, source, notice
    code: str = ""  # "" = the kind's fallback code (DEFAULT_CODE_FOR_KIND)

    def __post_init__(self) -> None:
        if not self.code:
            self.code = DEFAULT_CODE_FOR_KIND.get(self.kind, "input-error")

    def sort_key(self) -> tuple:
        return (self.path, self.line or 0, self.code, self.message)

    def as_dict(self) -> dict:
        return {"code": self.code, "path": self.path, "line": self.line, "message": self.message, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class Gap:
    """Something the scan could not see or render (a coverage gap): listed in the report's coverage
    section, never silently passed. `code` is stable (filter on it, never on the message)."""

    code: str  # e.g. "remote-resource", "opaque-chart", "root-unresolved", "external-source"
    path: str  # the repo file that names it
    subject: str  # what is unseen: a URL, a chart, a variable, a source, an object
    message: str
    line: int | None = None
    cluster: str | None = None

    def __post_init__(self) -> None:
        # A gap often names a URL taken from the repo (a remote base, a source): its credentials
        # (`https://user:TOKEN@host`, `?token=`) must reach no report, terminal or cache.
        object.__setattr__(self, "subject", redact_urls(self.subject))
        object.__setattr__(self, "message", redact_urls(self.message))

    def as_dict(self) -> dict:
        return {"code": self.code, "path": self.path, "line": self.line, "subject": self.subject,
                "message": self.message, "cluster": self.cluster}
