"""The two-process work sharing (scanner/twocore.py) used by the parse, the checks and the report writing:
same answers as a serial run, whatever the helper process does."""
from __future__ import annotations

import os
import threading
import time

import pytest

from scanner import twocore

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or twocore.cores() < 2, reason="needs fork and 2 cores")


def _slow_square(t):
    time.sleep(0.005)  # long enough for the helper to start and take its share
    return t * t, os.getpid()


def test_answers_come_back_in_task_order_from_both_processes():
    assert twocore.can_fork(), f"threads left running by an earlier test: {threading.enumerate()}"
    tasks = list(range(100))
    answers, _ = twocore.share(tasks, _slow_square)
    assert [a[0] for a in answers] == [t * t for t in tasks]
    pids = {a[1] for a in answers}
    assert os.getpid() in pids or len(pids) == 1  # the parent takes tasks too
    assert len(pids) == 2, "a second process answered part of the tasks"


def test_serial_when_not_parallel_or_when_threads_run():
    answers, _ = twocore.share(list(range(20)), lambda t: os.getpid(), parallel=False)
    assert set(answers) == {os.getpid()}
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert not twocore.can_fork()
        answers, _ = twocore.share(list(range(20)), lambda t: os.getpid())
        assert set(answers) == {os.getpid()}, "no fork while another thread runs"
    finally:
        stop.set()
        t.join()


def test_a_task_that_raises_raises_in_the_caller_as_in_a_serial_run():
    def run(t):
        if t == 37:
            raise ValueError("task 37 is broken")
        return t

    with pytest.raises(ValueError, match="task 37"):
        twocore.share(list(range(80)), run)


def test_work_of_a_helper_that_dies_is_redone_here():
    parent = os.getpid()

    def run(t):
        if os.getpid() != parent:
            os._exit(3)  # the helper dies on its first task
        return t + 1

    answers, _ = twocore.share(list(range(50)), run)
    assert answers == [t + 1 for t in range(50)]


def test_answers_that_cannot_be_sent_are_recomputed():
    parent = os.getpid()

    def run(t):
        return (lambda: t) if os.getpid() != parent else t  # a lambda cannot be pickled

    answers, _ = twocore.share(list(range(30)), run)
    assert [a() if callable(a) else a for a in answers] == list(range(30))
    assert all(not callable(a) for a in answers)


def test_parent_only_tasks_and_jobs_run_in_this_process():
    seen = []
    answers, only = twocore.share(list(range(10)), lambda t: t, parent_only=["x", "y"],
                                  run_parent_only=lambda t: (t, os.getpid()),
                                  after_fork=[lambda: seen.append(("after_fork", os.getpid()))],
                                  parent_first=[lambda: seen.append(("first", os.getpid())), lambda: 1 / 0])
    assert answers == list(range(10))
    assert only == [("x", os.getpid()), ("y", os.getpid())]
    assert seen == [("after_fork", os.getpid()), ("first", os.getpid())], "a failing warm-up is ignored"


def test_no_helper_is_left_behind_after_an_interrupt():
    parent = os.getpid()

    def run(t):
        if os.getpid() == parent and t > 5:
            raise KeyboardInterrupt
        return t

    before = _children()
    with pytest.raises(KeyboardInterrupt):
        twocore.share(list(range(400)), run)
    assert _children() - before == set()  # (a helper of an earlier test may still be exiting: only new ones count)


def _children() -> set[str]:
    try:
        with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as fh:
            return set(fh.read().split())
    except OSError:
        pytest.skip("no /proc children list")


def test_answers_sent_before_the_helper_died_are_kept():
    """Answers are streamed one by one: what the helper finished before dying is not redone."""
    parent = os.getpid()

    def run(t):
        if os.getpid() != parent and t >= 30:
            os._exit(4)
        time.sleep(0.003)
        return t * 3, os.getpid()

    answers, _ = twocore.share(list(range(60)), run)
    assert [a for a, _ in answers] == [t * 3 for t in range(60)]
    done_by_helper = [t for t, (_, pid) in enumerate(answers) if pid != parent]
    assert done_by_helper, "the helper's answers from before its death were used"
    assert all(t < 30 for t in done_by_helper)


def test_answers_larger_than_the_pipe_arrive_whole():
    big = 3 * 1024 * 1024  # several times the pipe's buffer: written in pieces, never interleaved

    def run(t):
        time.sleep(0.003)
        return bytes([t]) * big if t % 3 == 0 else t

    answers, _ = twocore.share(list(range(12)), run, codec="marshal")
    for t, a in enumerate(answers):
        assert a == (bytes([t]) * big if t % 3 == 0 else t)
