"""Freezing what start-up leaves alive: the garbage is collected first, the rest is frozen."""

from __future__ import annotations

import gc
import weakref

from irbot.perf import freeze_start_up_objects


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
