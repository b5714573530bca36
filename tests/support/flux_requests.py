"""Build requests for the Flux Kustomizations of a repo, found by a plain YAML scan.

Test and benchmark input only: the scanner's own Flux walker decides what is deployed (sources,
substitution, parents); here every Flux Kustomization document becomes one request."""
from __future__ import annotations

import os

from scanner.inventory.builder import BuildRequest, FluxOverlay
from scanner.sources.yamlload import load_documents

SKIP_DIRS = {".git", "node_modules", ".venv"}


def repo_files(root: str) -> set[str]:
    """Every regular file below `root` (links and VCS directories left out), repo-relative."""
    out = set()
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x not in SKIP_DIRS and not os.path.islink(os.path.join(d, x))]
        for f in files:
            full = os.path.join(d, f)
            if os.path.isfile(full) and not os.path.islink(full):
                out.add(os.path.relpath(full, root).replace(os.sep, "/"))
    return out


def _tuple(v) -> tuple:
    return tuple(v) if isinstance(v, list) else ()


def flux_requests(root: str, files: set[str]) -> list[BuildRequest]:
    """One request per Flux Kustomization document (`spec.path` and its overlay fields)."""
    reqs: list[BuildRequest] = []
    seen: set[str] = set()
    for f in sorted(files):
        if not f.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join(root, f), "rb") as fh:
            docs, _ = load_documents(fh.read())
        for d in docs:
            b = d.body
            if not (isinstance(b, dict) and b.get("kind") == "Kustomization"
                    and str(b.get("apiVersion", "")).startswith("kustomize.toolkit.fluxcd.io/")):
                continue
            spec = b.get("spec") if isinstance(b.get("spec"), dict) else {}
            meta = b.get("metadata") if isinstance(b.get("metadata"), dict) else {}
            path = spec.get("path")
            if not isinstance(path, str):
                continue
            key = f"{f}#{d.index}:{meta.get('namespace')}/{meta.get('name')}"
            if key in seen:
                continue
            seen.add(key)
            overlay = FluxOverlay(
                target_namespace=spec.get("targetNamespace") if isinstance(spec.get("targetNamespace"), str) else None,
                name_prefix=spec.get("namePrefix") if isinstance(spec.get("namePrefix"), str) else None,
                name_suffix=spec.get("nameSuffix") if isinstance(spec.get("nameSuffix"), str) else None,
                patches=_tuple(spec.get("patches")),
                patches_strategic_merge=_tuple(spec.get("patchesStrategicMerge")),
                patches_json6902=_tuple(spec.get("patchesJson6902")),
                images=_tuple(spec.get("images")),
                components=tuple(c for c in _tuple(spec.get("components")) if isinstance(c, str)),
                ignore_missing_components=bool(spec.get("ignoreMissingComponents")),
            )
            reqs.append(BuildRequest(key, path, overlay))
    return reqs


def kustomization_dirs(files: set[str]) -> list[str]:
    """Every directory holding a kustomization file."""
    names = ("kustomization.yaml", "kustomization.yml", "Kustomization")
    return sorted({f.rpartition("/")[0] for f in files if f.rpartition("/")[2] in names})
