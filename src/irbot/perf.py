"""Small performance tools: for the bulk paths (verify, post-mortem) and for a serving process's
memory."""

from __future__ import annotations

import gc
import importlib
import linecache
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around a synchronous bulk step.

    With 100,000 records alive, every few thousand allocations set off a collection that walks all
    of them: a third of verifying a chain. The records hold no cycles and no other coroutine runs
    inside a synchronous block, so collection simply waits until it ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def freeze_start_up_objects() -> None:
    """Once a serving process has started: move everything alive into the collector's permanent
    generation, so that no later full collection walks it again.

    Start-up leaves about 126,000 objects (SQLModel and pydantic models, SQLAlchemy's mappers, Bolt,
    the templates) that live as long as the process. A full collection walked all of them, 13–36 ms
    with the event loop stopped, and one fell among the first commands a new process acked. What
    start-up left as garbage (and the caches importing filled) is freed first, so that freezing
    keeps only what is alive.
    """
    forget_start_up_caches()
    gc.collect()
    gc.freeze()


def forget_start_up_caches() -> None:
    """Empty the caches that importing fills and serving hardly uses: source lines read for
    warnings, the ``re`` module's cache of patterns compiled by name, and the import system's
    directory listings (a module imported later lists its folder again). About 0.3 MiB of an
    idle server; what serving needs fills again as it is used."""
    linecache.clearcache()
    re.purge()
    sys.path_importer_cache.clear()
    importlib.invalidate_caches()


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    import ctypes.util  # only a serving process needs it

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


@dataclass
class MemoryGiveBack:
    """Once a serving process goes quiet after some work, hands the memory that work freed back to
    the system.

    glibc keeps freed heap pages for the next allocation: after a declare, about 1 MiB of them stayed
    resident in an idle server for good. ``malloc_trim(0)`` returns them (it takes well under a
    millisecond on irbot's heap). Quiet and busy are told from the process's CPU time (every thread
    counts), so nothing on the request paths has to report activity: ``tick`` is called every few
    seconds and trims when the last interval was quiet and enough work was done since the last trim.
    """

    busy_after: float = 0.02  # CPU seconds of work since the last trim that make a trim worth it
    quiet_below: float = 0.01  # CPU seconds in one interval that still count as quiet
    cpu_time: Callable[[], float] = time.process_time
    trim: Callable[[int], int] | None = field(default_factory=_malloc_trim)
    _last_cpu: float | None = None
    _worked: float = 0.0

    def tick(self) -> bool:
        """Look at the CPU time once more; True when this tick gave memory back."""
        now = self.cpu_time()
        used = 0.0 if self._last_cpu is None else now - self._last_cpu
        self._last_cpu = now
        self._worked += used
        if self.trim is None or used >= self.quiet_below or self._worked < self.busy_after:
            return False
        self.trim(0)
        self._worked = 0.0
        return True

    async def run_tick(self) -> None:
        self.tick()
