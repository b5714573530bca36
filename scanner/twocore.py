"""Share a list of independent tasks between this process and one forked helper (the 2nd core).

Used by the parse (files), the checks (one task per check) and the report writing (one task per
format). The helper is a fork: it sees the parent's data as it was at the fork (copy-on-write, no
pickling of the inputs) and sends its answers back through a pipe. Tasks are handed out through a
pipe pre-filled with task numbers (4-byte reads from a pipe are atomic), so the faster process takes
more. Answers come back in task order; a task the helper did not answer (it died, the answer could
not be serialised, the task raised) is run again by the parent, so the result, and any exception,
is exactly what a serial run gives.

Forking a process that runs threads is unsafe (a lock held by another thread stays held in the
child), so with threads alive, or without `os.fork`, everything runs here, serially.
"""
from __future__ import annotations

import marshal
import os
import signal
import threading
from typing import Callable, Iterable, Sequence

_MISSING = object()
MAX_TASKS = 16000  # the task pipe is filled before the fork and must not block: 4 bytes a task < 64 KiB


def can_fork() -> bool:
    return hasattr(os, "fork") and threading.active_count() == 1


# A helper forked from a big process comes to hold a copy of much of it: every object it reads gets its
# reference count written, and each page written is copied. Measured on the 100x synthetic repo (a
# ~900 MiB scan): forking for the checks and the report added ~450 MiB for ~10% less time. So a process
# that already holds this much does its later work alone: the memory bound matters more than the core.
FORK_MAX_RSS_MIB = 384


def fork_affordable() -> bool:
    """Whether this process is small enough that a forked helper's copied pages do not matter."""
    return _resident_mib() < FORK_MAX_RSS_MIB


def _resident_mib() -> float:
    try:  # Linux: the current resident size
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576
    except (OSError, ValueError, IndexError):
        pass
    try:  # elsewhere: the peak so far (kilobytes on most systems)
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except (ImportError, OSError):
        return 0.0


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _encode(answers: dict, codec: str) -> bytes:
    if codec == "marshal":
        try:
            return b"M" + marshal.dumps(answers)
        except ValueError:  # an object marshal cannot carry: fall back to pickle
            pass
    import pickle  # (imported when first needed: the parse, before the fork, sends marshal data)

    return b"P" + pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL)


def _decode(payload: bytes) -> dict:
    body = memoryview(payload)[1:]
    if payload[:1] == b"M":
        return marshal.loads(body)
    import pickle

    return pickle.loads(body)


def share(tasks: Sequence, run: Callable, *, parallel: bool = True, codec: str = "pickle",
          parent_first: Iterable[Callable] = (), parent_only: Sequence = (),
          run_parent_only: Callable | None = None, after_fork: Iterable[Callable] = ()) -> tuple[list, list]:
    """([run(t) for t in tasks], [run_parent_only(t) for t in parent_only]), computed on two cores
    when `parallel` (and the process can fork), else serially here.

    `parent_first`: jobs the parent does before taking tasks (warm-ups; errors ignored).
    `after_fork`: jobs the parent runs right after the fork, before `parent_first` (may start threads).
    `parent_only`: tasks that must run in this process (they use its threads or subprocesses); run
    after the parent's share of `tasks`, while the helper may still be working."""
    run_parent_only = run_parent_only or run
    pid = -1
    if len(tasks) > MAX_TASKS:
        raise ValueError(f"at most {MAX_TASKS} tasks (group them)")
    if parallel and tasks and cores() > 1 and can_fork():
        pid, tr, r = _fork_helper(tasks, run, codec)
    ours: dict = {}
    theirs: dict = {}
    try:
        for job in list(after_fork) + list(parent_first):
            try:
                job()
            except Exception:  # a warm-up only saves time; the real call later reports any error
                pass
        if pid > 0:
            _take(tr, tasks, run, ours)
        only = [run_parent_only(t) for t in parent_only]
        if pid > 0:
            os.close(tr)
            tr = -1
            theirs = _collect(pid, r)
            pid = -1
    finally:
        if pid > 0:  # interrupted or failed: do not leave the helper behind
            for fd in (tr, r):
                try:
                    os.close(fd)
                except OSError:  # already closed
                    pass
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
    out = []
    for i, task in enumerate(tasks):
        got = ours.get(i, _MISSING)
        if got is _MISSING:
            got = theirs.get(i, _MISSING)
        if got is _MISSING:
            got = run(task)  # not done, or done by a helper that failed: here, with any exception raised
        out.append(got)
    return out, only


def _fork_helper(tasks: Sequence, run: Callable, codec: str) -> tuple[int, int, int]:
    """(pid, task-pipe read end, answer-pipe read end); pid -1 when the fork is not possible."""
    fds: list[int] = []
    try:
        tr, tw = os.pipe()
        fds += [tr, tw]
        os.write(tw, b"".join(i.to_bytes(4, "little") for i in range(len(tasks))))  # < 64 KiB: never blocks
        os.close(fds.pop())
        r, w = os.pipe()
        fds += [r, w]
        pid = os.fork()
    except OSError:
        for fd in fds:
            os.close(fd)
        return -1, -1, -1
    if pid == 0:  # the helper: take tasks, send answers, leave without running the parent's clean-up
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and kills us
            os.close(r)
            mine: dict = {}
            _take(tr, tasks, run, mine)
            try:
                payload = _encode(mine, codec)
            except Exception:  # an answer that cannot be sent: the parent redoes every task we took
                payload = _encode({}, codec)
            with os.fdopen(w, "wb") as fh:
                fh.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, tr, r


def _take(tr: int, tasks: Sequence, run: Callable, into: dict) -> None:
    """Run tasks while the task pipe has numbers. A task that raises is left unanswered (the parent
    runs it again at the end and the exception surfaces there, in task order)."""
    while True:
        tok = os.read(tr, 4)
        if len(tok) != 4:
            return
        i = int.from_bytes(tok, "little")
        try:
            into[i] = run(tasks[i])
        except Exception:
            continue


def _collect(pid: int, r: int) -> dict:
    with os.fdopen(r, "rb") as fh:
        payload = fh.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0 or not payload:
        return {}
    try:
        return _decode(payload)
    except Exception:
        return {}
