"""How the platform's processes use Python's cyclic garbage collector, in one place.

Almost everything they allocate is freed by reference counting; the collector only finds
cycles. What it costs is scanning: every full collection walks every tracked object. So what
lives as long as the process is frozen out of its sight, young collections run less often than
CPython's default, and it is off while a cycle close builds millions of short-lived objects.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000
"""Allocations between young collections (CPython's default, 700, runs one thousands of times a
second under the per-record objects of a busy consumer)."""

_pauses = 0
_was_enabled = False


def tune_for_service() -> None:
    """Once started: what a service built (modules, models, routes) lives as long as it, so scan it no more."""
    gc.collect()
    freeze_long_lived()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)


def freeze_long_lived() -> None:
    """Everything alive now lives until the process ends: full collections need not scan it again."""
    gc.freeze()


@contextmanager
def paused() -> Iterator[None]:
    """Off for the block (nesting allowed): a close's millions of objects die by refcount, scanning them is waste."""
    global _pauses, _was_enabled
    if _pauses == 0:
        _was_enabled = gc.isenabled()
        gc.disable()
    _pauses += 1
    try:
        yield
    finally:
        _pauses -= 1
        if _pauses == 0 and _was_enabled:
            gc.enable()
