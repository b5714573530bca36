"""Flux post-build substitution around `envsubst`, as kustomize-controller wires it
(fluxcd/pkg kustomize/kustomize_varsub.go, kustomize-controller's reconcile loop):

- it runs per object, after the build, only when the Kustomization has `spec.postBuild` and at least
  one variable is defined (or `substituteStrategy: Always`);
- variables come from `substituteFrom` in order (a ConfigMap's `data`, a Secret's `data`; later
  entries win; `optional: true` skips a missing one, a missing required one fails the Kustomization),
  then the inline `substitute` map overrides them all; newlines are removed from every value;
- every variable name must match `^[_[:alpha:]][_[:alpha:][:digit:]]*$` or the Kustomization fails;
- an object labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled` is left alone;
- the text substituted is the object's YAML serialisation, parsed back afterwards, so types can
  change (`port: ${PORT}` becomes the integer 8080).

What the scanner adds: a Secret's values are never read. Its variables keep their written form
(`${TOKEN}`, never "") and are reported as unreadable, a coverage gap. Variables with no value and no
default are reported as undefined: Flux makes them "" (or fails the Kustomization in strict mode).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Collection, Iterable

import yaml

from scanner.inventory.envsubst import EnvsubstError, expand
from scanner.sources.yamlload import load_documents

__all__ = [
    "DISABLED_KEY", "KustomizationSubstitution", "Substitution", "SubstitutedObject", "settings_for",
    "substitute_all", "substitute_object", "to_flux_yaml",
]

DISABLED_KEY = "kustomize.toolkit.fluxcd.io/substitute"
VAR_NAME = re.compile(r"[_A-Za-z][_A-Za-z0-9]*\Z")  # Go's POSIX classes are ASCII-only
_VAR_NAME_TEXT = "^[_[:alpha:]][_[:alpha:][:digit:]]*$"

# lookup_configmap(namespace, name) -> the ConfigMap's body, or None when the repo has none.
ConfigMapLookup = Callable[[str, str], "dict | None"]
# lookup_secret(namespace, name) -> False/None: no such Secret; True: it exists, its keys unknown;
# a collection of key names: it exists with those keys (from a SOPS file, whose keys are plain text).
# Never its values.
SecretLookup = Callable[[str, str], "bool | Collection[str] | None"]


@dataclass
class Substitution:
    """The post-build settings of one Flux Kustomization."""

    variables: dict[str, str] = field(default_factory=dict)  # readable values (ConfigMaps, inline)
    unreadable: set[str] = field(default_factory=set)  # names whose value sits in a Secret
    opaque_sources: list[str] = field(default_factory=list)  # Secrets whose key names are unknown
    strict: bool = False
    enabled: bool = False  # whether Flux runs substitution at all for this Kustomization
    errors: list[str] = field(default_factory=list)  # each fails the whole Kustomization
    missing: list[str] = field(default_factory=list)  # required sources not found ("ConfigMap/ns/name")

    def is_unreadable(self, name: str) -> bool:
        # A Secret whose keys are unknown may hold any name no readable source defines. (A readable
        # value defined before such a Secret is taken as is: the Secret is assumed not to redefine it.)
        return name in self.unreadable or (bool(self.opaque_sources) and name not in self.variables)


@dataclass
class SubstitutedObject:
    body: object  # the object as Flux applies it (the input itself when nothing changed)
    undefined: frozenset[str] = frozenset()  # no value, no default: "" in Flux, a failure if strict
    unreadable: frozenset[str] = frozenset()  # value in a Secret: left as `${VAR}`, a coverage gap
    error: str | None = None  # Flux fails the whole Kustomization with this message

    @property
    def unresolved(self) -> frozenset[str]:
        return self.undefined | self.unreadable


def _text(value) -> str:
    """A ConfigMap data value as the API server would hold it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _entries(post: dict, errors: list[str]) -> list[tuple[str, str, bool]]:
    refs = post.get("substituteFrom")
    if refs is None:
        return []
    if not isinstance(refs, list):
        errors.append("unable to get substituteFrom: spec.postBuild.substituteFrom is not a list")
        return []
    out = []
    for i, ref in enumerate(refs):
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
            errors.append(f"unable to get substituteFrom: entry {i} is not a reference with a name")
            continue
        out.append((str(ref.get("kind") or ""), ref["name"], ref.get("optional") is True))
    return out


def settings_for(ks_body: dict, lookup_configmap: ConfigMapLookup, lookup_secret: SecretLookup, strict: bool,
                 *, namespace: str | None = None) -> Substitution:
    """The substitution settings of the Flux Kustomization `ks_body` (its sources are looked up in
    `namespace`, by default its own). A Secret's values are never asked for."""
    sub = Substitution(strict=strict)
    spec = ks_body.get("spec") if isinstance(ks_body, dict) else None
    post = spec.get("postBuild") if isinstance(spec, dict) else None
    if not isinstance(post, dict):
        return sub  # no postBuild: Flux never substitutes
    md = ks_body.get("metadata") if isinstance(ks_body.get("metadata"), dict) else {}
    ns = namespace or md.get("namespace") or "default"
    origin: dict[str, str] = {}
    for kind, name, optional in _entries(post, sub.errors):
        if kind == "ConfigMap":
            cm = lookup_configmap(ns, name)
            if cm is None:
                if not optional:
                    sub.errors.append(f"substitute from 'ConfigMap/{name}' error: no ConfigMap {ns}/{name} in the repo")
                    sub.missing.append(f"ConfigMap/{ns}/{name}")
                continue
            data = cm.get("data") if isinstance(cm, dict) else None
            for k, v in (data.items() if isinstance(data, dict) else ()):
                k = str(k)
                sub.variables[k] = _text(v).replace("\n", "")
                sub.unreadable.discard(k)
                origin[k] = f"ConfigMap/{name}"
        elif kind == "Secret":
            found = lookup_secret(ns, name)
            if found is None or found is False:
                if not optional:
                    sub.errors.append(f"substitute from 'Secret/{name}' error: no Secret {ns}/{name} in the repo")
                    sub.missing.append(f"Secret/{ns}/{name}")
                continue
            if found is True:
                sub.opaque_sources.append(f"Secret/{ns}/{name}")
                continue
            for k in found:
                k = str(k)
                sub.variables.pop(k, None)
                sub.unreadable.add(k)
                origin[k] = f"Secret/{name}"
    inline = post.get("substitute")
    if isinstance(inline, dict):
        for k, v in inline.items():
            if not isinstance(v, str):
                sub.errors.append(f"spec.postBuild.substitute.{k}: {type(v).__name__} value, not a string "
                                  "(the Kustomization is rejected)")
                continue
            sub.variables[str(k)] = v.replace("\n", "")
            sub.unreadable.discard(str(k))
            origin[str(k)] = "spec.postBuild.substitute"
    elif inline is not None:
        sub.errors.append("spec.postBuild.substitute is not a map")
    has_vars = bool(sub.variables or sub.unreadable or sub.opaque_sources)
    sub.enabled = has_vars or post.get("substituteStrategy") == "Always"
    if has_vars:
        for k in sorted(set(sub.variables) | sub.unreadable):
            if not VAR_NAME.match(k):
                sub.errors.append(f"'{k}' var name is invalid, must match '{_VAR_NAME_TEXT}' (from {origin.get(k)})")
    return sub


# ---- the object's YAML, as Flux writes it ------------------------------------------------------
# kustomize's Resource.AsYAML is JSON -> YAML with go-yaml v2: keys sorted, no line folding, strings
# with a newline as literal blocks, anything else plain when it stays a string, quoted otherwise.

_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _FluxDumper(_BaseDumper):
    pass


def _represent_str(dumper, value: str):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_FluxDumper.add_representer(str, _represent_str)


def to_flux_yaml(body) -> str:
    return yaml.dump(body, Dumper=_FluxDumper, sort_keys=True, width=2**31 - 1, allow_unicode=True,
                     default_flow_style=False)


def _has_dollar(node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, str):
            if "$" in n:
                return True
        elif isinstance(n, dict):
            for k, v in n.items():
                if isinstance(k, str) and "$" in k:
                    return True
                stack.append(v)
        elif isinstance(n, list):
            stack.extend(n)
    return False


def _reorder(new, old):
    """`new` with its mapping keys in `old`'s order where both have them (the serialisation sorted
    them), so substituted bodies read like their documents."""
    if isinstance(new, dict) and isinstance(old, dict):
        out = {k: _reorder(new[k], old[k]) for k in old if k in new}
        out.update((k, v) for k, v in new.items() if k not in out)
        return out
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        return [_reorder(n, o) for n, o in zip(new, old)]
    return new


def _disabled(body: dict) -> bool:
    md = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    for key in ("labels", "annotations"):
        m = md.get(key)
        if isinstance(m, dict) and m.get(DISABLED_KEY) == "disabled":
            return True
    return False


def _what(body: dict) -> str:
    md = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{body.get('kind', '?')}/{ns}{md.get('name', '?')}"


def substitute_object(obj: dict, sub: Substitution) -> SubstitutedObject:
    """One built object after Flux's post-build substitution under `sub`."""
    if not isinstance(obj, dict) or _disabled(obj):
        return SubstitutedObject(obj)
    if sub.errors:
        return SubstitutedObject(obj, error=sub.errors[0])
    if not sub.enabled or not _has_dollar(obj):
        return SubstitutedObject(obj)
    text = to_flux_yaml(obj)
    try:
        out = expand(text, sub.variables, strict=sub.strict, unreadable=sub.is_unreadable)
    except EnvsubstError as exc:
        where = exc.line_in(text)
        at = f" (line {where} of its serialisation)" if where else ""
        undefined = frozenset({exc.variable}) if exc.variable else frozenset()
        return SubstitutedObject(obj, undefined=undefined,
                                 error=f"post build failed for '{_what(obj)}': envsubst error: {exc}{at}")
    if out.text == text:
        return SubstitutedObject(obj, out.undefined, out.unreadable)
    docs, errors = load_documents(out.text)
    if errors or len(docs) != 1 or not isinstance(docs[0].body, dict):
        why = errors[0].message if errors else f"{len(docs)} documents after substitution"
        return SubstitutedObject(obj, out.undefined, out.unreadable,
                                 error=f"post build failed for '{_what(obj)}': YAMLToJSON: {why}")
    return SubstitutedObject(_reorder(docs[0].body, obj), out.undefined, out.unreadable)


@dataclass
class KustomizationSubstitution:
    """The objects of one Flux Kustomization after substitution, and what it left unresolved."""

    objects: list = field(default_factory=list)
    undefined: set[str] = field(default_factory=set)
    unreadable: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)  # any error fails the whole Kustomization

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def substitute_all(objects: Iterable[dict], sub: Substitution) -> KustomizationSubstitution:
    out = KustomizationSubstitution(errors=list(sub.errors))
    for obj in objects:
        r = substitute_object(obj, sub)
        out.objects.append(r.body)
        out.undefined |= r.undefined
        out.unreadable |= r.unreadable
        if r.error and r.error not in out.errors:
            out.errors.append(r.error)
    return out
