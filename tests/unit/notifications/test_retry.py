"""Backoff with full jitter, Retry-After as a floor, and the circuit breaker's states."""

import random
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.notifications.domain.circuit import CircuitBreaker, CircuitState
from services.notifications.domain.retry import RetryPolicy, parse_retry_after

POLICY = RetryPolicy(base_s=2.0, cap_s=60.0)


@given(attempts=st.integers(min_value=1, max_value=200), seed=st.integers())
def test_the_delay_is_jittered_below_the_capped_exponential_bound(attempts, seed):
    delay = POLICY.delay_s(attempts, None, random.Random(seed))
    assert 0 <= delay <= min(60.0, 2.0 * 2 ** (attempts - 1))


@given(
    attempts=st.integers(min_value=1, max_value=50),
    retry_after=st.floats(0, 10_000),
    seed=st.integers(),
)
def test_retry_after_is_a_floor(attempts, retry_after, seed):
    assert POLICY.delay_s(attempts, retry_after, random.Random(seed)) >= retry_after


def test_jitter_spreads_retries():
    rng = random.Random(7)
    delays = {round(POLICY.delay_s(6, None, rng), 3) for _ in range(50)}
    assert len(delays) > 40


def test_retry_after_in_seconds_and_as_http_date():
    now = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Sat, 21 Nov 2026 10:01:30 GMT", now) == 90.0
    assert parse_retry_after("Sat, 21 Nov 2026 09:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_after_consecutive_failures_and_probes_after_the_cooldown():
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=10, max_cooldown_s=40, clock=clock)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow() and not breaker.is_open
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN and not breaker.allow() and not breaker.would_allow()
    clock.now = 10
    assert breaker.would_allow()
    assert breaker.allow(), "the first attempt after the cooldown is the probe"
    assert breaker.state is CircuitState.HALF_OPEN and not breaker.allow(), "one probe at a time"
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now = 29
    assert not breaker.allow(), "a failed probe doubles the cooldown"
    clock.now = 30
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is CircuitState.CLOSED and breaker.allow()


def test_a_success_resets_the_failure_count():
    breaker = CircuitBreaker(failure_threshold=2, cooldown_s=10, max_cooldown_s=10, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert not breaker.is_open


def test_only_a_breaker_without_failures_is_healthy():
    breaker = CircuitBreaker(failure_threshold=3, cooldown_s=10, max_cooldown_s=10, clock=Clock())
    assert breaker.is_healthy
    breaker.record_failure()
    assert not breaker.is_healthy and not breaker.is_open
    breaker.record_success()
    assert breaker.is_healthy
