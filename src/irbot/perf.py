"""Small performance tools shared by the bulk paths (verify, post-mortem)."""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


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
    start-up left as garbage is collected first, so that freezing keeps only what is alive.
    """
    gc.collect()
    gc.freeze()
