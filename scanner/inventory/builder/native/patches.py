"""A kustomization's `patches:` as kustomize's PatchTransformer applies them.

A patch (inline or from `path`) is a strategic merge patch when it reads as one object, a JSON
patch when it reads as a list of operations. A strategic merge patch goes to every object its
target selects (its apiVersion made the object's, its kind, name and namespace restored after), or
without a target to the one object that has the patch's id now or had it before. A JSON patch
needs a target; the objects it changes record their previous id and are read back through JSON as
kustomize does (an empty value becomes an explicit null). Strategic merges into objects of the
Kubernetes API (which kustomize merges by their schema) are done only when neither side holds a
list; patches with options (allowNameChange ...) raise NotNative.
"""
from __future__ import annotations

import posixpath
import re

from scanner.inventory.builder.native import jsonpatch, smp
from scanner.inventory.builder.native.model import EMPTY_NULL, NotNative, Res, finished, split_api
from scanner.inventory.builder.native.reader import read_values
from scanner.inventory.builder.native.selectors import select
from scanner.inventory.builder.native.tables import BUILTIN_GROUPS

_ENTRY = frozenset({"patch", "path", "target", "options"})
# kyaml reads JSON in comments as field metadata; one naming a merge strategy could change a merge.
_SCHEMA_COMMENT = re.compile(r"#[^\n]*(x-kubernetes|\$ref|\$openapi)")


def apply_patches(resources: list[Res], entries, kdir: str, kfile: str, files: dict[str, bytes]) -> None:
    if not isinstance(entries, list):
        raise NotNative(f"patches of '{kfile}' are not a list")
    for entry in entries:
        if not isinstance(entry, dict) or not set(entry) <= _ENTRY:
            raise NotNative(f"a patch of '{kfile}' holds fields the native builder does not do")
        if entry.get("options"):
            raise NotNative(f"a patch of '{kfile}' has options")
        docs, text = _read(entry, kdir, kfile, files)
        target = entry.get("target")
        if len(docs) == 1 and isinstance(docs[0], list):
            if target is None:
                raise NotNative("a JSON patch without a target (kustomize refuses it)")
            ops = jsonpatch.check_ops(docs[0])
            for res in select(resources, target):
                res.store_previous()
                body = finished(res.body)
                jsonpatch.apply(body, ops)
                _check_meta(body, res)
                res.body = body
        elif len(docs) == 1 and isinstance(docs[0], dict):
            patch = docs[0]
            _check_sm_patch(patch, text)
            if target is None:
                targets = [_by_id(resources, patch)]
            else:
                targets = select(resources, target)
            for res in targets:
                _apply_sm(res, patch, target is not None)
        else:
            raise NotNative(f"a patch of '{kfile}' is neither one object nor one list of operations")


def _read(entry: dict, kdir: str, kfile: str, files: dict[str, bytes]) -> tuple[list, str]:
    """(the patch's documents, its text). kustomize reads a text starting with `[` as JSON only; any
    other as YAML: kyaml's for a strategic merge patch, goyaml.v2's (YAML 1.1) for a JSON patch,
    of which it takes the first document only."""
    text = _text(entry, kdir, kfile, files)
    what = f"{kfile} patch"
    if text.startswith("["):
        return [jsonpatch.strict_json(text)], text
    docs = [d for d in read_values(text, what) if d is not None]
    if len(docs) == 1 and isinstance(docs[0], list):
        first = read_values(text, what, yaml11=True)[0]
        if not isinstance(first, list):
            raise NotNative(f"a JSON patch of '{kfile}' after an empty document (kustomize reads the first only)")
        docs = [first]
    return docs, text


# Go's strings.TrimSpace (unicode.IsSpace); Python's str.strip also takes \x1c-\x1f.
_GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000"


def _text(entry: dict, kdir: str, kfile: str, files: dict[str, bytes]) -> str:
    """The patch text as kustomize reads it: an inline patch trimmed (TrimSpace), a file's as it is."""
    patch, path = entry.get("patch"), entry.get("path")
    if (patch is None) == (path is None):
        raise NotNative(f"a patch of '{kfile}' has both or neither of patch and path")
    if path is not None:
        if not isinstance(path, str) or path.startswith("/"):
            raise NotNative(f"a patch path of '{kfile}'")
        p = posixpath.normpath(posixpath.join(kdir, path)) if kdir else posixpath.normpath(path)
        data = files.get(p)
        if data is None:
            raise NotNative(f"patch file '{path}' of '{kfile}' is not in the build")
        try:
            patch = data.decode("utf-8")
        except UnicodeDecodeError:
            raise NotNative(f"patch file '{path}' is not UTF-8") from None
    if not isinstance(patch, str) or not patch.strip():
        raise NotNative(f"an empty patch in '{kfile}'")
    return patch if path is not None else patch.strip(_GO_SPACE)


def _check_sm_patch(patch: dict, text: str) -> None:
    meta = patch.get("metadata")
    if not isinstance(patch.get("kind"), str) or not isinstance(patch.get("apiVersion"), str) \
            or not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise NotNative("a strategic merge patch without apiVersion, kind and metadata.name")
    if patch["kind"].endswith("List"):
        raise NotNative("a strategic merge patch of a List")
    if smp.has_directives(patch):
        raise NotNative("a strategic merge patch with $patch directives")
    if _SCHEMA_COMMENT.search(text):
        raise NotNative("a strategic merge patch with schema comments")


def _by_id(resources: list[Res], patch: dict) -> Res:
    """kustomize's GetById(patch id): the one object with that id now or before (namespaces compared
    as kustomize does: no namespace is "default")."""
    meta = patch["metadata"]
    api, kind, name = patch["apiVersion"], patch["kind"], meta["name"]
    ns = meta.get("namespace", "")
    if not isinstance(ns, str):
        raise NotNative("a strategic merge patch with a namespace that is not a string")
    found = [res for res in resources if res.api == api
             and any(k == kind and n == name and (i_ns or "default") == (ns or "default") for k, i_ns, n in res.ids())]
    if len(found) != 1:
        raise NotNative(f"a strategic merge patch of {kind} {name} matches {len(found)} objects (kustomize needs one)")
    return found[0]


def _apply_sm(res: Res, patch: dict, with_target: bool) -> None:
    if split_api(res.api)[0] in BUILTIN_GROUPS and (smp.has_lists(res.body) or smp.has_lists(patch)):
        raise NotNative(f"a strategic merge patch of {res.kind} {res.name}, which kustomize merges by its schema")
    if res.schema_comments:
        raise NotNative(f"{res.kind} {res.name} has comments kustomize reads as field metadata")
    patch = dict(patch)
    if with_target:
        patch["apiVersion"] = res.api
    name, ns, kind = res.name, res.namespace, res.kind
    body = smp.merge(res.body, patch)
    meta = body.get("metadata")
    if not isinstance(meta, dict):
        raise NotNative("a strategic merge patch removes metadata")
    body["kind"] = kind
    meta["name"] = name
    if ns:
        meta["namespace"] = ns
    else:
        meta.pop("namespace", None)
    _check_meta(body, res)
    res.body = body


def _check_meta(body: dict, res: Res) -> None:
    meta = body.get("metadata")
    ns = meta.get("namespace") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or body.get("kind") != res.kind or body.get("apiVersion") != res.api \
            or meta.get("name") != res.name or (ns if isinstance(ns, str) else "") != res.namespace:
        raise NotNative(f"a patch changes the id of {res.kind} {res.name}")
    for key in ("labels", "annotations"):
        m = meta.get(key)
        if m is not None and m is not EMPTY_NULL and (not isinstance(m, dict)
                                                     or not all(isinstance(v, str) for v in m.values())):
            raise NotNative(f"a patch leaves {key} of {res.kind} {res.name} that are not strings")
