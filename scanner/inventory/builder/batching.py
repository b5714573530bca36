"""Which requests may share a kustomize process: those whose objects cannot have the same id.

kustomize refuses two objects with one id (group, kind, namespace, name) anywhere in a build, so a
batch holding two requests that emit the same object fails whole. Flux repos do this on purpose: a
shared component with `${APP}` placeholders gives every app that includes it the same cluster-scoped
PersistentVolume before substitution. The ids are predicted from the plan (the documents of every
resource file, the generators' names, the overlay's target namespace and name prefix/suffix), and
requests whose predictions meet go to different batches. A wrong prediction only costs a retry.

Flux substitution placeholders (`${APP}`) are opaque text to kustomize. In a request's own scratch
tree every `${` can be written as `${<token>` (a token unique to the request and found nowhere in
the repo) and turned back in the output: kustomize does the same thing to the same strings, only
the ids no longer meet across requests. Text that feeds a hash is the exception (a generator's name
and data, an object asking for a hash), and a request with any is built with its placeholders as
written; so is one naming a path with a placeholder.
"""
from __future__ import annotations

import json
import posixpath

from scanner.core.model import CLUSTER_SCOPED_KINDS
from scanner.inventory.builder.plan import Plan
from scanner.inventory.builder.repo import RepoView
from scanner.sources.yamlload import load_documents


_PATH_FIELDS = ("resources", "bases", "components", "crds", "configurations", "transformers",
                "validators", "patchesStrategicMerge")


def placeholders_may_be_tokenised(plan: Plan, repo: RepoView) -> bool:
    """True when writing `${` as `${<token>` in this request's tree cannot change what kustomize
    computes (see the module doc)."""
    if "generators" in plan.features or "vars" in plan.features:
        return False
    for data in plan.writes.values():
        if b"needs-hash" in data:
            return False
    has_generator = any(k.get("configMapGenerator") or k.get("secretGenerator") for k in plan.kustomizations.values())
    if has_generator and plan.features & {"replacements", "transformers"}:
        return False  # they may copy placeholder text into a generated (hashed) object
    for k in plan.kustomizations.values():
        for key in ("configMapGenerator", "secretGenerator"):
            for gen in k.get(key) or []:
                if not isinstance(gen, dict) or gen.get("behavior") in ("merge", "replace") \
                        or "${" in json.dumps(gen, default=str):
                    return False
                for field in ("files", "envs", "env"):
                    raw = gen.get(field)
                    for src in ([raw] if isinstance(raw, str) else raw or []):
                        if isinstance(src, str) and b"${" in (repo.read(_source_path(k, src, plan)) or b""):
                            return False
        if has_generator and ("${" in str(k.get("namePrefix", "")) + str(k.get("nameSuffix", ""))
                              or any("${" in json.dumps(k.get(f), default=str)
                                     for f in ("patches", "patchesJson6902", "patchesStrategicMerge"))):
            return False  # a hashed name or a patch of a generated object would change
        for key in _PATH_FIELDS:
            for ref in k.get(key) or []:
                if isinstance(ref, str) and "${" in ref and "\n" not in ref:
                    return False
        for key in ("patches", "patchesJson6902", "replacements"):
            for item in k.get(key) or []:
                if isinstance(item, dict) and "${" in str(item.get("path", "")):
                    return False
    if has_generator:
        for p in plan.files_used - plan.resource_files:
            data = plan.writes.get(p, b"")
            if b"${" in data and not p.endswith(("kustomization.yaml", "kustomization.yml", "Kustomization")):
                return False  # a patch file with placeholders, in a build with generated objects
    return True


def _source_path(k: dict, src: str, plan: Plan) -> str:
    d = next((d for d, body in plan.kustomizations.items() if body is k), "")
    ref = src.split("=", 1)[1] if "=" in src else src
    return posixpath.normpath(posixpath.join(d, ref)) if d else posixpath.normpath(ref)


def predicted_ids(plan: Plan, repo: RepoView, doc_cache: dict, token: str = "") -> set[tuple]:
    """The ids the request's objects may have; `token` is the request's placeholder token, if any."""
    ov = plan.request.overlay
    target = ov.target_namespace or None
    prefix, suffix = ov.name_prefix or "", ov.name_suffix or ""
    ids: set[tuple] = set()

    def add(kind, name, ns):
        scoped = None if kind in CLUSTER_SCOPED_KINDS else (target or ns)
        name = f"{prefix}{name}{suffix}"
        if token:
            name = name.replace("${", "${" + token)
            scoped = scoped.replace("${", "${" + token) if isinstance(scoped, str) else scoped
        ids.add((kind, name, scoped))

    for p in plan.resource_files:
        docs = doc_cache.get(p)
        if docs is None:
            loaded, _ = load_documents(repo.read(p) or b"")
            docs = []
            for d in loaded:
                b = d.body
                meta = b.get("metadata") if isinstance(b, dict) and isinstance(b.get("metadata"), dict) else {}
                if isinstance(b, dict) and isinstance(meta.get("name"), str):
                    docs.append((str(b.get("kind")), meta["name"], meta.get("namespace")))
            doc_cache[p] = docs
        for kind, name, ns in docs:
            add(kind, name, ns)
    for k in plan.kustomizations.values():
        for key, kind in (("configMapGenerator", "ConfigMap"), ("secretGenerator", "Secret")):
            for gen in k.get(key) or []:
                if isinstance(gen, dict) and isinstance(gen.get("name"), str):
                    add(kind, gen["name"], gen.get("namespace") or k.get("namespace"))
    return ids


MIN_SPLIT = 16  # a batch smaller than this is not halved to feed another worker


def partition(plans: list[Plan], repo: RepoView, groups: int, max_batch: int,
              tokens: list[str] | None = None) -> list[list[int]]:
    """Indices of `plans` in batches: no two requests of a batch predicted to emit one id, at most
    `max_batch` per batch, and none much larger than an even share over `groups` workers."""
    doc_cache: dict = {}
    batches: list[list[int]] = []
    taken: list[set] = []
    for i, plan in enumerate(plans):
        ids = predicted_ids(plan, repo, doc_cache, tokens[i] if tokens else "")
        for b, seen in zip(batches, taken):
            if len(b) < max_batch and not (ids & seen):
                b.append(i)
                seen |= ids
                break
        else:
            batches.append([i])
            taken.append(set(ids))
    # Even out the work over the workers: halve the largest batch while it holds more than its
    # share (a part of a batch without predicted clashes has none either), unless it is small: a
    # kustomize process costs 0.1-0.25 s of CPU before it builds anything, more than the wall
    # time a second worker saves on a few builds.
    share = -(-len(plans) // max(1, groups))
    while batches:
        big = max(batches, key=len)
        if len(big) <= max(share, 1) or len(big) < MIN_SPLIT:
            break
        batches.remove(big)
        half = len(big) // 2
        batches += [big[:half], big[half:]]
    return batches
