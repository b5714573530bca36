"""HelmRelease values kept in a file: `valuesFrom: [{kind: ConfigMap, name: x}]` where the ConfigMap is
a kustomize `configMapGenerator` over a `values.yaml` next to the release.

The release is then seen through a stand-in Resource: the HelmRelease's identity and spec, with the
file's values under `spec.values`, on a document whose line tree maps `spec.values.<...>` onto the
values file, so findings point at the exact line of `values.yaml`."""
from __future__ import annotations

import copy
import posixpath

from scanner.inventory.kustomization_files import KUSTOMIZATION_FILES
from scanner.core.model import Resource
from scanner.sources.parse import ParsedDocument


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _generated_files(inv, hr: Resource, cm_name: str, key: str) -> list[str]:
    """Files a configMapGenerator named `cm_name` puts under `key`, in the release's kustomization."""
    out = []
    d = posixpath.dirname(hr.path)
    for base in (d, posixpath.dirname(d)):
        for kname in KUSTOMIZATION_FILES:
            kpath = posixpath.join(base, kname) if base else kname
            for kdoc in inv.docs_at(kpath):
                for gen in _d(kdoc.body).get("configMapGenerator") or []:
                    if not isinstance(gen, dict) or gen.get("name") != cm_name:
                        continue
                    for f in gen.get("files") or []:
                        if not isinstance(f, str):
                            continue
                        k, _, p = f.rpartition("=")
                        k = k or posixpath.basename(p)
                        if k == key:
                            out.append(posixpath.normpath(posixpath.join(base, p)))
    return out


def _deep_merge(dst: dict, src: dict) -> dict:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_merge(dst[k], v)
        else:
            dst[k] = copy.deepcopy(v)
    return dst


def _values_tree(values: dict, file_values: dict, inline: dict, tree, first_line: int):
    """Line tree of the merged values: keys from the file keep the file's lines (and their subtree
    when the release's inline values did not merge into them); keys only inline get the file's first line."""
    file_lines, file_kids = tree
    file_kids = file_kids or (None,) * len(file_lines)
    pos = {k: i for i, k in enumerate(file_values)}
    lines, kids = [], []
    for k in values:
        i = pos.get(k)
        if i is None:
            lines.append(first_line)
            kids.append(None)
        else:
            lines.append(file_lines[i])
            kids.append(file_kids[i] if k not in inline else None)
    return (tuple(lines), tuple(kids))


def values_resource(inv, hr: Resource) -> Resource | None:
    """The stand-in release when its values live in a generated ConfigMap's file, else None."""
    spec = hr.spec
    inline = spec.get("values") if isinstance(spec.get("values"), dict) else {}
    if "controllers" in inline:
        return None  # the inline values carry the workload: nothing to add
    for ref in spec.get("valuesFrom") or []:
        if not isinstance(ref, dict) or ref.get("kind") != "ConfigMap" or not ref.get("name"):
            continue
        for path in _generated_files(inv, hr, str(ref["name"]), str(ref.get("valuesKey") or "values.yaml")):
            docs = [d for d in inv.docs_at(path) if isinstance(d.body, dict)]
            if not docs:
                continue
            vdoc = docs[0]
            values = _deep_merge(copy.deepcopy(vdoc.body), inline)  # Helm: valuesFrom, then spec.values on top
            body = {"apiVersion": hr.api_version, "kind": hr.kind, "metadata": hr.metadata,
                    "spec": dict(spec, values=values)}
            stand_in = ParsedDocument(path=vdoc.path, line=vdoc.line, index=vdoc.index, body=body)
            tree = getattr(vdoc, "lines", None)
            if tree is not None:
                n = vdoc.line
                # Every key outside spec.values points at the values file's first line; spec.values.<...>
                # follows the file's own line tree.
                top = [n] * len(body)
                kids = [None] * len(body)
                spec_keys = list(body["spec"])
                spec_lines = (tuple([n] * len(spec_keys)),
                              tuple(_values_tree(values, vdoc.body, inline, tree, n) if k == "values" else None
                                    for k in spec_keys))
                kids[list(body).index("spec")] = spec_lines
                stand_in.lines = (tuple(top), tuple(kids))
            else:
                stand_in.lines = None
            return Resource(doc=stand_in, namespace=hr.namespace, name=hr.name, deployed=hr.deployed,
                            flux_kustomization=hr.flux_kustomization, variables=hr.variables, body=body)
    return None
