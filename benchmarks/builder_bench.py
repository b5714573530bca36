"""Build time of every Flux Kustomization path of a repo, per kustomize mode, cold and warm.

    .venv/bin/python benchmarks/builder_bench.py [REPO] [--runs N]

REPO defaults to the target repo of the shared corpus. Requests come from a plain YAML scan of the
repo's Flux Kustomizations (spec.path and the overlay fields). For each mode (native, auto,
binary): "cold" builds everything with an empty cache; "warm" reruns with the cache filled after
one app's file was edited (a copy of the repo is edited, never the input). Reports wall time, CPU
time of the kustomize processes (children), the processes started and how each request was
built. Best of N runs.
"""
from __future__ import annotations

import argparse
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

TARGET = os.path.join(os.path.dirname(ROOT), "shared", "corpus", "dapperdivers__dapper-cluster")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(root, files, requests, mode, cache_dir):
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    eng = BuildEngine(root, files, BuildSettings(mode=mode, cache_dir=cache_dir))
    outs = eng.build_many(requests)
    wall = time.perf_counter() - t0
    procs = eng.runner.processes if eng.runner else 0
    return wall, _children_cpu() - cpu0, procs, dict(eng.counts), outs


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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("repo", nargs="?", default=TARGET)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    if not os.path.isdir(args.repo):
        sys.exit(f"no repo at {args.repo}")
    print(f"repo: {args.repo}  cpus: {os.cpu_count()}  load: {os.getloadavg()[0]:.1f}")
    for mode in ("native", "auto", "binary"):
        best_cold = best_warm = None
        for _ in range(args.runs):
            work = tempfile.mkdtemp(prefix="builder-bench-")
            try:
                root = os.path.join(work, "repo")
                shutil.copytree(args.repo, root, symlinks=True)
                files = repo_files(root)
                requests = flux_requests(root, files)
                cache = os.path.join(work, "cache")
                cold = _run(root, files, requests, mode, cache)
                edited = _edit_one_app(root, cold[4])
                warm = _run(root, files, requests, mode, cache)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if best_cold is None or cold[0] < best_cold[0]:
                best_cold = cold
            if best_warm is None or warm[0] < best_warm[0]:
                best_warm = warm
        for label, (wall, cpu, procs, counts, _outs) in (("cold", best_cold), ("warm", best_warm)):
            print(f"{mode:7s} {label}: {len(requests)} requests  wall {wall:6.2f} s  kustomize cpu {cpu:6.2f} s  "
                  f"processes {procs:3d}  {counts}" + (f"  (edited {edited})" if label == "warm" else ""))


if __name__ == "__main__":
    main()
