"""Run a helper binary (sops) with a deadline and a cap on what it may print.

`subprocess.run(capture_output=True, timeout=...)` keeps everything the child writes: a binary that
floods stdout (13 GB was seen) fills memory before the timeout. Here output past the cap, or a
child still running at the deadline, gets the child killed, and only the first bytes are kept."""
from __future__ import annotations

import os
import selectors
import subprocess
import time
from dataclasses import dataclass


@dataclass
class Bounded:
    returncode: int | None
    stdout: bytes
    stderr: bytes
    problem: str | None = None  # "timeout" or "flood": the child was killed


def run_bounded(cmd: list[str], *, timeout: float, max_bytes: int, want_stdout: bool = True, **popen) -> Bounded:
    """Raises OSError when the binary cannot be started."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE if want_stdout else subprocess.DEVNULL,
                            stderr=subprocess.PIPE, **popen)
    streams = [s for s in (proc.stdout, proc.stderr) if s is not None]
    bufs = {s: bytearray() for s in streams}
    deadline = time.monotonic() + timeout
    problem = None
    try:
        with selectors.DefaultSelector() as sel:
            for s in streams:
                sel.register(s, selectors.EVENT_READ)
            while sel.get_map() and problem is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    problem = "timeout"
                    break
                for key, _ in sel.select(remaining):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        sel.unregister(key.fileobj)
                        continue
                    buf = bufs[key.fileobj]
                    buf += chunk
                    if len(buf) > max_bytes:
                        problem = "flood"
                        break
        if problem is None:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                problem = "timeout"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for s in streams:
            s.close()
    return Bounded(None if problem else proc.returncode, bytes(bufs.get(proc.stdout, b""))[:max_bytes],
                   bytes(bufs.get(proc.stderr, b""))[:max_bytes], problem)
