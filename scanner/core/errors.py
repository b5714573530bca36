"""Errors: the stable codes of recorded scan errors, and the one exception root with its exit codes.

Two kinds of trouble, kept apart:

- A *scan error* (`scanner.core.model.ScanError`) is recorded and reported; the scan goes on. Its
  `code` (one of `ERROR_CODES`) is stable: gates, reports and tests filter on it, never on the
  message, which is for people and may change.
- A `PostureError` stops the command. Each stage raises its own subclass; `exit_code_for` maps them
  to the process exit code in this one place.
"""
from __future__ import annotations

# ---- exit codes -------------------------------------------------------------------------------------

EXIT_PASS = 0  # the scan ran and every gate held
EXIT_GATE_FAILED = 1  # the scan ran and a gate failed
EXIT_USAGE = 2  # bad flags or configuration: the user must fix the command or posture.yaml
EXIT_CANNOT_RUN = 3  # the scan could not run (unreadable source, unreachable cluster, unwritable output)
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM


class PostureError(Exception):
    """Root of every error that stops a posture command. `exit_code` says how the process ends."""

    exit_code = EXIT_CANNOT_RUN

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.code = code


class UsageError(PostureError):
    """Flags that do not fit together or name nothing (unknown check id, NaN threshold)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """posture.yaml is invalid: names the key (and the line when known)."""

    def __init__(self, message: str, *, code: str = "config-invalid"):
        super().__init__(message, code=code)


class SourceError(PostureError):
    """A source cannot be read at all (the repo path is missing, the cluster unreachable)."""


class InventoryError(PostureError):
    """The inventory cannot be built."""


class AnalysisError(PostureError):
    """A domain analysis cannot run."""


class CheckError(PostureError):
    """A check is misdeclared (plugin loading); a check that raises while running is a scan error."""


class EngineError(PostureError):
    """The engine cannot finish the scan."""


class ReportError(PostureError):
    """A report cannot be rendered or written (output directory unwritable or locked)."""


class SnapshotRefError(UsageError):
    """A baseline or archive reference that names nothing readable."""


def exit_code_for(exc: BaseException) -> int:
    """The process exit code for an exception that ended a command (the only such mapping)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, PostureError):
        return exc.exit_code
    return EXIT_CANNOT_RUN


# ---- scan error codes -------------------------------------------------------------------------------
# code -> what it means. Kebab-case, stable: renaming one is a breaking change of the report.

ERROR_CODES: dict[str, str] = {
    # sources: the repository
    "dir-unreadable": "a directory of the repository could not be listed; its files were not scanned",
    "gitignore-unreadable": "a .gitignore could not be read; its rules were not applied",
    "link-outside-repo": "a symbolic link points outside the repository; not followed",
    "link-broken": "a broken or looping symbolic link; not read",
    "file-unreadable": "a file could not be read (permissions, special file, I/O error)",
    "file-too-large": "a file is over the size limit; not parsed",
    "file-binary": "a file that should be text holds NUL bytes; not parsed",
    "file-not-utf8": "a file is not valid UTF-8; not parsed",
    "yaml-invalid": "a YAML file does not parse",
    "yaml-helm-template": "a Helm/Go template, not plain YAML; not parsed",
    "yaml-too-deep": "a YAML document is nested too deeply; not loaded",
    "yaml-alias-bomb": "YAML aliases expand past the limit; document not loaded",
    "yaml-invalid-value": "a YAML scalar cannot be constructed (odd date, huge number)",
    "yaml-duplicate-key": "a YAML mapping repeats a key (the last value would silently win)",
    # sources: the live cluster
    "cluster-discovery-failed": "the API server's discovery failed for some groups",
    "cluster-kind-not-served": "a built-in kind is not served by this API server",
    "rbac-forbidden": "the scanner's credentials may not list a kind (HTTP 403)",
    "cluster-list-failed": "listing a kind failed (not a 403)",
    "secret-metadata-refused": "the API server would only send full Secrets; the scanner refuses them",
    "tls-secrets-unreadable": "--inspect-tls could not read TLS Secrets",
    "secrets-not-listed": "Secrets were not listed (not granted, as by default); ExternalSecret status stands in",
    # inventory: kustomize and Flux builds
    "kustomize-build-failed": "kustomize could not build a directory",
    "kustomize-cycle": "a kustomization includes itself",
    "kustomize-ref-missing": "a kustomization names a resource or component that does not exist",
    "flux-path-missing": "a Flux Kustomization's path does not exist in the repository",
    "flux-path-not-found": "a Flux Kustomization's path does not exist in its source",
    "flux-graph-too-deep": "Flux Kustomizations nested beyond the scanner's bound; not built",
    "flux-postbuild-failed": "Flux post-build substitution failed for a Kustomization",
    "flux-patch-invalid": "a Flux Kustomization patch is not valid YAML",
    "flux-object-conflict": "two Flux Kustomizations apply the same object (the later one's version is kept)",
    "kustomize-path-refused": "a kustomization names a path outside the repository (or a device/FIFO); not read",
    "resourceset-failed": "a Flux Operator ResourceSet could not be expanded (inputs not found or template error)",
    # inventory: Helm charts
    "helm-chart-refused": "a chart archive was refused (outside the repository, too large, unsafe paths)",
    "helm-values-invalid": "a HelmRelease's values (or valuesFrom) are not a mapping",
    "helm-values-missing": "a values file or valuesFrom source was not found",
    "helm-values-refused": "a values file leads outside the repository; not read",
    "helm-render-failed": "Helm's engine could not render a chart",
    "helm-render-timeout": "Helm's engine ran past its time for a chart",
    "helm-render-too-large": "a chart rendered to more than the size limit; not read",
    "helm-render-bad-yaml": "a chart rendered to YAML that does not parse",
    "helm-engine-missing": "no Helm engine (helm-python-sdk or a helm binary) to render charts",
    # analysis and checks
    "plugin-load-failed": "a check plugin could not be loaded (or repeats an id)",
    "check-crashed": "a check raised an exception; its verdicts are missing",
    "exposure-map-failed": "the exposure map could not be built",
    "sops-config-invalid": "a .sops.yaml is invalid (or one of its creation rules)",
    "sops-unavailable": "the sops binary hung, crashed or could not run; later sops calls were skipped",
    "sops-binary-missing": "no sops binary: SOPS verdicts come from the native parser only",
    "sops-mac-unverified": "no age key: SOPS MACs were not verified",
    "leak-scan-chunked": "a file over the size limit was scanned for credentials in chunks (not parsed)",
    # configuration
    "config-invalid": "posture.yaml (or a check option in it) is invalid",
    # kind-wide fallbacks, for a site that has not named its code yet
    "input-error": "an input could not be read (unclassified)",
    "source-error": "a source could not be read (unclassified)",
    "check-error": "a check could not judge (unclassified)",
    "notice": "a degraded mode worth knowing about (unclassified)",
}

DEFAULT_CODE_FOR_KIND = {"input": "input-error", "source": "source-error", "check": "check-error",
                         "config": "config-invalid", "notice": "notice"}
