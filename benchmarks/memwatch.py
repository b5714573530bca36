"""Peak memory of a process *tree*: a scan starts kustomize (and sops) processes, so the scanning
process' own max RSS undercounts, and adding up RSS counts shared pages twice.
This samples the proportional set size (PSS: each shared page split among its sharers) of the process
and all its descendants every 10 ms (a child living less than that may be missed) and keeps the
largest sum: the memory the scan takes from the machine. Linux only (/proc/<pid>/smaps_rollup);
elsewhere the peak is None."""
from __future__ import annotations

import os
import subprocess
import threading
import time


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_pss_kib(root: int) -> int:
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += _pss_kib(pid)
        todo += _children(pid)
    return total


def run(cmd: list[str], *, cwd: str | None = None, env: dict | None = None, timeout: float = 900,
        interval: float = 0.01) -> tuple[subprocess.CompletedProcess, float | None]:
    """(completed process with captured text output, peak PSS of its tree in MiB or None)."""
    if not os.path.exists("/proc/self/smaps_rollup"):
        return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout), None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env)
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_pss_kib(proc.pid))
            time.sleep(interval)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        done.set()
        watcher.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), peak[0] / 1024
