"""Which requests may share a kustomize process: those whose objects cannot have the same id.

kustomize refuses two objects with one id (group, kind, namespace, name) anywhere in a build, so a
batch holding two requests that emit the same object fails whole. Flux repos do this on purpose: a
shared component with `${APP}` placeholders gives every app that includes it the same cluster-scoped
PersistentVolume before substitution. The ids are predicted from the plan (the documents of every
resource file, the generators' names, the overlay's target namespace and name prefix/suffix), and
requests whose predictions meet go to different batches. A wrong prediction only costs a retry.
"""
from __future__ import annotations

from scanner.core.model import CLUSTER_SCOPED_KINDS
from scanner.inventory.builder.plan import Plan
from scanner.inventory.builder.repo import RepoView
from scanner.sources.yamlload import load_documents


def predicted_ids(plan: Plan, repo: RepoView, doc_cache: dict) -> set[tuple]:
    ov = plan.request.overlay
    target = ov.target_namespace or None
    prefix, suffix = ov.name_prefix or "", ov.name_suffix or ""
    ids: set[tuple] = set()

    def add(kind, name, ns):
        scoped = None if kind in CLUSTER_SCOPED_KINDS else (target or ns)
        ids.add((kind, f"{prefix}{name}{suffix}", scoped))

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


def partition(plans: list[Plan], repo: RepoView, groups: int, max_batch: int) -> list[list[int]]:
    """Indices of `plans` in batches: no two requests of a batch predicted to emit one id, at most
    `max_batch` per batch, and at least `groups` batches when there are that many requests."""
    doc_cache: dict = {}
    batches: list[list[int]] = []
    taken: list[set] = []
    for i, plan in enumerate(plans):
        ids = predicted_ids(plan, repo, doc_cache)
        for b, seen in zip(batches, taken):
            if len(b) < max_batch and not (ids & seen):
                b.append(i)
                seen |= ids
                break
        else:
            batches.append([i])
            taken.append(set(ids))
    # Spread the largest batches over idle workers.
    while len(batches) < groups:
        big = max(batches, key=len)
        if len(big) < 2:
            break
        batches.remove(big)
        half = len(big) // 2
        batches += [big[:half], big[half:]]
    return batches
