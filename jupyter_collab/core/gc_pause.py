"""Pausing the cyclic garbage collector while a big context is built or dumped."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_GC_LOCK = threading.Lock()
_GC_PAUSES = 0
_GC_WAS_ENABLED = False


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a big context is built or dumped.

    Validating a context of thousands of entries makes hundreds of thousands of
    objects that form no cycles; with the collector on, the allocations trigger
    collections that re-scan the growing heap again and again (most of the time
    a 10,000-entry load took). When the pause ends, the objects made meanwhile
    would still be scanned by the next young collections (one full pass over
    them, about a third of a 10,000-entry load), so they are moved to the
    oldest generation at once (``gc.freeze()`` + ``gc.unfreeze()``: no scan, only
    list splicing), as their survival would do anyway; they are scanned with the
    rest of the heap in the next full collection, and freed by reference counting
    when dropped. That step is skipped when something else froze objects (a
    pre-fork server), whose frozen set must stay as it is.

    Nested and concurrent pauses (the server parses in worker threads) are
    counted: the collector is enabled again, if it was enabled before the first
    pause, when the last one ends.
    """
    global _GC_PAUSES, _GC_WAS_ENABLED
    with _GC_LOCK:
        if _GC_PAUSES == 0:
            _GC_WAS_ENABLED = gc.isenabled()
            gc.disable()
        _GC_PAUSES += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PAUSES -= 1
            if _GC_PAUSES == 0:
                if gc.get_freeze_count() == 0:
                    gc.freeze()
                    gc.unfreeze()
                if _GC_WAS_ENABLED:
                    gc.enable()
