"""The cycle schedule: closes fall on multiples of the interval since the Unix epoch.

Aligned slots give every instance the same schedule without talking to the others, and a
slot number to record, so a slot is closed once however many instances reach it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def slot_of(moment: datetime, interval_seconds: int) -> int:
    """The slot a moment falls in: the close at the slot's start has happened by then."""
    return int(moment.timestamp()) // interval_seconds


def slot_start(slot: int, interval_seconds: int) -> datetime:
    return datetime.fromtimestamp(slot * interval_seconds, UTC)


def next_close_at(moment: datetime, interval_seconds: int) -> datetime:
    """The first scheduled close strictly after `moment`."""
    return slot_start(slot_of(moment, interval_seconds) + 1, interval_seconds)
