"""kustomize-controller's edit of the build path's kustomization (fluxcd/pkg kustomize generator).

Before it builds, the controller (1) generates a kustomization when the path has none: every
`.yaml`/`.yml` file below it, walked in lexical order, a sub-directory holding a kustomization file
added as a whole and not descended into (an empty result gets a `_placeholder` namespace so
kustomize does not refuse it); (2) reads the kustomization into kustomize's typed struct (unknown
fields dropped), and (3) merges the Flux Kustomization's spec into it: `namespace` =
targetNamespace, namePrefix/nameSuffix replaced, `patches`, `patchesStrategicMerge`,
`patchesJson6902` and `components` appended, `images` merged by name (an entry of the same name is
replaced). An existing kustomization without resources gets `buildMetadata: [originAnnotations]`.
"""
from __future__ import annotations

import json
import posixpath

from scanner.inventory.builder.model import FluxOverlay
from scanner.inventory.builder.repo import RepoView

KUSTOMIZATION_API = "kustomize.config.k8s.io/v1beta1"

# The json fields of kustomize's types.Kustomization (api v0.21): the typed round trip keeps these.
KNOWN_FIELDS = frozenset({
    "apiVersion", "kind", "metadata", "openapi", "namePrefix", "nameSuffix", "namespace",
    "commonLabels", "labels", "commonAnnotations", "patchesStrategicMerge", "patchesJson6902",
    "patches", "images", "imageTags", "replacements", "replicas", "vars", "sortOptions",
    "resources", "components", "crds", "bases", "configMapGenerator", "secretGenerator",
    "helmGlobals", "helmCharts", "helmChartInflationGenerator", "generatorOptions",
    "configurations", "generators", "transformers", "validators", "inventory", "buildMetadata",
})
_SELECTOR_FIELDS = ("group", "version", "kind", "name", "namespace", "labelSelector", "annotationSelector")
_REMOTE_PREFIXES = ("git::", "gh:", "ssh://", "https://", "http://", "git@", "github.com:", "github.com/")


def generated_kustomization(repo: RepoView, root: str) -> tuple[dict, list[str]]:
    """The kustomization Flux writes for a path without one, and the repo paths it lists."""
    resources, listed = _walk(repo, root)
    kus: dict = {"apiVersion": KUSTOMIZATION_API, "kind": "Kustomization"}
    if resources:
        kus["resources"] = resources
    else:
        kus["namespace"] = "_placeholder"  # kustomize refuses an empty kustomization
    return kus, listed


def _walk(repo: RepoView, root: str) -> tuple[list[str], list[str]]:
    """(resources as Flux writes them, "./rel", and their repo paths) below `root`, in the order
    of Go's filepath.Walk: a directory's entries in lexical order, depth first."""
    resources: list[str] = []
    listed: list[str] = []
    iters: list = [iter(repo.entries(root))]
    dirs = [root]
    while iters:
        try:
            name = next(iters[-1])
        except StopIteration:
            iters.pop()
            dirs.pop()
            continue
        d = dirs[-1]
        p = posixpath.join(d, name) if d else name
        if repo.is_dir(p):
            if repo.kustomization_files(p):
                listed.append(p)
                resources.append("./" + _rel(p, root))
            else:
                iters.append(iter(repo.entries(p)))
                dirs.append(p)
        elif posixpath.splitext(name)[1] in (".yaml", ".yml"):
            listed.append(p)
            resources.append("./" + _rel(p, root))
    return resources, listed


def _rel(p: str, root: str) -> str:
    return posixpath.relpath(p, root) if root else p


def is_local_relative(p: str) -> bool:
    """fluxcd/pkg kustomize IsLocalRelativePath: a component must not be remote or absolute."""
    lower = p.lower()
    for prefix in _REMOTE_PREFIXES:
        if len(prefix) < len(p) and lower.startswith(prefix):
            return False
    stripped = lower[len("file://"):] if lower.startswith("file://") else lower
    return not p.startswith("/") and not stripped.startswith("/")


def _go_string(v):
    """A scalar as sigs.k8s.io/yaml turns it into a string field (the controller's typed read)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if v != int(v) else str(int(v))
    return v


def _typed_round_trip(kus: dict) -> dict:
    """The kustomization as kustomize's typed struct keeps it: unknown fields and empty values
    dropped, scalars of the common string fields turned into strings as the typed read does."""
    out = {k: v for k, v in kus.items() if k in KNOWN_FIELDS and v not in (None, "", [], {})}
    for key in ("namespace", "namePrefix", "nameSuffix"):
        if key in out and not isinstance(out[key], (dict, list)):
            out[key] = _go_string(out[key])
    for key in ("commonLabels", "commonAnnotations"):
        if isinstance(out.get(key), dict):
            out[key] = {k: _go_string(v) for k, v in out[key].items()}
    if isinstance(out.get("images"), list):
        out["images"] = [{k: _go_string(v) for k, v in im.items()} if isinstance(im, dict) else im
                         for im in out["images"]]
    out.setdefault("apiVersion", KUSTOMIZATION_API)
    out.setdefault("kind", "Kustomization")
    return out


def _selector(target) -> dict | None:
    if not isinstance(target, dict):
        return None
    return {k: target[k] for k in _SELECTOR_FIELDS if isinstance(target.get(k), str) and target[k]}


class OverlayError(ValueError):
    """The Flux Kustomization's spec cannot be merged (the controller fails the same way)."""


def merge_overlay(kus: dict | None, overlay: FluxOverlay, existing: bool) -> dict:
    """The kustomization kustomize-controller writes: `kus` (None for an empty file) with the
    spec fields of `overlay` merged in. Raises OverlayError as the controller would fail."""
    out = _typed_round_trip(kus if isinstance(kus, dict) else {})
    if existing and not out.get("resources"):
        out["buildMetadata"] = ["originAnnotations"]  # kustomize refuses an empty kustomization
    for key, value in (("namespace", overlay.target_namespace), ("namePrefix", overlay.name_prefix),
                       ("nameSuffix", overlay.name_suffix)):
        if value is None:
            continue
        if value == "":
            out.pop(key, None)
        else:
            out[key] = value
    for p in overlay.patches:
        if not isinstance(p, dict):
            raise OverlayError("spec.patches item is not a mapping")
        item: dict = {"patch": p.get("patch", "")}
        sel = _selector(p.get("target"))
        if p.get("target") is not None and sel is not None:
            item["target"] = sel
        out.setdefault("patches", []).append(item)
    for c in overlay.components:
        if not isinstance(c, str) or not is_local_relative(c):
            raise OverlayError(f"component path '{c}' must be local and relative")
        out.setdefault("components", []).append(c)
    for p in overlay.patches_strategic_merge:
        if not isinstance(p, dict):
            raise OverlayError("spec.patchesStrategicMerge item is not a mapping")
        out.setdefault("patchesStrategicMerge", []).append(json.dumps(p, separators=(",", ":")))
    for p in overlay.patches_json6902:
        if not isinstance(p, dict):
            raise OverlayError("spec.patchesJson6902 item is not a mapping")
        ops = [{k: op[k] for k in ("op", "path", "from", "value") if k in op}
               for op in (p.get("patch") or []) if isinstance(op, dict)]
        item = {"patch": json.dumps(ops, separators=(",", ":"))}
        sel = _selector(p.get("target"))
        if sel is not None:
            item["target"] = sel
        out.setdefault("patchesJson6902", []).append(item)
    for im in overlay.images:
        if not isinstance(im, dict):
            raise OverlayError("spec.images item is not a mapping")
        new = {k: im[k] for k in ("name", "newName", "newTag", "digest") if im.get(k)}
        images = out.setdefault("images", [])
        for i, old in enumerate(images):
            if isinstance(old, dict) and old.get("name") == im.get("name"):
                images[i] = new
                break
        else:
            images.append(new)
    return out
