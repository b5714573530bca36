"""`make bench`: scan time vs the PyYAML C-loader parse floor, growth 1x/10x/100x, and checkov side by side.

Inputs: the example repo, every repo in ../shared/corpus (skipped when absent), synthetic repos at 1x,
10x and 100x the target cluster (benchmarks/synth.py). Each scan is the real command a user runs,
`posture scan REPO --format json,html`, in a fresh process: wall time is measured from outside (the
interpreter's start and the imports included), peak memory is the largest PSS sum of the process and its
helper processes (benchmarks/memwatch.py), and the phases come from the report it wrote. The best of N
runs is reported.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus")
CHECKOV_VENV = os.path.join(HERE, ".checkov-venv")
sys.path.insert(0, HERE)
import memwatch  # noqa: E402
import synth  # noqa: E402

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_files(repo: str) -> list[str]:
    out = []
    for d, dirs, files in os.walk(repo):
        dirs[:] = [x for x in dirs if x != ".git"]
        out += [os.path.join(d, f) for f in files if f.endswith((".yaml", ".yml"))]
    return out


def parse_floor(repo: str) -> float:
    files = yaml_files(repo)
    t = time.perf_counter()
    for f in files:
        try:
            with open(f, "rb") as fh:
                list(yaml.load_all(fh, Loader=Loader))
        except Exception:
            pass
    return time.perf_counter() - t


def scan_once(repo: str, watch_memory: bool = False) -> dict:
    """One scan. Timed runs are not watched: the sampling thread would take CPU from the scan."""
    out = tempfile.mkdtemp(prefix="bench-out-")
    try:
        cmd = [sys.executable, "-m", "scanner", "scan", repo, "--format", "json,html", "--output-dir", out, "-q"]
        t = time.perf_counter()
        if watch_memory:
            p, peak_mib = memwatch.run(cmd, cwd=ROOT)
        else:
            p, peak_mib = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900), None
        wall = time.perf_counter() - t
        if p.returncode not in (0, 1):
            raise RuntimeError(p.stderr[-2000:])
        with open(os.path.join(out, "posture-report.json"), encoding="utf-8") as fh:
            report = json.load(fh)
        return {"wall_s": wall, "peak_mib": peak_mib, "phases": report["scan"]["phases"],
                "stats": report["scan"]["stats"]}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def ensure_checkov() -> str | None:
    exe = os.path.join(CHECKOV_VENV, "bin", "checkov")
    if os.path.exists(exe):
        return exe
    print("installing checkov into benchmarks/.checkov-venv (once) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", CHECKOV_VENV], check=True, timeout=300)
        subprocess.run([os.path.join(CHECKOV_VENV, "bin", "pip"), "install", "-q", "checkov"], check=True, timeout=1200)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"checkov not available: {exc}")
        return None
    return exe if os.path.exists(exe) else None


def checkov_time(exe: str, repo: str) -> float | None:
    t = time.perf_counter()
    try:
        subprocess.run([exe, "-d", repo, "--framework", "kubernetes", "--quiet", "--compact", "-o", "json"],
                       capture_output=True, timeout=1800)
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - t


def measure(name: str, repo: str, runs: int, checkov: str | None) -> dict:
    floors = [parse_floor(repo) for _ in range(runs)]
    scans = [scan_once(repo) for _ in range(runs)]
    best = min(scans, key=lambda s: s["wall_s"])
    peak = scan_once(repo, watch_memory=True)["peak_mib"]  # a run of its own: watching takes CPU from the scan
    row = {"input": name, "files": len(yaml_files(repo)), "floor_s": min(floors), "scan_s": best["wall_s"],
           "peak_mib": peak or 0, "phases": best["phases"],
           "workloads": best["stats"]["workloads"], "routes": best["stats"]["routes"]}
    row["ratio"] = row["scan_s"] / row["floor_s"] if row["floor_s"] else float("nan")
    row["checkov_s"] = checkov_time(checkov, repo) if checkov else None
    return row


def machine() -> str:
    import platform

    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "")
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cores} cores {model}, Python {platform.python_version()}, {platform.system()} {platform.release()}, "
            f"load {load:.1f} at start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=3, help="runs per input (best is kept)")
    ap.add_argument("--no-checkov", action="store_true", help="skip the checkov comparison")
    ap.add_argument("--max-scale", type=int, default=100, help="largest synthetic scale (1, 10, 100)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    checkov = None if args.no_checkov else ensure_checkov()
    inputs = [("example", os.path.join(ROOT, "examples", "homelab"))]
    if os.path.isdir(CORPUS):
        inputs += [(n, os.path.join(CORPUS, n)) for n in sorted(os.listdir(CORPUS)) if os.path.isdir(os.path.join(CORPUS, n))]
    else:
        print("../shared/corpus absent: corpus inputs skipped")
    tmp = tempfile.mkdtemp(prefix="bench-synth-")
    for scale in (1, 10, 100):
        if scale <= args.max_scale:
            d = os.path.join(tmp, f"synthetic-{scale}x")
            synth.generate(d, scale)
            inputs.append((f"synthetic {scale}x", d))
    rows = []
    print(f"machine: {machine()}")
    print(f"{'input':<32}{'yaml':>7}{'floor s':>9}{'scan s':>9}{'ratio':>7}{'peak MiB':>10}{'checkov s':>11}"
          f"  phases s (discover/parse/inventory/checks/report/rest: start-up, imports, render, exit)")
    for name, repo in inputs:
        runs = 1 if name.startswith("synthetic 100") else args.runs
        use_checkov = checkov if not name.startswith("synthetic 100") else None
        row = measure(name, repo, runs, use_checkov)
        rows.append(row)
        ph = row["phases"]
        keys = ("discover", "parse", "inventory", "checks", "report")
        rest = row["scan_s"] - sum(ph.get(k, 0) for k in keys)
        phases = "/".join(f"{ph.get(k, 0):.2f}" for k in keys) + f"/{rest:.2f}"
        ck = f"{row['checkov_s']:.2f}" if row.get("checkov_s") else "-"
        print(f"{name:<32}{row['files']:>7}{row['floor_s']:>9.2f}{row['scan_s']:>9.2f}{row['ratio']:>7.2f}"
              f"{row['peak_mib']:>10.0f}{ck:>11}  {phases}", flush=True)
    synth_rows = {r["input"]: r for r in rows if r["input"].startswith("synthetic")}
    if "synthetic 1x" in synth_rows and "synthetic 10x" in synth_rows:
        base = synth_rows["synthetic 1x"]["scan_s"]
        growth = ", ".join(f"{k.split()[1]}: {v['scan_s'] / base:.1f}x time, {v['peak_mib']:.0f} MiB"
                           for k, v in synth_rows.items())
        print(f"growth vs 1x (files scale 1/10/100): {growth}")
    shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
