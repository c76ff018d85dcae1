"""A serving process's memory: what start-up leaves alive is frozen (the garbage collected first),
and what later work frees goes back to the system once the process is quiet."""

from __future__ import annotations

import gc
import weakref

from irbot.perf import MemoryGiveBack, freeze_start_up_objects


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_garbage_is_collected_and_what_lives_is_frozen() -> None:
    garbage, alive = _Node(), _Node()
    gone = weakref.ref(garbage)
    del garbage
    try:
        freeze_start_up_objects()
        assert gone() is None
        assert gc.get_freeze_count() > 0
        assert not any(obj is alive for obj in gc.get_objects())  # frozen objects are no generation's
    finally:
        gc.unfreeze()
    assert any(obj is alive for obj in gc.get_objects())


# --- giving memory back once the process is quiet ------------------------------------------------------

class _Process:
    """CPU seconds the process has used, moved by the test; and the trims asked for."""

    def __init__(self) -> None:
        self.cpu = 10.0
        self.trimmed: list[int] = []

    def trim(self, pad: int) -> int:
        self.trimmed.append(pad)
        return 1


def give_back(process: _Process) -> MemoryGiveBack:
    return MemoryGiveBack(busy_after=0.02, quiet_below=0.01, cpu_time=lambda: process.cpu, trim=process.trim)


def test_memory_is_given_back_once_quiet_after_work() -> None:
    process = _Process()
    watch = give_back(process)
    assert not watch.tick()  # the first look only learns where the CPU clock stands
    process.cpu += 0.5  # a declare
    assert not watch.tick()  # still busy during that interval
    assert watch.tick()  # a quiet interval after the work: memory goes back, all of it (pad 0)
    assert process.trimmed == [0]
    assert not watch.tick() and not watch.tick()  # quiet with nothing done since: nothing to give back
    assert process.trimmed == [0]  # still the one trim


def test_small_work_adds_up_before_a_trim() -> None:
    process = _Process()
    watch = give_back(process)
    watch.tick()
    for _ in range(3):  # background loops: 5 ms now and then, each interval quiet
        process.cpu += 0.005
        assert not watch.tick()
    process.cpu += 0.006
    assert watch.tick()  # 21 ms of work in all, the interval itself quiet
    assert process.trimmed == [0]


def test_never_trims_while_busy_or_where_the_c_library_cannot() -> None:
    process = _Process()
    watch = give_back(process)
    watch.tick()
    for _ in range(5):
        process.cpu += 0.2
        assert not watch.tick()
    assert process.trimmed == []
    without = MemoryGiveBack(cpu_time=lambda: process.cpu, trim=None)
    assert not without.tick()
    process.cpu += 1.0
    assert not without.tick()
    assert not without.tick()  # quiet after work, yet nothing to trim with


def test_glibc_malloc_trim_is_found_here() -> None:
    # The machines irbot runs on (Debian's glibc, as in the image) have it; elsewhere it is None.
    trim = MemoryGiveBack().trim
    assert trim is not None
    trim(0)
