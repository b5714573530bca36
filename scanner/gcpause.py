"""Pause the cyclic garbage collector for a block of work that builds large acyclic structures.

A scan holds the whole repo in memory; each automatic full collection walks every tracked object,
so a phase that allocates millions of objects would walk that heap again and again (measured on the
100x synthetic repo: half of the inventory build, a third of the HTML render). Reference counting
still frees everything as usual; a cycle made meanwhile is only collected later."""
from __future__ import annotations

import gc


class paused:  # noqa: N801  (used as `with paused():`, like a contextlib.contextmanager)
    """`with paused():` the collector is off inside the block, and back as it was after it. (A class,
    not contextlib: this module loads before the console script's first fork.)"""

    __slots__ = ("was",)

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc) -> None:
        if self.was:
            gc.enable()


# A console command loads ~300 modules first; the objects they create (functions, classes, code) trigger
# dozens of collections that find nothing (measured: ~7 ms of a 90 ms start-up). The console script
# holds the collector from its first line until the scan has loaded everything and parsed the repo.
_held_for_startup: list[bool] = []


def hold_for_startup() -> None:
    if gc.isenabled():
        gc.disable()
        _held_for_startup.append(True)


def release_startup() -> None:
    """End `hold_for_startup` (once; a no-op when nothing is held)."""
    if _held_for_startup:
        _held_for_startup.clear()
        gc.enable()
