"""flux-operator `ResourceSet` expansion, offline (flux-operator internal/builder/resourceset.go,
internal/inputs): the objects a ResourceSet applies, from its templates and the inputs the repo holds.

- Inputs: the ResourceSet's own `spec.inputs`, then its `inputsFrom` providers sorted by name, each
  input set stamped with its `provider` (apiVersion, kind, name, namespace). A `Static`
  ResourceSetInputProvider exports one input set, its `defaultValues` plus an `id` that the operator
  derives from the provider's cluster UID: unknown offline, so objects whose templates use it are a
  gap. Every other provider type (pull requests, branches, tags, OCI tags, external services) is
  fetched at run time: a gap naming the provider.
- `inputStrategy: Flatten` (the default) renders each input set; `Permute` renders the Cartesian
  product, each provider's set under its normalised name, with an adler32 `id` as the operator does.
- Each `spec.resources` entry is serialised to YAML and rendered as a Go template with `<< >>`
  delimiters, once per input set (once with no inputs when there are none); `resourcesTemplate`
  likewise as multi-document YAML. Objects annotated `fluxcd.controlplane.io/reconcile: disabled`
  are dropped, duplicates (group, kind, namespace, name) keep the first, `commonMetadata` is applied,
  and the operator's owner labels are set. `spec.steps` are expanded step by step.
- Any template error fails the whole ResourceSet, as it does in the operator: no objects, an error.
"""
from __future__ import annotations

import copy
import re
import zlib
from typing import Callable, Iterable

from scanner.core.model import Gap
from scanner.inventory.gotemplate import TemplateError, Unknown, UnknownValue, render
from scanner.inventory.postbuild import to_flux_yaml
from scanner.sources.yamlload import load_documents

__all__ = ["expand"]

_GROUP = "fluxcd.controlplane.io"
RECONCILE_KEY = f"{_GROUP}/reconcile"
OWNER_LABELS = (f"resourceset.{_GROUP}/name", f"resourceset.{_GROUP}/namespace")
MAX_PERMUTATIONS = 10_000

# lookup(kind, namespace, name) -> the body of the object the repo deploys there, or None.
Lookup = Callable[[str, str, str], "dict | None"]
# providers(namespace) -> every ResourceSetInputProvider body deployed there (for label selectors).
ProviderList = Callable[[str], Iterable[dict]]
PROVIDER_KIND = "ResourceSetInputProvider"


def _md(body: dict) -> dict:
    md = body.get("metadata")
    return md if isinstance(md, dict) else {}


def _key(obj: dict) -> tuple:
    """An object's identity in the cluster: group, kind, namespace, name (the version left out)."""
    av = str(obj.get("apiVersion") or "")
    return av.split("/")[0] if "/" in av else "", obj.get("kind"), _md(obj).get("namespace") or "", _md(obj).get("name")


def _normalize(name: str) -> str:
    """The key a provider's inputs get under `Permute` (permuter.go normalizeObjectName)."""
    name = re.sub(r"[^a-z0-9_]", "", name.lower().replace("-", "_"))
    return "_".join(w for w in name.split("_") if w)


def _selected(ref: dict, provider: dict) -> bool:
    if isinstance(ref.get("name"), str) and ref["name"]:
        return _md(provider).get("name") == ref["name"]
    sel = ref.get("selector")
    if not isinstance(sel, dict):
        return False
    labels = _md(provider).get("labels") or {}
    if any(labels.get(k) != v for k, v in (sel.get("matchLabels") or {}).items()):
        return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values) \
                or (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


class _Expansion:
    def __init__(self, rset: dict, lookup: Lookup, providers: ProviderList | None, namespace: str | None):
        md = _md(rset)
        self.rset, self.lookup, self.list_providers = rset, lookup, providers
        self.name = str(md.get("name") or "")
        self.namespace = namespace or str(md.get("namespace") or "default")
        self.subject = f"ResourceSet {self.namespace}/{self.name}"
        self.spec = rset.get("spec") if isinstance(rset.get("spec"), dict) else {}
        self.gaps: list[Gap] = []
        self.errors: list[str] = []
        self.partial = False  # some inputs come from run-time providers

    def provider_block(self, body: dict) -> dict:
        md = _md(body)
        return {"apiVersion": body.get("apiVersion") or f"{_GROUP}/v1", "kind": body.get("kind"),
                "name": md.get("name"), "namespace": md.get("namespace") or self.namespace}

    def groups(self) -> list[tuple[str, list[dict]]] | None:
        """(provider name, input sets) for the ResourceSet and each provider whose inputs are known;
        None when a provider's inputs cannot be known (the gap is recorded)."""
        inline = []
        for i, inp in enumerate(self.spec.get("inputs") or []):
            if not isinstance(inp, dict):
                self.errors.append(f"failed to unmarshal inputs[{i}]: not a map")
                return None
            inline.append({**copy.deepcopy(inp), "provider": self.provider_block(self.rset)})
        groups = [(self.name, inline)]
        providers: dict[str, dict] = {}
        unknown = False
        for ref in self.spec.get("inputsFrom") or []:
            if not isinstance(ref, dict):
                continue
            if ref.get("name"):
                p = self.lookup(str(ref.get("kind") or PROVIDER_KIND), self.namespace, str(ref["name"]))
                if not isinstance(p, dict):
                    self.errors.append(f"failed to get inputs from {self.namespace}/{ref['name']}: "
                                       "no such ResourceSetInputProvider in the repo")
                    continue
                found = [p]
            elif self.list_providers is None:
                self.gap("resourceset-inputs", f"inputsFrom selector {ref.get('selector')}",
                         "its input providers are chosen by label selector, and no listing of providers was given")
                unknown = True
                continue
            else:
                found = [p for p in self.list_providers(self.namespace) or ()
                         if isinstance(p, dict) and p.get("kind") == PROVIDER_KIND and _selected(ref, p)]
            for p in found:
                providers.setdefault(str(_md(p).get("name")), p)
        for pname in sorted(providers):
            p = providers[pname]
            spec = p.get("spec") if isinstance(p.get("spec"), dict) else {}
            ptype = str(spec.get("type") or "")
            label = f"ResourceSetInputProvider {self.namespace}/{pname} ({ptype or 'no type'})"
            if ptype != "Static":
                self.gap("resourceset-inputs", label, f"the inputs of {self.subject} come from {label} at run time "
                                                      f"({spec.get('url') or 'no url'}): the objects made from them "
                                                      "cannot be known offline")
                unknown = True
                continue
            defaults = spec.get("defaultValues") if isinstance(spec.get("defaultValues"), dict) else {}
            inp = {**copy.deepcopy(defaults), "id": Unknown(f"inputs.id of {label} is derived from its cluster UID"),
                   "provider": self.provider_block(p)}
            groups.append((pname, [inp]))
        if unknown and self.strategy() == "Permute":
            return None  # every permutation includes the unknown inputs
        self.partial = unknown
        return groups

    def gap(self, code: str, subject: str, message: str) -> None:
        self.gaps.append(Gap(code, "", subject, message))  # (path: the ResourceSet's file, known to the caller)

    def strategy(self) -> str:
        s = self.spec.get("inputStrategy")
        return str(s.get("name") or "Flatten") if isinstance(s, dict) else "Flatten"

    def combine(self, groups: list[tuple[str, list[dict]]]) -> list[dict] | None:
        if self.strategy() == "Flatten":
            return [inp for _, inputs in groups for inp in inputs]
        if self.strategy() != "Permute":
            self.errors.append(f"unknown input strategy: '{self.strategy()}'")
            return None
        include_empty = bool((self.spec.get("inputStrategy") or {}).get("includeEmptyProviders"))
        scoped = []
        total = 1
        for name, inputs in groups:
            if not inputs and not include_empty:
                continue
            total *= len(inputs)
            if total > MAX_PERMUTATIONS:
                self.errors.append(f"adding provider '{name}' with {len(inputs)} inputs would exceed the maximum "
                                   f"allowed permutations. max: {MAX_PERMUTATIONS}, got: {total}")
                return None
            key = _normalize(name)
            if not key:
                self.errors.append(f"normalized provider name is empty: '{name}'")
                return None
            scoped.append((key, inputs))
        if not scoped:
            return []
        out: list[dict] = []

        def walk(i: int, perm: dict, path: list[str]):
            if i == len(scoped):
                out.append({**perm, "id": str(zlib.adler32("/".join(path).encode()))})
                return
            key, inputs = scoped[i]
            for idx, inp in enumerate(inputs):
                walk(i + 1, {**perm, key: inp}, path + [f"{key}={idx}"])

        walk(0, {}, [])
        return out

    def render(self, template: str, inputs: dict | None) -> list[dict]:
        # (with no inputs, `inputs` is Go's nil map: reading a key fails with "map has no entry")
        text = render(template, {"inputs": lambda: {} if inputs is None else inputs}, delims=("<<", ">>"))
        docs, errors = load_documents(text)
        if errors:
            raise TemplateError(f"failed to read objects: {errors[0].message}")
        objs = []
        for d in docs:
            if d.body is None:
                continue
            if not isinstance(d.body, dict) or not d.body.get("kind"):
                raise TemplateError("failed to read object: Object 'Kind' is missing")
            objs.append(d.body)
        return objs

    def build(self, resources: list, yaml_template: str, combined: list[dict]) -> list[dict] | None:
        """BuildResourceSet for one step: the objects, or None after an error (recorded)."""
        objects: list[dict] = []
        keys: set[tuple] = set()

        def add(obj: dict, dedup: bool):
            key = _key(obj)
            if dedup and key in keys:
                return
            keys.add(key)
            objects.append(obj)

        def disabled(obj: dict) -> bool:
            return str((_md(obj).get("annotations") or {}).get(RECONCILE_KEY, "")).lower() == "disabled"

        for i, tmpl in enumerate(resources):
            text = to_flux_yaml(tmpl)
            for n, inp in enumerate(combined or [None]):
                try:
                    objs = self.render(text, inp)
                except UnknownValue as exc:
                    self.gap("resourceset-unknown-input", f"{self.subject} resources[{i}] input {n}",
                             f"the object depends on a value unknown offline: {exc}")
                    continue
                except TemplateError as exc:  # (the operator's own wording, with and without inputs)
                    self.errors.append(f"failed to build {f'resources[{i}]' if combined else 'resource'}: {exc}")
                    return None
                if len(objs) != 1:
                    self.errors.append(f"failed to build resources[{i}]: {len(objs)} objects in one resource")
                    return None
                if combined and disabled(objs[0]):
                    continue
                add(objs[0], dedup=bool(combined))
        if yaml_template:
            for n, inp in enumerate(combined or [None]):
                try:
                    objs = self.render(yaml_template, inp)
                except UnknownValue as exc:
                    self.gap("resourceset-unknown-input", f"{self.subject} resourcesTemplate input {n}",
                             f"the objects depend on a value unknown offline: {exc}")
                    continue
                except TemplateError as exc:
                    self.errors.append(f"failed to build {'resources' if combined else 'resource'}: {exc}")
                    return None
                for obj in objs:
                    if not disabled(obj):
                        add(obj, dedup=True)
        return objects

    def finish(self, objects: list[dict]) -> list[dict]:
        cm = self.spec.get("commonMetadata") if isinstance(self.spec.get("commonMetadata"), dict) else {}
        for obj in objects:
            md = obj.setdefault("metadata", {})
            for key in ("labels", "annotations"):
                extra = cm.get(key) if isinstance(cm.get(key), dict) else {}
                if extra:
                    md[key] = {**(md.get(key) or {}), **{str(k): str(v) for k, v in extra.items()}}
            md["labels"] = {**(md.get("labels") or {}), OWNER_LABELS[0]: self.name, OWNER_LABELS[1]: self.namespace}
        return objects

    def run(self) -> list[dict]:
        annotations = _md(self.rset).get("annotations") or {}
        if str(annotations.get(RECONCILE_KEY, "")).lower() == "disabled":
            self.gap("resourceset-disabled", self.subject,
                     "reconciliation is disabled: the objects it applied earlier, if any, are not known")
            return []
        steps = self.spec.get("steps")
        if steps and (self.spec.get("resources") or self.spec.get("resourcesTemplate")):
            self.errors.append("spec.steps is mutually exclusive with spec.resources and spec.resourcesTemplate")
            return []
        groups = self.groups()
        if groups is None or self.errors:
            return []
        combined = self.combine(groups)
        if combined is None:
            return []
        if self.partial and not combined:
            return []  # only run-time inputs: nothing is known, not even the no-input render
        parts = steps if steps else [{"name": "", "resources": self.spec.get("resources") or [],
                                      "resourcesTemplate": self.spec.get("resourcesTemplate") or ""}]
        objects: list[dict] = []
        seen: dict[tuple, str] = {}
        for step in parts:
            if not isinstance(step, dict):
                continue
            built = self.build(step.get("resources") or [], str(step.get("resourcesTemplate") or ""), combined)
            if built is None:
                return []
            for obj in built:
                key = _key(obj)
                if key in seen and seen[key] != step.get("name"):
                    self.errors.append(f"duplicate resource {obj.get('kind')}/{_md(obj).get('name')} in step "
                                       f"{step.get('name')!r}, already defined in step {seen[key]!r}")
                    return []
                seen[key] = step.get("name")
            objects.extend(built)
        return self.finish(objects)


def expand(resourceset: dict, lookup: Lookup, *, providers: ProviderList | None = None,
           namespace: str | None = None) -> tuple[list[dict], list[Gap], list[str]]:
    """(objects, gaps, errors) of one ResourceSet. `lookup(kind, namespace, name)` finds an input
    provider by name; `providers(namespace)` lists them for `inputsFrom` label selectors (without it,
    a selector is a gap); `namespace` overrides the ResourceSet's own (as deployed). Gaps leave `path`
    empty for the caller to fill with the ResourceSet's file. An error means the operator fails the
    whole ResourceSet: no objects then."""
    exp = _Expansion(resourceset, lookup, providers, namespace)
    objects = exp.run()
    if exp.errors:
        return [], exp.gaps, exp.errors
    return objects, exp.gaps, []
