"""kustomize's output read back: documents, and the file each came from.

Builds run with `buildMetadata: [originAnnotations]` on the top kustomization, so every object
carries `config.kubernetes.io/origin` naming its file (`path:`) or, for a generated object, the
kustomization or config that generated it (`configuredIn:`), relative to the top directory. The
annotation is removed from the body (kustomize itself drops an annotations map left empty).
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

import yaml

from scanner.sources.yamlload import load_documents

ORIGIN = "config.kubernetes.io/origin"


@dataclass
class Emitted:
    """One object of a build's output, with its origin relative to the scratch root."""

    body: dict
    origin_path: str | None  # scratch-relative file the object came from
    configured_in: str | None  # scratch-relative kustomization/config that generated it


class OutputError(ValueError):
    """The output is not the YAML stream kustomize prints."""


def parse_output(stdout: bytes, top: str) -> list[Emitted]:
    """The documents of a build of scratch directory `top` (relative to the scratch root)."""
    docs, errors = load_documents(stdout)
    if errors:
        raise OutputError(f"kustomize output is not valid YAML: {errors[0].message}")
    out: list[Emitted] = []
    for d in docs:
        body = d.body
        if not isinstance(body, dict):
            raise OutputError("kustomize output holds a document that is not a mapping")
        path, configured = strip_origin(body)
        out.append(Emitted(body, _scratch_rel(top, path), _scratch_rel(top, configured)))
    return out


def strip_origin(body: dict) -> tuple[str | None, str | None]:
    """Remove the origin annotation from `body`; (path, configuredIn) it named."""
    meta = body.get("metadata")
    if not isinstance(meta, dict):
        return None, None
    ann = meta.get("annotations")
    if not isinstance(ann, dict) or ORIGIN not in ann:
        return None, None
    text = ann.pop(ORIGIN)
    if not ann:
        del meta["annotations"]
    try:
        origin = yaml.safe_load(text) if isinstance(text, str) else None
    except yaml.YAMLError:
        origin = None
    if not isinstance(origin, dict):
        return None, None
    path = origin.get("path") if isinstance(origin.get("path"), str) else None
    configured = origin.get("configuredIn") if isinstance(origin.get("configuredIn"), str) else None
    if origin.get("repo"):  # from a remote base: never the case here (remotes are removed)
        return None, None
    return path, configured


def _scratch_rel(top: str, p: str | None) -> str | None:
    if not p:
        return None
    return posixpath.normpath(posixpath.join(top, p))


def drop_empty_annotations(body: dict) -> None:
    """kustomize drops `metadata.annotations: {}` from what it prints."""
    meta = body.get("metadata")
    if isinstance(meta, dict) and meta.get("annotations") == {}:
        del meta["annotations"]
