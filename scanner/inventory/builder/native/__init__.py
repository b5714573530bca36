"""The native builder: the part of kustomize that Python does exactly, and nothing else.

A build is native only when every kustomization it reaches (the Flux-generated or Flux-edited one
included) uses fields of NATIVE_FIELDS (resources, components, namespace, configMap/secret
generators and their options, nameReference configurations, patches, labels, commonLabels,
commonAnnotations, images where no object has containers), and when everything it meets is inside
what the modules here reproduce of kustomize v5.8.1: YAML read the same way
(reader), the accumulation order (kustomization), generators and the name hash (generators),
strategic merge and JSON patches (patches, smp, jsonpatch), the namespace transformer
(namespaces), labels and annotations (labels), the name-reference fix-up (namerefs), the
legacy output order (model) and the order of keys kustomize prints (keyorder). Anything
else raises NotNative: the engine then runs the real kustomize (auto mode) or reports a gap
(native mode). A differential test holds this package to kustomize's own output on every build
of the examples, the fixtures and the corpus.
"""
from __future__ import annotations

from scanner.inventory.builder.model import BuiltObject
from scanner.inventory.builder.native import namerefs
from scanner.inventory.builder.native.generators import hash_suffix
from scanner.inventory.builder.native.keyorder import printed
from scanner.inventory.builder.native.kustomization import NATIVE_FIELDS, Accumulator, unsupported
from scanner.inventory.builder.native.model import EMPTY_NULL, NotNative, check_unique, legacy_sorted
from scanner.inventory.builder.plan import Plan
from scanner.inventory.builder.repo import RepoView

__all__ = ["NATIVE_FIELDS", "UNEXPECTED", "NotNative", "build", "eligible"]


def eligible(plan: Plan) -> str | None:
    """None when the plan may be inside the closed world, else why not (checked before building)."""
    if plan.refused:
        return "the build is refused"
    return unsupported(plan)


UNEXPECTED = "the native builder failed unexpectedly"


def build(plan: Plan, repo: RepoView) -> list[BuiltObject]:
    """The objects kustomize emits for `plan`, in its order (raises NotNative)."""
    why = eligible(plan)
    if why is not None:
        raise NotNative(why)
    try:
        return _build(plan, repo)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        # A shape this builder mishandles must not end the scan: kustomize builds it instead (the
        # differential tests fail on this message).
        raise NotNative(f"{UNEXPECTED} ({type(exc).__name__}: {exc})") from exc


def _build(plan: Plan, repo: RepoView) -> list[BuiltObject]:
    acc = Accumulator(plan, repo)
    resources = acc.target(plan.root, None, False)
    for res in resources:
        if res.needs_hash:
            suffix = hash_suffix(res)
            res.store_previous()
            res.body["metadata"]["name"] = f"{res.name}-{suffix}"
    check_unique(resources, plan.root)
    namerefs.fix(resources, acc.name_references)
    out = []
    for res in legacy_sorted(resources):
        body = printed(res.body)
        meta = body["metadata"]
        if "annotations" in meta and meta["annotations"] in (None, EMPTY_NULL, {}):
            del meta["annotations"]  # kustomize's origin annotation made it a map; it is removed again
        out.append(BuiltObject(body=body, source_path=res.source, generated_by=res.generated_by))
    return out
