"""The cycle schedule: closes fall on multiples of the interval since the Unix epoch.

Aligned slots give every instance the same schedule without talking to the others, and a
slot number to record, so a slot is closed once however many instances reach it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime


def slot_of(moment: datetime, interval_seconds: int) -> int:
    """The slot a moment falls in: the close at the slot's start has happened by then."""
    return int(moment.timestamp()) // interval_seconds


def slot_start(slot: int, interval_seconds: int) -> datetime:
    return datetime.fromtimestamp(slot * interval_seconds, UTC)


def next_close_at(moment: datetime, interval_seconds: int) -> datetime:
    """The first scheduled close strictly after `moment`."""
    return slot_start(slot_of(moment, interval_seconds) + 1, interval_seconds)


@dataclass(frozen=True, slots=True)
class ClosedCycle:
    """A cycle's close as recorded: what was decided, when, and how long solving took."""

    cycle_id: str
    trigger: str
    schedule_slot: int | None
    order_date: date
    closed_at: datetime
    requests_considered: int
    requests_placed: int
    quantity_placed: int
    orders: int
    unfulfillable: int
    solve_seconds: float
