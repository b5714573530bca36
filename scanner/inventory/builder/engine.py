"""The build engine: many Flux Kustomization builds, planned, cached, native or by kustomize."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

from scanner.inventory.builder import native
from scanner.inventory.builder.batching import partition, placeholders_may_be_tokenised
from scanner.inventory.builder.cache import BuildCache, request_key
from scanner.inventory.builder.model import (HOW_FAILED, HOW_KUSTOMIZE, HOW_NATIVE, MODES, BuildOutcome,
                                             BuildRequest, BuildSettings, Gap, error)
from scanner.inventory.builder.plan import FAILED, Plan, Planner
from scanner.inventory.builder.repo import RepoView, artifact_files
from scanner.inventory.builder.runner import Built, Runner
from scanner.inventory.builder.tool import Tool, ToolError, find_tool

NATIVE_ID = "native-3"  # bumped whenever the native builder changes what it emits
MAX_BATCH = 64  # requests per kustomize process
# Fields whose effect reaches across a batch: `vars` resolve over all of it, and the transformer
# configs of `configurations`/`crds` are merged into the batch's top, so one request's nameReference
# entries would rename references in another request.
BUILD_ALONE = frozenset({"vars", "configurations", "crds"})


class BuildEngine:
    """Builds Flux Kustomization paths of one repo.

    `files` are the repo-relative regular files discovery found; the engine keeps those a
    source-controller artifact holds (its default exclusions, `.sourceignore` files and
    `ignore_patterns`, a GitRepository's `spec.ignore`)."""

    def __init__(self, repo_root: str, files: set[str], settings: BuildSettings,
                 ignore_patterns: tuple[str, ...] = ()):
        if settings.mode not in MODES:
            raise ValueError(f"unknown kustomize mode {settings.mode!r} (one of {', '.join(MODES)})")
        self.settings = settings
        everything = RepoView(repo_root, set(files))
        self.repo = RepoView(repo_root, artifact_files(set(files), everything.read_text, ignore_patterns))
        self.planner = Planner(self.repo)
        self.cache = BuildCache(settings.cache_dir) if settings.cache_dir else None
        self._tool: Tool | None = None
        self._tool_error: str | None = None
        self._tool_lock = threading.Lock()
        self._identifying: threading.Thread | None = None
        self.runner: Runner | None = None
        self.counts = {"native": 0, "kustomize": 0, "failed": 0, "cached": 0}

    # -- the tool ------------------------------------------------------------------------------
    def _resolve_tool(self) -> Tool | None:
        with self._tool_lock:
            if self._tool is None and self._tool_error is None:
                home = tempfile.mkdtemp(prefix="posture-ktool-")
                try:
                    self._tool = find_tool(self.settings.binary, home, min(self.settings.timeout, 30.0),
                                           self.settings.cache_dir)
                    self.runner = Runner(self._tool, self.settings)
                except ToolError as exc:
                    self._tool_error = str(exc)
                finally:
                    shutil.rmtree(home, ignore_errors=True)
            return self._tool

    def _identify_tool_meanwhile(self) -> None:
        """Identifying the binary runs it (a tenth of a second while its answer is not cached): a thread
        does it while the native builds run; tool() and binary builds wait for it (on the lock)."""
        if self._identifying is None and self._tool is None and self._tool_error is None:
            self._identifying = threading.Thread(target=self._resolve_tool, name="posture-identify-kustomize",
                                                 daemon=True)
            self._identifying.start()

    def tool(self) -> dict:
        """Which kustomize runs (or why none), and the mode."""
        t = self._resolve_tool()
        info = t.describe() if t else {"kustomize": None, "kubectl": None, "path": None,
                                        "source": None, "error": self._tool_error}
        info["mode"] = self.settings.mode
        return info

    # -- builds --------------------------------------------------------------------------------
    def build_many(self, requests: list[BuildRequest]) -> list[BuildOutcome]:
        """One outcome per request, in the order of `requests`."""
        self._identify_tool_meanwhile()
        plans = [self.planner.plan(r) for r in requests]
        outcomes: list[BuildOutcome | None] = [None] * len(plans)
        keys: list[str | None] = [None] * len(plans)
        to_binary: list[int] = []
        mode = self.settings.mode
        for i, plan in enumerate(plans):
            if plan.refused:
                outcomes[i] = _outcome(plan, [], HOW_FAILED)
                continue
            why_not = native.eligible(plan) if mode != "binary" else "binary mode"
            if why_not is None:
                outcomes[i], keys[i] = self._cached(plan, NATIVE_ID)
                if outcomes[i] is not None:
                    continue
                try:
                    outcomes[i] = _outcome(plan, native.build(plan, self.repo), HOW_NATIVE)
                    continue
                except native.NotNative as exc:
                    why_not = str(exc)
                    keys[i] = None
            if mode == "native":
                gap = Gap("native-unsupported", _root_file(plan), plan.root or ".",
                          f"not built: the native builder does not do this build exactly ({why_not})")
                outcomes[i] = _outcome(plan, [], HOW_FAILED, gaps=[gap])
                continue
            to_binary.append(i)
        tool = self._resolve_tool() if to_binary else None
        pending: list[int] = []
        for i in to_binary:
            plan = plans[i]
            if tool is None:
                msg = f"no kustomize to build with: {self._tool_error}"
                outcomes[i] = _outcome(plan, [], HOW_FAILED, errors=[error(_root_file(plan), FAILED, msg)],
                                       gaps=[Gap("no-kustomize", _root_file(plan), plan.root or ".", msg)])
                continue
            outcomes[i], keys[i] = self._cached(plan, f"{tool.flavour}:{tool.kubectl_version}:{tool.kustomize_version}")
            if outcomes[i] is None:
                pending.append(i)
        for j, built in self._run_binary([plans[i] for i in pending]):
            i = pending[j]
            outcomes[i] = _binary_outcome(plans[i], built)
            if built.transient:
                keys[i] = None
        for i, out in enumerate(outcomes):
            assert out is not None
            self.counts["cached"] += out.cached
            self.counts[{HOW_NATIVE: "native", HOW_KUSTOMIZE: "kustomize"}.get(out.how, "failed")] += 1
            if self.cache is not None and keys[i] is not None and not out.cached:
                self.cache.put(keys[i], out)
        return outcomes  # type: ignore[return-value]

    def _cached(self, plan: Plan, builder_id: str) -> tuple[BuildOutcome | None, str | None]:
        if self.cache is None:
            return None, None
        key = request_key(plan, self.repo, builder_id)
        return self.cache.get(key, plan.request), key

    def _run_binary(self, plans: list[Plan]):
        """(index into `plans`, Built) for every plan: batches across a thread pool."""
        if not plans:
            return
        assert self.runner is not None
        workers = self.settings.workers or os.cpu_count() or 1
        alone = [i for i, p in enumerate(plans) if p.features & BUILD_ALONE]
        together = [i for i in range(len(plans)) if not plans[i].features & BUILD_ALONE]
        for i in together:
            plans[i].tokenise = placeholders_may_be_tokenised(plans[i], self.repo)
        tokens = [f"#{i}" if plans[i].tokenise else "" for i in together]
        parts = partition([plans[i] for i in together], self.repo, workers, MAX_BATCH, tokens)
        chunks = [[together[j] for j in part] for part in parts] + [[i] for i in alone]
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(chunks)))) as pool:
            futures = [(c, pool.submit(self.runner.build, [plans[i] for i in c])) for c in chunks]
            for c, fut in futures:
                for i, built in zip(c, fut.result()):
                    yield i, built


def _binary_outcome(plan: Plan, built: Built) -> BuildOutcome:
    if not built.ok:
        if any(g.code == "remote-resource" for g in plan.gaps):
            # The build ran without its remote resources (never fetched), so a patch or replacement aimed
            # at their objects fails here where Flux would succeed: the repo's error is not proven, the
            # blind spot is. The remote gaps are already listed; this one says the whole path is unseen.
            why = "; ".join(e.message for e in built.errors)[:300]
            gap = Gap("build-failed", _root_file(plan), plan.root or ".",
                      f"kustomize could not build this path without its remote resources (not fetched): {why}")
            return _outcome(plan, [], HOW_FAILED, gaps=[gap])
        gap = Gap("build-failed", _root_file(plan), plan.root or ".",
                  "kustomize could not build this path; its objects are not seen")
        return _outcome(plan, [], HOW_FAILED, errors=built.errors, gaps=[gap])
    out = _outcome(plan, built.objects, HOW_KUSTOMIZE, errors=built.errors)
    out.degraded = out.degraded or bool(built.errors)  # objects Flux refuses were left out
    return out


def _root_file(plan: Plan) -> str:
    name = plan.kfile_names.get(plan.root)
    if name is None:
        return plan.root or "."
    return f"{plan.root}/{name}" if plan.root else name


def _outcome(plan: Plan, objects, how: str, errors=(), gaps=()) -> BuildOutcome:
    return BuildOutcome(
        request=plan.request,
        objects=list(objects),
        how=how,
        errors=list(plan.errors) + list(errors),
        gaps=list(plan.gaps) + list(gaps),
        files_used=set(plan.files_used),
        degraded=plan.degraded,
    )

