"""kustomize's namespace transformer (a kustomization's `namespace:`, Flux's targetNamespace).

For every object it records the previous id, then: sets `metadata.namespace` on namespaced kinds;
renames a v1 Namespace to the namespace (the built-in field spec `metadata/name` of kind
Namespace); sets the namespace of every RoleBinding/ClusterRoleBinding subject named `default`
(its DefaultSubjectsOnly mode). The other built-in field specs (APIService `spec/service`, a CRD's
conversion webhook service) raise NotNative, and so does a kind whose scope is not known here.
"""
from __future__ import annotations

from scanner.inventory.builder.native.model import NULLS, NotNative, Res, check_unique, known_scope


def set_namespace(resources: list[Res], ns: str, where: str) -> None:
    for res in resources:
        res.store_previous()
        body, kind = res.body, res.kind
        if kind == "APIService":
            raise NotNative("kustomize's namespace transformer edits APIService service references")
        if kind == "CustomResourceDefinition" and isinstance(body.get("spec"), dict) \
                and body["spec"].get("conversion") is not None:
            raise NotNative("kustomize's namespace transformer edits CRD conversion webhooks")
        if kind == "Namespace":
            if res.api != "v1":
                raise NotNative(f"a Namespace of {res.api} under a namespace transformer")
            body["metadata"]["name"] = ns
        if known_scope(res.api, kind) == "namespaced":
            body["metadata"]["namespace"] = ns
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            _default_subjects(body, ns)
    check_unique(resources, where)


def _default_subjects(body: dict, ns: str) -> None:
    subjects = body.get("subjects")
    if any(subjects is n for n in NULLS):
        return
    if not isinstance(subjects, list):
        raise NotNative("a role binding's subjects are not a list")
    for s in subjects:
        if not isinstance(s, dict):
            raise NotNative("a role binding subject is not a mapping")
        if s.get("name") == "default":
            s["namespace"] = ns
