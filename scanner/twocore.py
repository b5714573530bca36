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
import sys
import time

# The C signal module, not `signal`: this module loads before the console script's first fork, and
# `signal` would first import enum and functools (~3 ms of a start-up before the second core gets
# work). The constants and calls are the same, as plain ints.
import _signal as signal
TYPE_CHECKING = False  # (not typing's: importing typing costs ~3 ms, and this module loads before the
if TYPE_CHECKING:      # console script's first fork; the annotations are strings)
    from typing import Callable, Iterable, Sequence

_MISSING = object()
MAX_TASKS = 16000  # the task pipe is filled before the fork and must not block: 4 bytes a task < 64 KiB


def can_fork() -> bool:
    # (threading not loaded: no thread but this one was started through it. Not imported here, for the
    # same reason as `signal` above.)
    threading = sys.modules.get("threading")
    return hasattr(os, "fork") and (threading is None or threading.active_count() == 1)


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


def _encode(answers, codec: str) -> bytes:
    if codec == "marshal":
        try:
            return b"M" + marshal.dumps(answers)
        except ValueError:  # an object marshal cannot carry: fall back to pickle
            pass
    import pickle  # (imported when first needed: the parse, before the fork, sends marshal data)

    return b"P" + pickle.dumps(answers, protocol=pickle.HIGHEST_PROTOCOL)


def _decode(payload) -> object:
    body = memoryview(payload)[1:]
    if payload[0] == 77:  # b"M"
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
            inbox = _Inbox(r)
            _take(tr, tasks, run, ours.__setitem__, between=inbox.drain)
        only = [run_parent_only(t) for t in parent_only]
        if pid > 0:
            os.close(tr)
            tr = r = -1
            theirs = _collect(pid, inbox)
            pid = -1
    finally:
        if pid > 0:  # interrupted or failed: do not leave the helper behind
            _stop(pid, tr, r)
    return _assemble(tasks, run, ours, theirs), only


def _assemble(tasks: Sequence, run: Callable, ours: dict, theirs: dict) -> list:
    out = []
    for i, task in enumerate(tasks):
        got = ours.get(i, _MISSING)
        if got is _MISSING:
            got = theirs.get(i, _MISSING)
        if got is _MISSING:
            got = run(task)  # not done, or done by a helper that failed: here, with any exception raised
        out.append(got)
    return out


def _close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:  # already closed
                pass


def _stop(pid: int, *fds: int) -> None:
    """Stop a helper and close our ends of its pipes (an interrupted or abandoned share). SIGTERM, which
    an early helper answers by stopping after the step in hand (a subprocess of that step is reaped, not
    orphaned); SIGKILL when it has not gone within a second."""
    _close(*fds)
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 1.0
        while os.waitpid(pid, os.WNOHANG)[0] == 0:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.0005)
    except OSError:  # gone already
        pass


def _fork() -> int:
    """os.fork() with Ctrl-C held back across it: the helper must never run the parent's SIGINT handler
    (it ignores SIGINT; the parent handles it and kills the helper)."""
    can_mask = hasattr(signal, "pthread_sigmask")
    if can_mask:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        pid = os.fork()
    except OSError:
        if can_mask:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        raise
    if pid == 0:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a SIGINT pending from the window is dropped
    if can_mask:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    return pid


def _fork_helper(tasks: Sequence, run: Callable, codec: str) -> tuple[int, int, int]:
    """(pid, task-pipe read end, answer-pipe read end); pid -1 when the fork is not possible."""
    fds: list[int] = []
    try:
        tr, tw = os.pipe()
        fds += [tr, tw]
        os.write(tw, b"".join(i.to_bytes(4, "little") for i in range(len(tasks))))  # < 64 KiB: never blocks
        os.close(fds.pop())
        r, w = _answer_pipe()
        fds += [r, w]
        pid = _fork()
    except OSError:
        for fd in fds:
            os.close(fd)
        return -1, -1, -1
    if pid == 0:  # the helper: take tasks, send answers, leave without running the parent's clean-up
        code = 1
        try:
            os.close(r)
            outbox = _Outbox(w, codec)
            _take(tr, tasks, run, outbox.put)
            outbox.close()
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, tr, r


def _take(tr: int, tasks: Sequence, run: Callable, answer: Callable[[int, object], None], parent: int = 0,
          between: Callable[[], None] | None = None) -> None:
    """Run tasks while the task pipe has numbers, handing each result to `answer(i, result)`. A task
    that raises is left unanswered (the parent runs it again at the end and the exception surfaces
    there, in task order). `parent`: in a helper, the parent's pid; once the parent is gone (we were
    re-parented) there is nobody to answer. `between`: called after each task (the parent reads the
    helper's answers meanwhile)."""
    while True:
        if parent and (os.getppid() != parent or _stop_flag):
            return
        tok = os.read(tr, 4)
        if len(tok) != 4:
            return
        i = int.from_bytes(tok, "little")
        if i >= len(tasks):  # (an early helper planned more tasks than the parent knows: not ours to run)
            continue
        try:
            result = run(tasks[i])
        except Exception:
            continue
        answer(i, result)
        if between is not None:
            between()


def _collect(pid: int, inbox: _Inbox) -> dict:
    """Every answer the helper sent (it may have died after some: those stand, the rest are redone).
    The helper's last act is to close its end, so the answers are complete before it has exited: its
    exit (freeing its copied pages takes a few ms) is not waited for here, it is reaped later."""
    try:
        return inbox.finish()
    finally:
        _exited.append(pid)
        reap_helpers()


_exited: list[int] = []  # helpers done with their work, perhaps still exiting


def reap_helpers(wait: bool = False) -> None:
    """Collect the exit status of finished helpers (no zombies left behind); `wait`: for all of them."""
    for pid in list(_exited):
        try:
            done, _ = os.waitpid(pid, 0 if wait else os.WNOHANG)
        except ChildProcessError:  # already collected
            done = pid
        if done:
            _exited.remove(pid)


# ---- answers, streamed ----------------------------------------------------------------------------
# The helper sends each answer as soon as its task is done, one frame each (task number, length,
# payload), and the parent decodes them between its own tasks. So neither the helper's encoding nor
# the parent's decoding waits for the end of the share: both happen while the other process works.

_FRAME_HEAD = 12  # 4 bytes task number, 8 bytes length, little-endian


def _answer_pipe() -> tuple[int, int]:
    r, w = os.pipe()
    try:  # Linux: room for ~1 MiB of answers while the parent is busy with a long task of its own
        import fcntl

        fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass
    return r, w


class _Outbox:
    """The helper's end: frames are written as the pipe takes them, never blocking a task; what the
    pipe cannot take yet waits here."""

    def __init__(self, fd: int, codec: str):
        self.fd, self.codec = fd, codec
        self.pending: list[memoryview] = []
        self.broken = False
        os.set_blocking(fd, False)

    def put(self, i: int, result) -> None:
        try:
            payload = _encode(result, self.codec)
        except Exception:  # an answer that cannot be sent: the parent redoes the task
            return
        self.pending.append(memoryview(i.to_bytes(4, "little") + len(payload).to_bytes(8, "little") + payload))
        self._flush()

    def _flush(self) -> None:
        while self.pending and not self.broken:
            view = self.pending[0]
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                return
            except OSError:  # the parent is gone or gave up on us
                self.broken = True
                return
            if n < len(view):
                self.pending[0] = view[n:]
            else:
                self.pending.pop(0)

    def close(self) -> None:
        os.set_blocking(self.fd, True)
        self._flush()
        try:
            os.close(self.fd)
        except OSError:
            pass


class _Inbox:
    """The parent's end: `drain` takes whatever has arrived without waiting; `finish` reads to the end."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buf = bytearray()
        self.got: dict = {}
        os.set_blocking(fd, False)

    def drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 20)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buf += chunk
        self._frames()

    def finish(self) -> dict:
        try:
            os.set_blocking(self.fd, True)
            while True:
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    break
                self.buf += chunk
                self._frames()
        finally:
            os.close(self.fd)
        return self.got  # (a frame cut short by the helper's death is not an answer)

    def _frames(self) -> None:
        buf, pos, end = self.buf, 0, len(self.buf)
        with memoryview(buf) as view:
            while end - pos >= _FRAME_HEAD:
                size = int.from_bytes(view[pos + 4:pos + _FRAME_HEAD], "little")
                if end - pos - _FRAME_HEAD < size:
                    break
                i = int.from_bytes(view[pos:pos + 4], "little")
                try:
                    self.got[i] = _decode(view[pos + _FRAME_HEAD:pos + _FRAME_HEAD + size])
                except Exception:  # not decodable: the parent redoes the task
                    pass
                pos += _FRAME_HEAD + size
        if pos:
            del buf[:pos]


class EarlyHelper:
    """A helper forked before the tasks are known: it works out the task list itself (`plan`), sends
    its description to this process, and starts on the tasks; this process joins in when it is ready
    (`finish`). The CLI forks one first thing (scanner.readahead), so the repo is being discovered and
    parsed while this process is still loading its own modules.

    The same guarantees as `share`: answers in task order, and whatever the helper did not answer is run
    here. `finish` must be given the tasks the description implies (the same list the helper runs)."""

    def __init__(self, pid: int, plan_r: int, task_r: int, answer_r: int, codec: str):
        self.pid, self._plan_r, self._task_r, self._answer_r, self._codec = pid, plan_r, task_r, answer_r, codec
        self._plan = _MISSING

    def plan(self):
        """The helper's description of its tasks (waits for it), or None when the helper failed."""
        if self._plan is _MISSING:
            self._plan = None
            try:
                with os.fdopen(self._plan_r, "rb") as fh:
                    payload = fh.read()
                if payload:
                    self._plan = _decode(payload)
            except Exception:  # a helper that died mid-message: the caller does the work itself
                self._plan = None
            finally:
                self._plan_r = -1
        return self._plan

    def finish(self, tasks: Sequence, run: Callable) -> list:
        """[run(t) for t in tasks], sharing with the helper what it has not done yet."""
        ours: dict = {}
        theirs: dict = {}
        if self.plan() is None:
            self.cancel()
        try:
            if self.pid > 0:
                inbox = _Inbox(self._answer_r)
                inbox.drain()  # (answers sent while this process was loading)
                _take(self._task_r, tasks, run, ours.__setitem__, between=inbox.drain)
                os.close(self._task_r)
                self._task_r = self._answer_r = -1
                theirs = _collect(self.pid, inbox)
                self.pid = -1
        finally:
            self.cancel()
        return _assemble(tasks, run, ours, theirs)

    def cancel(self) -> None:
        """Stop the helper (unused, or interrupted) and release its pipes. Safe to call twice."""
        if self.pid > 0:
            _stop(self.pid, self._plan_r, self._task_r, self._answer_r)
        else:
            _close(self._plan_r, self._task_r, self._answer_r)
        self.pid = self._plan_r = self._task_r = self._answer_r = -1


def fork_early(plan: Callable[[], tuple[object, Sequence]], run: Callable, codec: str = "marshal"
               ) -> EarlyHelper | None:
    """Fork a helper that calls `plan()` -> (description, tasks), sends the description, then runs tasks
    as `share`'s helper does. None when no helper can be forked (one core, threads running, no fork)."""
    if cores() < 2 or not can_fork():
        return None
    fds: list[int] = []
    try:
        for make in (os.pipe, os.pipe, _answer_pipe):
            fds += make()
        plan_r, plan_w, task_r, task_w, answer_r, answer_w = fds
        pid = _fork()
    except OSError:
        for fd in fds:
            os.close(fd)
        return None
    if pid == 0:
        _early_helper(plan, run, codec, plan_r, plan_w, task_r, task_w, answer_r, answer_w)
    for fd in (plan_w, task_w, answer_w):
        os.close(fd)
    return EarlyHelper(pid, plan_r, task_r, answer_r, codec)


def _early_helper(plan, run, codec, plan_r, plan_w, task_r, task_w, answer_r, answer_w) -> None:
    code = 1
    try:
        import gc

        gc.disable()  # a short-lived process building trees: the collector would find nothing
        # Stopped by the parent (EarlyHelper.cancel): finish the step in hand, then leave. Dying at once
        # could orphan a subprocess of the step (discovery runs git) and nobody would reap it.
        signal.signal(signal.SIGTERM, _stop_requested)
        parent = os.getppid()
        os.close(plan_r)
        os.close(answer_r)
        try:
            description, tasks = plan()
            if len(tasks) > MAX_TASKS:
                raise ValueError(f"at most {MAX_TASKS} tasks")
            payload = _encode(description, codec)
        except Exception:  # no plan: the parent sees an empty message and does everything itself
            return
        if _stop_flag:
            return
        os.write(task_w, b"".join(i.to_bytes(4, "little") for i in range(len(tasks))))  # < 64 KiB
        os.close(task_w)
        # A description over the pipe's buffer would block us until the parent reads it, and the parent
        # may still be loading: a thread sends it while we start on the tasks.
        import threading

        sender = threading.Thread(target=_send, args=(plan_w, payload), daemon=True)
        sender.start()
        outbox = _Outbox(answer_w, codec)
        _take(task_r, tasks, run, outbox.put, parent=parent)
        sender.join()
        outbox.close()
        code = 0
    finally:
        os._exit(code)


_stop_flag: list = []  # (in an early helper: set once the parent asked it to stop)


def _stop_requested(signum, frame):
    _stop_flag.append(signum)


def _send(fd: int, payload: bytes) -> None:
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
    except OSError:  # the parent is gone or gave up on us
        pass
