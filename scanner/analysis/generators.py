"""What kustomize generators and patches carry, for the checks that look for credentials in them.

A `configMapGenerator` or `secretGenerator` takes its data from `literals` (`KEY=value` in the
kustomization itself), `envs` (dotenv files) and `files` (whole files, `[key=]path`). Each entry is
returned with the file and line its value is written in, so a finding points there; the value is
handed to the caller for judging and must never be reported. SOPS-encrypted inputs are marked:
Flux's kustomize-controller decrypts them at build time, so they are not plaintext.

Referenced files are read through the inventory, and only files the scan discovered in the
repository (never a path that leaves it, never a remote URL).

Patches are kept as text in kustomizations (`patches[].patch`, `patchesJson6902[].patch`, inline
`patchesStrategicMerge`) and in Flux Kustomizations (`spec.patches[].patch`): `patch_texts` lists
them with their key path.
"""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from scanner.analysis.fluxinstance import KUSTOMIZATION_FILES, resolve
from scanner.core.model import Document

GENERATORS = ("configMapGenerator", "secretGenerator")
PATCH_KEYS = ("patches", "patchesJson6902", "patchesStrategicMerge")
MAX_INPUT_BYTES = 1024 * 1024
_DOTENV = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*=\s*(.*?)\s*$")
_SOPS_TEXT = re.compile(r"ENC\[AES256_GCM,data:|^sops_mac=|\"sops\"\s*:|^sops:\s*$", re.M)


def _d(v) -> dict:
    return v if isinstance(v, dict) else {}


def _l(v) -> list:
    return v if isinstance(v, list) else []


@dataclass
class GeneratorEntry:
    """One value a generator puts into a ConfigMap or Secret."""

    generator: str  # configMapGenerator, secretGenerator
    name: str  # the generated object's name
    source: str  # literal, env, file
    key: str  # the data key (literal or env name, file key)
    value: str  # the value (a file's whole content for `files`): judge it, never report it
    path: str  # the file the value is written in
    line: int | None
    keypath: tuple  # key path of the entry in the kustomization
    encrypted: bool = False  # a SOPS-encrypted input, decrypted by Flux at build time
    parsed: bool = False  # the file is YAML the scan parsed as documents (judged on its own)


def is_kustomization(doc: Document) -> bool:
    if not isinstance(doc.body, dict):
        return False
    if doc.kind:
        return doc.kind == "Kustomization" and doc.api_version.startswith("kustomize.config.k8s.io")
    return posixpath.basename(doc.path) in KUSTOMIZATION_FILES


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "\"'":
        return v[1:-1]
    return v


def dotenv(text: str) -> list[tuple[str, str, int]]:
    """(name, value, line) of each `KEY=value` line of a dotenv file."""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        m = _DOTENV.match(s)
        if m:
            out.append((m.group(1), _unquote(m.group(2)), n))
    return out


def _read(inv, rel: str) -> str | None:
    files = inv.__dict__.get("_generator_file_set")
    if files is None or len(files) != len(inv.files):
        files = inv.__dict__["_generator_file_set"] = set(inv.files)
    if rel not in files:
        return None
    text = inv.text(rel)
    return text if text is not None and len(text) <= MAX_INPUT_BYTES else None


def generator_entries(inv, doc: Document) -> list[GeneratorEntry]:
    """Every literal, env line and file a kustomization's generators read."""
    if not is_kustomization(doc):
        return []
    base = posixpath.dirname(doc.path)
    out: list[GeneratorEntry] = []
    for gkind in GENERATORS:
        for gi, gen in enumerate(_l(doc.body.get(gkind))):
            if not isinstance(gen, dict):
                continue
            name = str(gen.get("name") or "?")
            for li, lit in enumerate(_l(gen.get("literals"))):
                if isinstance(lit, str) and "=" in lit:
                    k, _, v = lit.partition("=")
                    kp = (gkind, gi, "literals", li)
                    out.append(GeneratorEntry(gkind, name, "literal", k.strip(), _unquote(v.strip()), doc.path,
                                              inv.line_of(doc, kp), kp))
            for ei, env in enumerate(_l(gen.get("envs"))):
                rel = resolve(base, env) if isinstance(env, str) else None
                text = _read(inv, rel) if rel else None
                if text is None:
                    continue
                enc = bool(_SOPS_TEXT.search(text))
                for k, v, line in dotenv(text):
                    if not k.startswith("sops_"):
                        out.append(GeneratorEntry(gkind, name, "env", k, v, rel, line, (gkind, gi, "envs", ei), enc))
            for fi, f in enumerate(_l(gen.get("files"))):
                if not isinstance(f, str):
                    continue
                key, _, p = f.rpartition("=")
                rel = resolve(base, p)
                parsed = bool(rel) and bool(inv.docs_at(rel))
                if parsed and gkind == "configMapGenerator":
                    # YAML the scan parsed: judged as documents of its own, its text is not needed here
                    out.append(GeneratorEntry(gkind, name, "file", key or posixpath.basename(p), "", rel, 1,
                                              (gkind, gi, "files", fi), parsed=True))
                    continue
                text = _read(inv, rel) if rel else None
                if text is None:
                    continue
                out.append(GeneratorEntry(gkind, name, "file", key or posixpath.basename(p), text, rel, 1,
                                          (gkind, gi, "files", fi), bool(_SOPS_TEXT.search(text)), parsed))
    return out


def patch_texts(doc: Document) -> list[tuple[tuple, str]]:
    """(key path, text) of the inline patches of a kustomization or a Flux Kustomization."""
    body = doc.body if isinstance(doc.body, dict) else {}
    out = []
    if is_kustomization(doc):
        for key in PATCH_KEYS:
            for i, p in enumerate(_l(body.get(key))):
                if isinstance(p, dict) and isinstance(p.get("patch"), str):
                    out.append(((key, i, "patch"), p["patch"]))
                elif isinstance(p, str) and "\n" in p:  # inline strategic merge (a one-line string is a file path)
                    out.append(((key, i), p))
    elif doc.kind == "Kustomization" and doc.api_version.startswith("kustomize.toolkit.fluxcd.io"):
        for i, p in enumerate(_l(_d(body.get("spec")).get("patches"))):
            if isinstance(p, dict) and isinstance(p.get("patch"), str):
                out.append((("spec", "patches", i, "patch"), p["patch"]))
    return out
