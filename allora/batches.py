"""Helpers for jobs that work through many rows a batch at a time."""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run a batch with Python's cyclic garbage collector paused, and resume it after.

    A batch builds tens of thousands of short-lived objects (model instances, rows, prices);
    each allocation threshold crossed then starts a collection that walks every object still
    alive, the batches before included, so a long run spends a growing share of its time
    collecting (about 0.8 s of a 6 s monthly run at 10,000 agreements). Reference counting
    still frees what a batch drops; only reference cycles wait, and at most one batch's worth,
    for the first collection after it. A collector already paused (by a caller) stays paused."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
