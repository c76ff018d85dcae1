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
