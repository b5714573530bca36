"""Build time of a repo's Flux Kustomization paths, per kustomize mode, cold and warm.

    .venv/bin/python benchmarks/builder_bench.py [REPO] [--runs N] [--requests walk|plain]
    .venv/bin/python benchmarks/builder_bench.py --native-share [REPO ...]

REPO defaults to the target repo of the shared corpus. Requests are, by default, the ones the
scanner's Flux walker makes (`walk`): each Flux Kustomization with the overlay its parent's build
gave it (a parent's `patches` reach every child), replayed level by level as the walker batches
them; `plain` takes every Flux Kustomization document as written instead. Builds of paths inside
an ExternalArtifact the walk lays out (a temporary tree) are not replayed.

For each mode (native, auto, binary): "cold" builds everything with an empty cache; "warm" reruns
with the cache filled after one app's file was edited (a copy of the repo is edited, never the
input). Reports wall time, CPU time of this process and of the kustomize processes (children), the
processes started and how each request was built. Best of N runs.

`--native-share` walks each repo (the corpus repos and the example by default) and prints the
share of its builds the native builder does.
"""
from __future__ import annotations

import argparse
import glob
import os
import resource
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
from scanner.inventory.builder import BuildEngine, BuildSettings  # noqa: E402
from tests.support.flux_requests import flux_requests, repo_files  # noqa: E402
from tests.support.walk_requests import native_share as walk_native_share  # noqa: E402
from tests.support.walk_requests import record_walk  # noqa: E402

CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus")
TARGET = os.path.join(CORPUS, "dapperdivers__dapper-cluster")
EXAMPLE = os.path.join(ROOT, "examples", "homelab")


def _cpu() -> tuple[float, float]:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def _levels(root: str, kind: str) -> list[list]:
    """Request batches, as the walker sends them (or one batch of every document as written)."""
    files = repo_files(root)
    if kind == "plain":
        return [flux_requests(root, files)]
    return [reqs for tree, reqs in record_walk(root) if tree == os.path.abspath(root)]


def _run(root, files, levels, mode, cache_dir):
    cpu0, kids0 = _cpu()
    t0 = time.perf_counter()
    eng = BuildEngine(root, files, BuildSettings(mode=mode, cache_dir=cache_dir))
    outs = [o for level in levels for o in eng.build_many(level)]
    wall = time.perf_counter() - t0
    cpu1, kids1 = _cpu()
    procs = eng.runner.processes if eng.runner else 0
    return wall, cpu1 - cpu0, kids1 - kids0, procs, dict(eng.counts), outs


def _edit_one_app(root: str, outs) -> str | None:
    """Append a comment to the first file of a built request that only it reads."""
    counts: dict[str, int] = {}
    for o in outs:
        for f in o.files_used:
            counts[f] = counts.get(f, 0) + 1
    for o in outs:
        if o.how != "failed":
            for f in sorted(o.files_used):
                if counts[f] == 1 and f.endswith((".yaml", ".yml")):
                    with open(os.path.join(root, f), "a") as fh:
                        fh.write("\n# edited by the benchmark\n")
                    return f
    return None


def bench(repo: str, runs: int, kind: str) -> None:
    print(f"repo: {repo}  requests: {kind}  cpus: {os.cpu_count()}  load: {os.getloadavg()[0]:.1f}")
    for mode in ("native", "auto", "binary"):
        best_cold = best_warm = None
        edited = None
        for _ in range(runs):
            work = tempfile.mkdtemp(prefix="builder-bench-")
            try:
                root = os.path.join(work, "repo")
                shutil.copytree(repo, root, symlinks=True)
                files = repo_files(root)
                levels = _levels(root, kind)
                cache = os.path.join(work, "cache")
                cold = _run(root, files, levels, mode, cache)
                edited = _edit_one_app(root, cold[5])
                warm = _run(root, files, levels, mode, cache)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if best_cold is None or cold[0] < best_cold[0]:
                best_cold = cold
            if best_warm is None or warm[0] < best_warm[0]:
                best_warm = warm
        n = sum(len(level) for level in levels)
        for label, (wall, cpu, kids, procs, counts, _outs) in (("cold", best_cold), ("warm", best_warm)):
            print(f"{mode:7s} {label}: {n} requests in {len(levels)} levels  wall {wall:6.2f} s  "
                  f"python cpu {cpu:5.2f} s  kustomize cpu {kids:5.2f} s  processes {procs:3d}  {counts}"
                  + (f"  (edited {edited})" if label == "warm" else ""))


def native_share(repos: list[str]) -> None:
    for repo in repos:
        native, total = walk_native_share(repo)
        share = f"{100 * native / total:5.1f} %" if total else "   - "
        print(f"{os.path.basename(repo):32s} {native:4d} of {total:4d} builds native  {share}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo", nargs="*")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--requests", choices=("walk", "plain"), default="walk")
    ap.add_argument("--native-share", action="store_true")
    args = ap.parse_args()
    if args.native_share:
        native_share(args.repo or sorted(glob.glob(os.path.join(CORPUS, "*__*"))) + [EXAMPLE])
        return
    repo = args.repo[0] if args.repo else TARGET
    if not os.path.isdir(repo):
        sys.exit(f"no repo at {repo}")
    bench(repo, args.runs, args.requests)


if __name__ == "__main__":
    main()
