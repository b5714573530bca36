"""`make bench`: the performance targets of issue 19, measured on the real command line.

Inputs: the target repo of ../shared/corpus (its rows are skipped when the corpus is absent) and
synthetic repos 10x and 100x its size (benchmarks/synth.py). Every scan is the command a user runs,
in a fresh process, timed from outside (interpreter start and imports included):

    python -m scanner scan REPO --format json,html,sarif,junit,markdown,prometheus -o TMP -q --kustomize MODE

in three states of the per-user cache (a temp dir, through XDG_CACHE_HOME): cold (empty), warm
(filled, nothing changed) and edit (filled, then one value of one app's helmrelease.yaml changed
before each run). Repos are scanned from a temp copy, so the edit never touches the input.
Beside the scans: the parse floor (a process loading every YAML file of the tree with PyYAML's C
loader, nothing else), checkov on the same tree, and the pre-commit hook (`posture leaks` on 5
files). Peak memory is the largest PSS of the process and its children (memwatch.py); cpu is the
user+system time of the process and its children. Best of N runs (the 100x repo: once).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = os.path.join(os.path.dirname(ROOT), "shared", "corpus", "dapperdivers__dapper-cluster")
CHECKOV_VENV = os.path.join(HERE, ".checkov-venv")
FORMATS = "json,html,sarif,junit,markdown,prometheus"
TIMEOUT_S = 4 * 3600
sys.path.insert(0, HERE)
import memwatch  # noqa: E402
import synth  # noqa: E402

FLOOR = """import os, sys, yaml
for d, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [x for x in dirs if x != ".git"]
    for f in files:
        if f.endswith((".yaml", ".yml")):
            try:
                with open(os.path.join(d, f), "rb") as fh:
                    for _ in yaml.load_all(fh, Loader=yaml.CSafeLoader):
                        pass
            except yaml.YAMLError:
                pass
"""


@dataclass
class Timing:
    wall_s: float
    cpu_s: float
    peak_mib: float | None
    phases: dict = field(default_factory=dict)
    failed: str = ""  # why the command gave no report (its exit code and last line)


@dataclass
class Row:
    input: str
    yaml_files: int
    mode: str
    floor: Timing | None = None
    cold: Timing | None = None
    warm: Timing | None = None
    edit: Timing | None = None
    checkov: Timing | None = None


def run(cmd: list[str], cwd: str = ROOT, env: dict | None = None) -> tuple[subprocess.CompletedProcess, Timing]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc, peak = memwatch.run(cmd, cwd=cwd, env=env, timeout=TIMEOUT_S)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return proc, Timing(wall, cpu, peak)


def best(timings: list[Timing]) -> Timing:
    """The fastest run, with the largest peak memory of all runs."""
    fastest = min(timings, key=lambda t: (bool(t.failed), t.wall_s))
    peaks = [t.peak_mib for t in timings if t.peak_mib is not None]
    return Timing(fastest.wall_s, fastest.cpu_s, max(peaks) if peaks else None, fastest.phases, fastest.failed)


def scan(repo: str, cache: str, mode: str) -> Timing:
    out = tempfile.mkdtemp(prefix="bench-out-")
    try:
        cmd = [sys.executable, "-m", "scanner", "scan", repo, "--format", FORMATS, "--output-dir", out, "-q",
               "--kustomize", mode]
        proc, timing = run(cmd, env=dict(os.environ, XDG_CACHE_HOME=cache))
        if proc.returncode not in (0, 1):  # 1: a failing gate, still a whole scan
            timing.failed = f"exit {proc.returncode}: {(proc.stderr.strip().splitlines() or [''])[-1]}"
            return timing
        with open(os.path.join(out, "posture-report.json"), encoding="utf-8") as fh:
            timing.phases = json.load(fh)["scan"]["phases"]
        return timing
    finally:
        shutil.rmtree(out, ignore_errors=True)


def yaml_files(repo: str) -> list[str]:
    out = []
    for d, dirs, files in os.walk(repo):
        dirs[:] = sorted(x for x in dirs if x != ".git")
        out += [os.path.join(d, f) for f in sorted(files) if f.endswith((".yaml", ".yml"))]
    return out


def visible(repo: str, path: str) -> bool:
    """Not under a hidden folder (.archive/, .taskfiles/): a file an app of the cluster is made of."""
    return not any(part.startswith(".") for part in os.path.relpath(path, repo).split(os.sep))


INTERVAL = re.compile(r"^(\s+interval:[ \t]*)\S+", re.M)


def app_helmrelease(repo: str) -> str:
    """The first helmrelease.yaml of an app whose HelmRelease has a spec.interval to change."""
    for path in yaml_files(repo):
        if os.path.basename(path) == "helmrelease.yaml" and visible(repo, path):
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            start = text.find("kind: HelmRelease")
            if start >= 0 and INTERVAL.search(text, start):
                return path
    raise RuntimeError(f"no helmrelease.yaml with an interval in {repo}")


def edit_one_app(path: str, minutes: int) -> None:
    """Set the HelmRelease's interval to `minutes` (a new value each run: every run misses the cache)."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    m = INTERVAL.search(text, text.find("kind: HelmRelease"))
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(f"{text[:m.start()]}{m.group(1)}{minutes}m{text[m.end():]}")


def parse_floor(repo: str, runs: int) -> Timing:
    return best([run([sys.executable, "-c", FLOOR, repo])[1] for _ in range(runs)])


def measure(name: str, repo: str, runs: int, work: str, checkov: str | None, modes: tuple[str, ...]) -> list[Row]:
    copy = os.path.join(work, os.path.basename(repo))
    shutil.copytree(repo, copy, symlinks=True)
    files = len(yaml_files(copy))
    rows, filled = [], {}
    for mode in modes:
        print(f"  {name}: cold --kustomize {mode} ...", flush=True)
        caches = [tempfile.mkdtemp(prefix="cache-", dir=work) for _ in range(runs)]
        rows.append(Row(name, files, mode, cold=best([scan(copy, c, mode) for c in caches])))
        filled[mode] = caches[-1]
    auto = rows[0]
    auto.floor = parse_floor(copy, runs)
    print(f"  {name}: warm, edit ...", flush=True)
    auto.warm = best([scan(copy, filled["auto"], "auto") for _ in range(runs)])
    edited = app_helmrelease(copy)
    edits = []
    for i in range(runs):
        edit_one_app(edited, 11 + i)
        edits.append(scan(copy, filled["auto"], "auto"))
    auto.edit = best(edits)
    if checkov:
        print(f"  {name}: checkov ...", flush=True)
        cmd = [checkov, "-d", repo, "--framework", "kubernetes", "--quiet", "--compact", "-o", "json"]
        auto.checkov = best([run(cmd, cwd=work)[1] for _ in range(runs)])
    shutil.rmtree(copy, ignore_errors=True)
    return rows


def leak_files(repo: str) -> list[str]:
    """5 neighbouring files of one app, a SOPS Secret among them: a typical small commit."""
    files = [f for f in yaml_files(repo) if visible(repo, f)]
    first_sops = next((i for i, f in enumerate(files) if f.endswith(".sops.yaml")), 2)
    return files[max(0, first_sops - 2):][:5]


def precommit(repo: str, runs: int, work: str) -> Timing:
    """`posture leaks` as the hook calls it: from the repo's root, the staged files as relative paths."""
    files = [os.path.relpath(f, repo) for f in leak_files(repo)]
    env = dict(os.environ, XDG_CACHE_HOME=tempfile.mkdtemp(prefix="cache-", dir=work))
    timings = []
    for _ in range(runs):
        proc, timing = run([sys.executable, "-m", "scanner", "leaks", "-q", *files], cwd=repo, env=env)
        if proc.returncode not in (0, 1):
            raise RuntimeError(f"posture leaks exited {proc.returncode}: {proc.stderr[-2000:]}")
        timings.append(timing)
    return best(timings)


def ensure_checkov() -> str | None:
    exe = os.path.join(CHECKOV_VENV, "bin", "checkov")
    if os.path.exists(exe):
        return exe
    print("installing checkov into benchmarks/.checkov-venv (once) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", CHECKOV_VENV], check=True, timeout=300)
        subprocess.run([os.path.join(CHECKOV_VENV, "bin", "pip"), "install", "-q", "checkov"], check=True, timeout=1800)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"checkov not available: {exc}")
        return None
    return exe if os.path.exists(exe) else None


def machine() -> str:
    with open("/proc/cpuinfo") as fh:
        model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "?")
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{len(os.sched_getaffinity(0))} cores {model}, {mem_gib:.0f} GiB, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def loadavg() -> str:
    with open("/proc/loadavg") as fh:
        return fh.read().strip()


def cell(t: Timing | None, width: int = 19) -> str:
    if t is None:
        return f"{'-':>{width}}"
    if t.failed:
        return f"{'failed: ' + t.failed.split(':')[0]:>{width}}"
    mib = f"{t.peak_mib:.0f}" if t.peak_mib is not None else "?"
    return f"{f'{t.wall_s:.2f} ({t.cpu_s:.1f}) {mib}':>{width}}"


def ratio(a: Timing | None, b: Timing | None) -> str:
    """a / b in wall time (and in cpu time)."""
    if not (a and b) or a.failed or b.failed:
        return "-"
    return f"{a.wall_s / b.wall_s:.1f}x ({a.cpu_s / b.cpu_s:.1f}x)"


def print_table(rows: list[Row]) -> None:
    print("cells: wall s (cpu s) peak MiB; ratios: of wall times (of cpu times). floor: the parse floor; "
          "edit: warm after editing one app")
    print(f"{'input':<16}{'yaml':>6}{'floor':>14}  {'mode':<7}{'cold':>19}{'warm':>19}{'edit':>19}"
          f"{'edit/floor':>13}{'checkov':>19}{'checkov/cold':>14}")
    for r in rows:
        floor = f"{r.floor.wall_s:.2f} ({r.floor.cpu_s:.2f})" if r.floor else "-"
        print(f"{r.input:<16}{r.yaml_files:>6}{floor:>14}  {r.mode:<7}{cell(r.cold)}{cell(r.warm)}{cell(r.edit)}"
              f"{ratio(r.edit, r.floor):>13}{cell(r.checkov)}{ratio(r.checkov, r.cold):>14}")
    for r in rows:
        for state in ("cold", "warm", "edit"):
            t = getattr(r, state)
            if t is not None and t.failed:
                print(f"  {r.input} --kustomize {r.mode} {state} failed, {t.failed}")
    print("\nphases of the best run, s (discover/parse/inventory/checks/report model/"
          "rest: start-up, imports, writing the six formats, exit):")
    keys = ("discover", "parse", "inventory", "checks", "report")
    for r in rows:
        for state in ("cold", "warm", "edit"):
            t = getattr(r, state)
            if t is not None and not t.failed:
                rest = t.wall_s - sum(t.phases.get(k, 0) for k in keys)
                print(f"  {r.input:<16}{r.mode:<7}{state:<5}" + "/".join(f"{t.phases.get(k, 0):.2f}" for k in keys)
                      + f"/{rest:.2f}")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def print_targets(rows: list[Row], hook: Timing | None) -> None:
    by_input = {r.input: r for r in rows if r.mode == "auto" and not (r.cold.failed or r.edit.failed)}
    print("\ntargets (issue 19):")
    target = by_input.get("target")
    if target:
        limit = 3 * target.floor.wall_s
        print(f"  warm rescan after editing one app <= 3x parse floor (target): {target.edit.wall_s:.2f} s vs "
              f"3 x {target.floor.wall_s:.2f} = {limit:.2f} s: {verdict(target.edit.wall_s <= limit)} "
              f"(cpu: {target.edit.cpu_s:.2f} s vs 3 x {target.floor.cpu_s:.2f} s)")
        if target.checkov:
            speedup = target.checkov.wall_s / target.cold.wall_s
            print(f"  cold scan >= 2x faster than checkov (target): checkov {target.checkov.wall_s:.2f} s / cold "
                  f"{target.cold.wall_s:.2f} s = {speedup:.2f}x: {verdict(speedup >= 2)} (stretch 5x: "
                  f"{verdict(speedup >= 5)}; cpu: {target.checkov.cpu_s / target.cold.cpu_s:.2f}x)")
        else:
            print("  cold scan vs checkov: checkov not run")
    else:
        print("  target repo absent (or its scan failed): the parse-floor and checkov targets are not measured")
    big = by_input.get("synthetic 100x")
    if big:
        mib = big.cold.peak_mib or float("nan")
        print(f"  100x cold < 120 s: {big.cold.wall_s:.1f} s: {verdict(big.cold.wall_s < 120)}; "
              f"< 1.5 GiB: {mib / 1024:.2f} GiB: {verdict(mib < 1536)}")
    else:
        print("  100x repo not run (or its scan failed)")
    if hook:
        print(f"  pre-commit hook on a 5-file commit < 0.3 s: {hook.wall_s:.2f} s: {verdict(hook.wall_s < 0.3)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement, the best is kept (default 3)")
    ap.add_argument("--runs-100x", type=int, default=1, help="runs on the 100x repo (default 1)")
    ap.add_argument("--scales", default="10,100", help="synthetic repo sizes, comma-separated ('' for none)")
    ap.add_argument("--no-checkov", action="store_true", help="skip the checkov comparison")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    checkov = None if args.no_checkov else ensure_checkov()
    print(f"gitops-posture bench, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, commit "
          + subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip())
    print(f"machine: {machine()}")
    print(f"load before: {loadavg()}")
    if checkov:
        print("checkov " + subprocess.run([checkov, "--version"], capture_output=True, text=True).stdout.strip())
    print("The machine may be shared (other processes take cores): wall times are noisy; cpu times less so.")
    # A regular install (`pip install .`) ships bytecode; an editable one under PYTHONDONTWRITEBYTECODE
    # would compile the whole program at every start. Measure the program as installed.
    subprocess.run([sys.executable, "-m", "compileall", "-q", "scanner", "checks", "reports"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    inputs = []
    if os.path.isdir(TARGET):
        inputs.append(("target", TARGET, args.runs, ("auto", "binary", "native")))
    else:
        print(f"{TARGET} absent: its rows are skipped")
    work = tempfile.mkdtemp(prefix="bench-")
    try:
        for scale in [int(s) for s in args.scales.split(",") if s.strip()]:
            repo = os.path.join(work, "repos", f"synthetic-{scale}x")
            synth.generate(repo, scale)
            inputs.append((f"synthetic {scale}x", repo, args.runs_100x if scale >= 100 else args.runs, ("auto",)))
        rows: list[Row] = []
        for name, repo, runs, modes in inputs:
            rows += measure(name, repo, runs, work, checkov, modes)
        hook_repo = inputs[0][1] if inputs else None
        hook = precommit(hook_repo, max(args.runs, 5), work) if hook_repo else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print_table(rows)
    if hook:
        print(f"\npre-commit: `posture leaks` on 5 files of {inputs[0][0]}: {hook.wall_s:.2f} s "
              f"(cpu {hook.cpu_s:.2f} s, {hook.peak_mib or 0:.0f} MiB)")
    print_targets(rows, hook)
    print(f"\nload after: {loadavg()}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": [asdict(r) for r in rows], "precommit": asdict(hook) if hook else None}, fh, indent=2)


if __name__ == "__main__":
    main()
