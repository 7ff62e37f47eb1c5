"""A circuit breaker per receiving endpoint.

After `failure_threshold` failures in a row the endpoint is left alone for a cooldown, so a
receiver that is down gets one probe per cooldown instead of every due notice hammering it.
A successful probe closes the circuit; a failed one opens it again with a doubled cooldown
(up to `max_cooldown_s`). Attempts the breaker refuses do not count against a notice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        cooldown_s: float,
        max_cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failure_threshold
        self._base_cooldown = cooldown_s
        self._max_cooldown = max_cooldown_s
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._cooldown = cooldown_s
        self._opened_at = 0.0

    @property
    def state(self) -> CircuitState:
        return self._state

    @property
    def is_healthy(self) -> bool:
        """Closed with no failure counted: nothing to remember about the endpoint."""
        return self._state is CircuitState.CLOSED and self._failures == 0

    @property
    def is_open(self) -> bool:
        """Open or probing: the endpoint is not known to be healthy."""
        return self._state is not CircuitState.CLOSED

    def seconds_until_probe(self) -> float:
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(self._opened_at + self._cooldown - self._clock(), 0.0)

    def would_allow(self) -> bool:
        """Whether `allow()` would let an attempt through now (without taking the probe)."""
        if self._state is CircuitState.CLOSED:
            return True
        return self._state is CircuitState.OPEN and self.seconds_until_probe() == 0.0

    def allow(self) -> bool:
        """Let an attempt through? When the cooldown is over, the first caller is the probe."""
        if self._state is CircuitState.CLOSED:
            return True
        if self._state is CircuitState.OPEN and self.seconds_until_probe() == 0.0:
            self._state = CircuitState.HALF_OPEN
            return True
        return False

    def record_success(self) -> None:
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._cooldown = self._base_cooldown

    def record_failure(self) -> None:
        if self._state is CircuitState.HALF_OPEN:
            self._cooldown = min(self._cooldown * 2, self._max_cooldown)
            self._open()
            return
        self._failures += 1
        if self._state is CircuitState.CLOSED and self._failures >= self._threshold:
            self._open()

    def _open(self) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = self._clock()
