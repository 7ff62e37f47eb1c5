"""When to try a failed delivery again: exponential backoff with full jitter, within a horizon.

Full jitter (a uniform delay between 0 and the exponential bound) spreads the retries of many
notices to one recovering receiver instead of sending them in synchronized waves. A receiver's
Retry-After is a floor: we never come back earlier than it asked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The delay before the next attempt. Whether there is one is the deadline's call (stored
    at + retry horizon, kept with the delivery): an attempt whose next try would fall after
    it was the last one, and the notice is then dead."""

    base_s: float
    cap_s: float

    def delay_s(self, attempts: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Delay after the `attempts`-th failed attempt (1-based), at least what Retry-After asked."""
        exponent = min(max(attempts - 1, 0), 62)
        delay = rng.uniform(0, min(self.cap_s, self.base_s * 2**exponent))
        return delay if retry_after_s is None else max(delay, retry_after_s)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)
