"""One kustomization directory accumulated as kustomize's KustTarget does it.

In order: `resources` (files, and directories built as kustomizations of their own), the
`configurations` (nameReference entries, kept for the fix-up at the end), the generators, the
`components` (each applied to everything accumulated so far, itself a kustomization of kind
Component), then the transformers of this kustomization: `patches`, `namespace`, `labels` and
`commonLabels`, `commonAnnotations`, and `images` where they change nothing. Two objects
with one id at any step fail kustomize and raise NotNative here; so does a field outside
NATIVE_FIELDS (`eligible` says which before anything is read).
"""
from __future__ import annotations

import posixpath

from scanner.inventory.builder.native import namerefs
from scanner.inventory.builder.native.generators import generate
from scanner.inventory.builder.native.labels import apply_annotations, apply_labels
from scanner.inventory.builder.native.model import NotNative, Res, check_unique
from scanner.inventory.builder.native.namespaces import set_namespace
from scanner.inventory.builder.native.patches import apply_patches
from scanner.inventory.builder.native.reader import read_objects
from scanner.inventory.builder.plan import Plan
from scanner.inventory.builder.repo import RepoView

NATIVE_FIELDS = frozenset({
    "apiVersion", "kind", "metadata", "resources", "bases", "components", "namespace", "buildMetadata",
    "configMapGenerator", "secretGenerator", "generatorOptions", "configurations", "patches", "images",
    "labels", "commonLabels", "commonAnnotations",
})
_IMAGE_FIELDS = frozenset({"name", "newName", "newTag", "digest"})
# Where kustomize's image transformer looks: its field specs all go through these, and its legacy
# filter through any `containers`/`initContainers` list.
_IMAGE_KEYS = frozenset({"containers", "initContainers", "volumes"})
KUSTOMIZATION_API = "kustomize.config.k8s.io/v1beta1"
COMPONENT_API = "kustomize.config.k8s.io/v1alpha1"
_BUILD_METADATA = frozenset({"originAnnotations", "transformerAnnotations", "managedByLabel"})
_TYPE_META = frozenset({"apiVersion", "kind", "metadata"})


def unsupported(plan: Plan) -> str | None:
    """Why the plan's kustomizations are outside the native world (None when they are not)."""
    if len(plan.kustomizations) != len(plan.kfile_names):
        return "a kustomization is not a mapping"
    for d, k in plan.kustomizations.items():
        extra = set(k) - NATIVE_FIELDS
        if extra:
            return f"'{d or '.'}' uses {', '.join(sorted(map(str, extra)))}"
    return None


class Accumulator:
    """Builds the directories of one plan; `name_references` collects the configurations met."""

    def __init__(self, plan: Plan, repo: RepoView):
        self.plan = plan
        self.repo = repo
        self.files = plan.writes
        self.name_references: list = []

    def kfile(self, d: str) -> str:
        name = self.plan.kfile_names[d]
        return posixpath.join(d, name) if d else name

    def target(self, d: str, ra: list[Res] | None, component: bool) -> list[Res]:
        k = self.plan.kustomizations.get(d)
        if k is None:
            raise NotNative(f"'{d or '.'}' has no kustomization kustomize can read")
        kfile = self.kfile(d)
        _check_type(k, kfile, component)
        ra = [] if ra is None else ra
        for ref in _paths(k, "resources") + _paths(k, "bases"):
            p = _join(d, ref)
            if self.repo.is_file(p):
                data = self.files.get(p)
                if data is None:
                    raise NotNative(f"resource '{ref}' of '{kfile}' is not in the build")
                objects, schema_comments = read_objects(data, p)
                ra.extend(Res(body, p, None, schema_comments=schema_comments) for body in objects)
            elif self.repo.is_dir(p):
                ra.extend(self.target(p, None, False))
            else:
                raise NotNative(f"resource '{ref}' of '{kfile}' is missing")
        check_unique(ra, d)  # appending changes no id: a clash at any append is still there now
        for ref in _paths(k, "configurations"):
            p = _join(d, ref)
            data = self.files.get(p)
            if data is None:
                raise NotNative(f"configuration '{ref}' of '{kfile}' is missing")
            self.name_references.extend(namerefs.read_configuration(data, p))
        ra.extend(generate(k, d, kfile, self.files))
        check_unique(ra, d)
        for ref in _paths(k, "components"):
            p = _join(d, ref)
            if not self.repo.is_dir(p):
                raise NotNative(f"component '{ref}' of '{kfile}' is not a directory")
            self.target(p, ra, True)
            check_unique(ra, d)
        if k.get("patches") is not None:
            apply_patches(ra, k["patches"], d, kfile, self.files)
        ns = k.get("namespace")
        if ns is not None and not isinstance(ns, str):
            raise NotNative(f"'{kfile}' has a namespace that is not a string")
        if ns:
            set_namespace(ra, ns, d)
        apply_labels(ra, k, kfile)
        apply_annotations(ra, k, kfile)
        if k.get("images") is not None:
            _images_change_nothing(ra, k["images"], kfile)
        return ra


def _images_change_nothing(resources: list[Res], images, kfile: str) -> None:
    """`images:` is done only where kustomize's image transformer has nothing to change: no object
    holds a container, init container or volume list anywhere."""
    if not isinstance(images, list) or not all(
            isinstance(i, dict) and set(i) <= _IMAGE_FIELDS and isinstance(i.get("name"), str) and i["name"]
            and all(isinstance(v, str) for v in i.values()) for i in images):
        raise NotNative(f"images of '{kfile}' the native builder does not read")
    if not images:
        return
    for res in resources:
        stack = [res.body]
        while stack:
            v = stack.pop()
            if isinstance(v, dict):
                if _IMAGE_KEYS & v.keys():
                    raise NotNative(f"images of '{kfile}' may change {res.kind} {res.name}")
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)


def _check_type(k: dict, kfile: str, component: bool) -> None:
    kind, api = k.get("kind", ""), k.get("apiVersion", "")
    if kind not in ("", "Kustomization", "Component"):
        raise NotNative(f"'{kfile}' is of kind {kind!r}")
    if api and api != (COMPONENT_API if kind == "Component" else KUSTOMIZATION_API):
        raise NotNative(f"'{kfile}' has apiVersion {api!r} for its kind")
    if component != (kind == "Component"):
        raise NotNative(f"'{kfile}' is {'not ' if component else ''}a Component where kustomize expects "
                        f"{'one' if component else 'a Kustomization'}")
    if not set(k) - _TYPE_META:
        raise NotNative(f"'{kfile}' is empty (kustomize refuses it)")
    meta = k.get("buildMetadata")
    if meta is not None and (not isinstance(meta, list) or not set(meta) <= _BUILD_METADATA):
        raise NotNative(f"'{kfile}' has buildMetadata the native builder does not read")


def _paths(k: dict, key: str) -> list[str]:
    got = k.get(key)
    if got is None:
        return []
    if not isinstance(got, list) or not all(isinstance(x, str) for x in got):
        raise NotNative(f"{key} that are not paths")
    return got


def _join(d: str, ref: str) -> str:
    p = posixpath.normpath(posixpath.join(d, ref)) if d else posixpath.normpath(ref)
    return "" if p == "." else p
