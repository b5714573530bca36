"""The native builder: a closed world of kustomize that Python does exactly, and nothing else.

A build is native only when every kustomization it reaches (the Flux-generated one included) has
no field but `apiVersion`, `kind`, `resources` (local files, and directories that are themselves
native) and `namespace`, plus the `buildMetadata: [originAnnotations]` Flux adds; when every
document is a plain object (no List kind, no YAML anchors, merge keys, duplicate keys or custom
tags, no kustomize-internal annotations); and when `namespace:` meets only kinds whose scope
kustomize knows the way this table does (the namespace transformer edits RoleBinding subjects,
webhook and APIService service references and CRD conversion webhooks: such builds go to the
binary). Anything else raises NotNative: the engine then runs the real kustomize (auto mode) or
reports a gap (native mode). A differential test holds this module to kustomize's own output.
"""
from __future__ import annotations

import posixpath
import re

import yaml

from scanner.inventory.builder.model import BuiltObject
from scanner.inventory.builder.output import drop_empty_annotations
from scanner.inventory.builder.plan import Plan
from scanner.inventory.builder.repo import RepoView
from scanner.sources.yamlload import load_documents

NATIVE_FIELDS = frozenset({"apiVersion", "kind", "resources", "namespace", "buildMetadata"})
KUSTOMIZATION_API = "kustomize.config.k8s.io/v1beta1"

# (apiVersion, kind) whose scope kustomize's built-in schema states (kyaml openapi).
CLUSTER_SCOPED = frozenset({
    ("v1", "Namespace"), ("v1", "Node"), ("v1", "PersistentVolume"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("storage.k8s.io/v1", "StorageClass"), ("storage.k8s.io/v1", "CSIDriver"),
    ("scheduling.k8s.io/v1", "PriorityClass"), ("networking.k8s.io/v1", "IngressClass"),
    ("node.k8s.io/v1", "RuntimeClass"),
})
NAMESPACED = frozenset({
    ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Service"), ("v1", "ServiceAccount"),
    ("v1", "PersistentVolumeClaim"), ("v1", "Pod"), ("v1", "Endpoints"), ("v1", "LimitRange"),
    ("v1", "ResourceQuota"), ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"),
    ("apps/v1", "DaemonSet"), ("apps/v1", "ReplicaSet"), ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    ("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"), ("rbac.authorization.k8s.io/v1", "Role"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"), ("autoscaling/v1", "HorizontalPodAutoscaler"),
    ("coordination.k8s.io/v1", "Lease"), ("discovery.k8s.io/v1", "EndpointSlice"),
})
# Groups of the Kubernetes API itself: kinds of these not in the tables above are left to the binary.
# Any other group is a custom resource, which kustomize (not knowing its scope) treats as namespaced.
BUILTIN_GROUPS = frozenset({
    "", "apps", "batch", "autoscaling", "policy", "extensions", "rbac.authorization.k8s.io",
    "apiextensions.k8s.io", "storage.k8s.io", "scheduling.k8s.io", "networking.k8s.io",
    "node.k8s.io", "admissionregistration.k8s.io", "apiregistration.k8s.io", "certificates.k8s.io",
    "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io", "flowcontrol.apiserver.k8s.io",
    "authentication.k8s.io", "authorization.k8s.io", "resource.k8s.io", "internal.apiserver.k8s.io",
    "storagemigration.k8s.io", "apidiscovery.k8s.io", "imagepolicy.k8s.io", "settings.k8s.io",
})
_RESERVED_ANNOTATION_PREFIXES = ("config.kubernetes.io/", "internal.config.kubernetes.io/",
                                 "kustomize.config.k8s.io/", "config.k8s.io/")


_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ANCHOR = re.compile(rb"(^|[\s\[{,:-])[&*][^\s,\]}]", re.M)


class NotNative(Exception):
    """The build has something the native builder does not do exactly."""


def eligible(plan: Plan) -> str | None:
    """None when the plan is inside the closed world, else why not (checked before building)."""
    if plan.refused or plan.gaps or plan.placeholders or plan.errors:
        return "the build has errors or gaps"
    for d, k in plan.kustomizations.items():
        extra = set(k) - NATIVE_FIELDS
        if extra:
            return f"'{d or '.'}' uses {', '.join(sorted(map(str, extra)))}"
        if k.get("kind", "Kustomization") != "Kustomization" or k.get("apiVersion", KUSTOMIZATION_API) != KUSTOMIZATION_API:
            return f"'{d or '.'}' is not a kustomize.config.k8s.io/v1beta1 Kustomization"
        if "buildMetadata" in k and k["buildMetadata"] != ["originAnnotations"]:
            return f"'{d or '.'}' sets buildMetadata"
        if "namespace" in k and not isinstance(k["namespace"], str):
            return f"'{d or '.'}' has a namespace that is not a string"
        res = k.get("resources", [])
        if not isinstance(res, list) or not all(isinstance(r, str) for r in res):
            return f"'{d or '.'}' has resources that are not paths"
    if len(plan.kustomizations) != len(plan.kfile_names):
        return "a kustomization is not a mapping"
    return None


def build(plan: Plan, repo: RepoView) -> list[BuiltObject]:
    """The objects kustomize emits for `plan` (raises NotNative)."""
    memo: dict[str, list[tuple[dict, str]]] = {}
    # Post-order over the (acyclic, checked by the planner) directory graph, iteratively.
    order: list[str] = []
    seen: set[str] = set()
    stack: list[tuple[str, bool]] = [(plan.root, False)]
    while stack:
        d, done = stack.pop()
        if done:
            order.append(d)
            continue
        if d in seen:
            continue
        seen.add(d)
        stack.append((d, True))
        for child in _dirs_of(plan, repo, d):
            if child not in seen:
                stack.append((child, False))
    for d in order:
        memo[d] = _build_dir(plan, repo, d, memo)
    out = []
    for body, path in memo[plan.root]:
        drop_empty_annotations(body)
        out.append(BuiltObject(body=body, source_path=path, generated_by=None))
    return out


def _dirs_of(plan: Plan, repo: RepoView, d: str) -> list[str]:
    k = plan.kustomizations.get(d)
    if k is None:
        raise NotNative(f"'{d or '.'}' has no kustomization")
    out = []
    for ref in k.get("resources", []):
        p = _join(d, ref)
        if repo.is_dir(p):
            out.append(p)
    return out


def _join(d: str, ref: str) -> str:
    p = posixpath.normpath(posixpath.join(d, ref)) if d else posixpath.normpath(ref)
    return "" if p == "." else p


def _build_dir(plan: Plan, repo: RepoView, d: str, memo) -> list[tuple[dict, str]]:
    k = plan.kustomizations[d]
    objs: list[tuple[dict, str]] = []
    for ref in k.get("resources", []):
        p = _join(d, ref)
        if repo.is_dir(p):
            objs.extend((_copy(b), src) for b, src in memo[p])
        elif repo.is_file(p):
            objs.extend(_documents(repo, p))
        else:
            raise NotNative(f"resource '{ref}' of '{d or '.'}' is missing")
    _check_unique(objs, d)
    ns = k.get("namespace")
    if ns:
        for body, _src in objs:
            _set_namespace(body, ns)
        _check_unique(objs, d)
    return objs


def _documents(repo: RepoView, p: str) -> list[tuple[dict, str]]:
    data = repo.read(p)
    if data is None:
        raise NotNative(f"'{p}' cannot be read")
    if b"<<" in data or (b"&" in data and _has_anchor(data)):
        raise NotNative(f"'{p}' uses YAML anchors or merge keys")
    docs, errors = load_documents(data)
    if errors:
        raise NotNative(f"'{p}' is not valid YAML")
    if not _scalars_safe(data):
        raise NotNative(f"'{p}' has values kustomize's YAML reader reads otherwise (numbers, dates, folded text)")
    out = []
    for doc in docs:
        body = doc.body
        if doc.lines is None:  # parsed by PyYAML's own constructor: a shape kyaml may read otherwise
            raise NotNative(f"'{p}' has a YAML shape read differently by kustomize")
        if not isinstance(body, dict):
            raise NotNative(f"'{p}' holds a document that is not a mapping")
        kind, api = body.get("kind"), body.get("apiVersion")
        meta = body.get("metadata")
        if not isinstance(kind, str) or not kind or not isinstance(api, str) or not api:
            raise NotNative(f"'{p}' holds a document without kind or apiVersion")
        if kind.endswith("List"):
            raise NotNative(f"'{p}' holds a {kind}")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            raise NotNative(f"'{p}' holds a document without metadata.name")
        if "namespace" in meta and not isinstance(meta["namespace"], str):
            raise NotNative(f"'{p}' holds a namespace that is not a string")
        for key in ("annotations", "labels"):
            m = meta.get(key)
            if m is None:
                continue
            if not isinstance(m, dict) or not all(isinstance(x, str) for x in m) \
                    or not all(isinstance(x, str) for x in m.values()):
                raise NotNative(f"'{p}' has {key} that are not strings")
            if any(x.startswith(_RESERVED_ANNOTATION_PREFIXES) for x in m):
                raise NotNative(f"'{p}' has kustomize-reserved {key}")
        out.append((body, p))
    return out


_T = "tag:yaml.org,2002:"
# Plain scalars Go's YAML 1.2 reader takes for numbers, booleans, nulls or times while PyYAML
# (YAML 1.1) reads a string, or the reverse: kustomize round-trips objects through JSON, so such
# a value comes out changed (`1e3` -> 1000, `yes` -> "yes", `0.0` -> 0, dates -> RFC 3339).
_GO_NON_STRING = re.compile(
    r"[-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+"
    r"|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|null|Null|NULL|~"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*")
_PLAIN_INT = re.compile(r"-?(0|[1-9][0-9]*)")


def _scalars_safe(data: bytes) -> bool:
    """Every scalar reads the same in PyYAML and after kustomize's Go/JSON round trip."""
    try:
        nodes = yaml.compose_all(data, Loader=_COMPOSER)
        stack = [n for n in nodes if n is not None]
    except yaml.YAMLError:
        return False
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.append(k)
                stack.append(v)
            continue
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
            continue
        style, tag, value = node.style, node.tag, node.value
        if node.start_mark.line != node.end_mark.line and style != "|":
            return False  # folded and multi-line flow scalars fold differently in the two readers
        if style in ('"', "'", "|"):
            continue
        if style == ">":
            return False
        if tag == _T + "str":
            if _GO_NON_STRING.fullmatch(value):
                return False
        elif tag == _T + "int":
            if not _PLAIN_INT.fullmatch(value) or abs(int(value)) >= 2 ** 53:
                return False
        elif tag == _T + "bool":
            if value not in ("true", "false"):
                return False
        elif tag == _T + "null":
            if value not in ("null", "~", ""):
                return False
        else:
            return False  # floats, timestamps, binary, custom tags
    return True


def _has_anchor(data: bytes) -> bool:
    return _ANCHOR.search(data) is not None


def _scope(body: dict) -> str:
    api, kind = body.get("apiVersion"), body.get("kind")
    if (api, kind) in CLUSTER_SCOPED:
        return "cluster"
    if (api, kind) in NAMESPACED:
        return "namespaced"
    group = api.split("/")[0] if "/" in api else ""
    if group in BUILTIN_GROUPS:
        raise NotNative(f"the scope kustomize gives {api} {kind} is not known here")
    return "namespaced"


def _set_namespace(body: dict, ns: str) -> None:
    kind = body.get("kind")
    if kind in ("RoleBinding", "ClusterRoleBinding", "ValidatingWebhookConfiguration",
                "MutatingWebhookConfiguration", "APIService"):
        raise NotNative(f"kustomize's namespace transformer edits {kind} references")
    if kind == "CustomResourceDefinition" and isinstance(body.get("spec"), dict) \
            and body["spec"].get("conversion") is not None:
        raise NotNative("kustomize's namespace transformer edits CRD conversion webhooks")
    if _scope(body) == "namespaced":
        body["metadata"]["namespace"] = ns


def _check_unique(objs, d) -> None:
    seen = set()
    for body, _src in objs:
        api = body.get("apiVersion", "")
        group = api.split("/")[0] if "/" in api else ""
        key = (group, body.get("kind"), body["metadata"].get("namespace"), body["metadata"]["name"])
        if key in seen:
            raise NotNative(f"two objects with one id in '{d or '.'}' (kustomize refuses this)")
        seen.add(key)


def _copy(body):
    if isinstance(body, dict):
        return {k: _copy(v) for k, v in body.items()}
    if isinstance(body, list):
        return [_copy(v) for v in body]
    return body
