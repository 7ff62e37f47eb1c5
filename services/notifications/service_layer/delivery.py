"""The delivery worker: sends due deliveries endpoint by endpoint, with PostgreSQL as the record.

Isolation is the point. Every endpoint (a member's webhook URL; the SMTP server for e-mail)
has its own semaphore and circuit breaker, leases a few rounds of its concurrency at most, and
every attempt has a timeout. So a receiver that hangs ties up its own few slots and nothing
else: the dispatcher never waits on an attempt.

Speed comes from asking the database only what memory cannot answer:
- deliveries this instance's intake has just committed are offered to it in memory and
  claimed at once; the database is searched for due deliveries (oldest first) on a timer
  (retries, what another instance left behind), when woken, and as soon as an endpoint that
  had more due than it keeps in memory has room again;
- one statement leases the ready deliveries of every endpoint with room, by id;
- finished attempts are recorded in batches, one statement every few milliseconds, while
  the next attempts are already under way.
Each of these is a single statement, atomic on its own: no transaction is held open.

State lives in the database (attempts, next_attempt_at, a lease per claimed delivery), so a
restart, or several instances side by side, resume and share the work: memory only decides
what this instance claims next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

import asyncpg

from services.notifications.adapters import metrics
from services.notifications.adapters.repository import (
    SMTP_ENDPOINT,
    Attempt,
    ClaimedDelivery,
    DeliveriesRepository,
    DueDelivery,
    Recorded,
)
from services.notifications.adapters.smtp import compose
from services.notifications.domain.circuit import CircuitBreaker, CircuitState
from services.notifications.domain.messages import render, render_digest
from services.notifications.domain.notices import (
    DIGEST_TYPE,
    AttemptResult,
    Channel,
    DeliveryStatus,
    webhook_body,
)
from services.notifications.domain.retry import RetryPolicy
from services.notifications.service_layer.digests import bundled_notices
from shared.messaging.consumer import TRANSIENT_ERRORS

log = logging.getLogger(__name__)

LEASED_PER_SLOT = 4
"""Deliveries an endpoint may hold leased per slot of its concurrency: running, or waiting for
their turn. A burst goes out in few rounds of claims; one whose lease would end before its
attempt does is given back unattempted (see `_attempt`), however slow the endpoint turns."""
KNOWN_PER_SLOT = 16
"""Due deliveries an endpoint keeps in memory per slot of its concurrency, not leased yet: a
burst needs no look in the database, and older due work of its there is found soon enough."""
RECORD_EVERY_S = 0.05
"""A finished attempt waits this long for others to be recorded with it, in one statement: the
member already has its webhook, so only the bookkeeping waits; at a thousand webhooks a
second, fifty milliseconds save four statements in five."""
RECORD_RETRY_S = 0.5
"""After the database failed to take a batch: the pause before it is offered again."""
SHUTDOWN_RECORD_S = 2.0
"""On stopping, how long recording what was finished (and giving back what was not) may take."""


class WebhookSender(Protocol):
    async def post(self, url: str, body: bytes, secret: str, delivery_id: str) -> AttemptResult: ...


class Mailer(Protocol):
    @property
    def sender(self) -> str: ...

    async def send(self, message: EmailMessage) -> AttemptResult: ...


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    retry: RetryPolicy
    endpoint_concurrency: int
    smtp_concurrency: int
    max_in_flight: int
    poll_interval_s: float
    webhook_lease_s: float
    """How long a claimed delivery stays this instance's: waiting for a slot and the attempt.
    After a crash, its deliveries wait this long before another instance takes them."""
    email_lease_s: float
    webhook_attempt_s: float
    """The longest one attempt may take, all in."""
    email_attempt_s: float
    breaker_failures: int
    breaker_cooldown_s: float
    breaker_max_cooldown_s: float


@dataclass
class _Endpoint:
    semaphore: asyncio.Semaphore
    capacity: int
    breaker: CircuitBreaker
    load: int = 0
    """Attempts claimed for it and not finished: running or waiting for the semaphore."""
    ready: deque[int] = field(default_factory=deque)
    """Due deliveries to it known in memory, not leased yet: the next ones to claim."""
    more_in_database: bool = False
    """Due deliveries to it were left to the database (memory had enough, or its circuit was open)."""

    @property
    def room(self) -> int:
        """How many more it may lease now; a circuit not closed gets its probe only."""
        if self.breaker.state is CircuitState.CLOSED:
            return max(LEASED_PER_SLOT * self.capacity - self.load, 0)
        return 1 if self.load == 0 and self.breaker.would_allow() else 0

    @property
    def takes_more(self) -> bool:
        """Whether more of its due deliveries should be kept in memory."""
        return self.breaker.would_allow() and len(self.ready) < KNOWN_PER_SLOT * self.capacity

    @property
    def forgettable(self) -> bool:
        """Nothing in flight, nothing waiting, nothing to remember about its health."""
        return (
            self.load == 0
            and not self.ready
            and not self.more_in_database
            and self.breaker.is_healthy
        )


class Dispatcher:
    def __init__(
        self,
        database: asyncpg.Pool,
        policy: DeliveryPolicy,
        webhooks: WebhookSender,
        mailer: Mailer | None,
        rng: random.Random | None = None,
    ) -> None:
        self._deliveries = DeliveriesRepository(database)
        self._policy = policy
        self._webhooks = webhooks
        self._mailer = mailer
        self._rng = rng or random.Random()
        self._endpoints: dict[str, _Endpoint] = {}
        self._ready_ids: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._work = asyncio.Event()
        self._look_in_database = True
        self._finished: list[Attempt] = []
        self._released: list[tuple[ClaimedDelivery, float]] = []
        self._to_record = asyncio.Event()
        self._stopping = False

    def offer(self, due: Sequence[DueDelivery]) -> None:
        """Deliveries a committed transaction made due: claim them in the next round."""
        for delivery in due:
            if delivery.delivery_id in self._ready_ids:
                continue
            endpoint = self._endpoint(delivery.endpoint)
            if endpoint.takes_more:
                endpoint.ready.append(delivery.delivery_id)
                self._ready_ids.add(delivery.delivery_id)
            else:
                endpoint.more_in_database = True
        self._work.set()

    def wake(self) -> None:
        """Look in the database for due deliveries now (an admin sent a notice again, digests)."""
        self._look_in_database = True
        self._work.set()

    async def run(self) -> None:
        recorder = asyncio.create_task(self._record_finished(), name="record-deliveries")
        loop = asyncio.get_running_loop()
        next_look = loop.time()
        try:
            while True:
                if loop.time() >= next_look:
                    self._look_in_database = True
                    next_look = loop.time() + self._policy.poll_interval_s
                try:
                    await self._dispatch()
                except TRANSIENT_ERRORS as exc:
                    log.warning("claiming deliveries failed (%s); trying again", type(exc).__name__)
                    self._look_in_database = True
                    await asyncio.sleep(self._policy.poll_interval_s)
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(next_look - loop.time(), 0)):
                        await self._work.wait()
                self._work.clear()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._stopping = True
            self._to_record.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(recorder, SHUTDOWN_RECORD_S)

    def export_circuits(self) -> None:
        """Set the breaker gauge and forget endpoints that are idle and healthy."""
        for key in [k for k, e in self._endpoints.items() if e.forgettable]:
            del self._endpoints[key]
        metrics.CIRCUIT_OPEN.set(sum(1 for e in self._endpoints.values() if e.breaker.is_open))

    async def _dispatch(self) -> None:
        """One round: look in the database if needed, claim what endpoints have room for, start it."""
        room = self._policy.max_in_flight - len(self._tasks)
        if room <= 0:
            return
        endpoints = self._endpoints.values()
        look = self._look_in_database or any(e.more_in_database and e.takes_more for e in endpoints)
        if not look and not any(e.ready and e.room for e in endpoints):
            return
        if look:
            await self._look_up_due()
            if self._look_in_database:
                self._work.set()  # a full page: the next round looks again
        picked = self._pick(room)
        if not picked:
            return
        claiming_since = asyncio.get_running_loop().time()  # no later than the database's lease start
        claimed = await self._deliveries.claim(
            picked, self._policy.webhook_lease_s, self._policy.email_lease_s
        )
        for delivery in claimed:
            endpoint = self._endpoint(delivery.endpoint)
            endpoint.load += 1
            lease_s = (
                self._policy.email_lease_s
                if delivery.channel is Channel.EMAIL
                else self._policy.webhook_lease_s
            )
            task = asyncio.create_task(
                self._attempt(delivery, endpoint, claiming_since + lease_s),
                name=f"deliver-{delivery.delivery_id}",
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _look_up_due(self) -> None:
        """Bring due deliveries from the database into memory, for endpoints that take more.

        Found ones go first in their endpoint's line: they have been due longer than anything
        offered since. A full page means there may be more: the next round looks again.
        """
        limit = self._policy.max_in_flight
        excluded = []
        for key, endpoint in self._endpoints.items():
            if endpoint.takes_more:
                endpoint.more_in_database = False  # this look finds all (an offer may set it again)
            else:
                excluded.append(key)
        self._look_in_database = False
        found = await self._deliveries.due(limit, excluded, list(self._ready_ids))
        if len(found) == limit:
            self._look_in_database = True
        by_endpoint: dict[str, list[int]] = defaultdict(list)
        for delivery in found:
            by_endpoint[delivery.endpoint].append(delivery.delivery_id)
        for key, ids in by_endpoint.items():
            endpoint = self._endpoint(key)
            kept = ids[: max(KNOWN_PER_SLOT * endpoint.capacity - len(endpoint.ready), 0)]
            endpoint.ready.extendleft(reversed(kept))
            self._ready_ids.update(kept)
            if len(kept) < len(ids):
                endpoint.more_in_database = True

    def _pick(self, room: int) -> list[int]:
        """Ready deliveries to claim, each endpoint within its room, endpoints served in turn."""
        picked: list[int] = []
        for key in list(self._endpoints):
            if len(picked) >= room:
                break
            endpoint = self._endpoints[key]
            take = min(endpoint.room, len(endpoint.ready), room - len(picked))
            if take <= 0:
                continue
            for _ in range(take):
                delivery_id = endpoint.ready.popleft()
                self._ready_ids.discard(delivery_id)
                picked.append(delivery_id)
            self._endpoints[key] = self._endpoints.pop(key)  # to the back of the line
        return picked

    def _endpoint(self, key: str) -> _Endpoint:
        endpoint = self._endpoints.get(key)
        if endpoint is None:
            capacity = (
                self._policy.smtp_concurrency
                if key == SMTP_ENDPOINT
                else self._policy.endpoint_concurrency
            )
            breaker = CircuitBreaker(
                self._policy.breaker_failures,
                self._policy.breaker_cooldown_s,
                self._policy.breaker_max_cooldown_s,
            )
            endpoint = self._endpoints[key] = _Endpoint(
                asyncio.Semaphore(capacity), capacity, breaker
            )
        return endpoint

    async def _attempt(
        self, delivery: ClaimedDelivery, endpoint: _Endpoint, lease_ends: float
    ) -> None:
        """Send once and hand the outcome to the recorder; `lease_ends` is in loop time."""
        try:
            async with endpoint.semaphore:
                attempt_s = (
                    self._policy.email_attempt_s
                    if delivery.channel is Channel.EMAIL
                    else self._policy.webhook_attempt_s
                )
                if asyncio.get_running_loop().time() + attempt_s > lease_ends:
                    # It waited so long for a slot that another instance could take it over
                    # during the attempt: give it back, due now, instead of sending it twice.
                    self._released.append((delivery, 0.0))
                    return
                if not endpoint.breaker.allow():
                    probe_in = max(endpoint.breaker.seconds_until_probe(), 1.0)
                    self._released.append((delivery, probe_in))
                    return
                started = time.perf_counter()
                result = await self._send(delivery)
                latency_ms = (time.perf_counter() - started) * 1000
                if result.delivered:
                    endpoint.breaker.record_success()
                elif result.endpoint_fault:
                    endpoint.breaker.record_failure()
                self._finished.append(self._attempt_record(delivery, result, latency_ms))
        except asyncio.CancelledError:
            self._released.append((delivery, 0.0))
            raise
        except Exception:
            log.exception(
                "delivery %d: the attempt failed unexpectedly; it is tried again when its lease expires",
                delivery.delivery_id,
            )
        finally:
            endpoint.load -= 1
            self._to_record.set()
            if self._ready_ids or self._look_in_database or endpoint.more_in_database:
                self._work.set()

    def _attempt_record(
        self, delivery: ClaimedDelivery, result: AttemptResult, latency_ms: float
    ) -> Attempt:
        if result.delivered:
            return Attempt(delivery, True, result.status_code, None, latency_ms)
        retry_in_s = self._policy.retry.delay_s(
            delivery.attempts_before + 1, result.retry_after_s, self._rng
        )
        return Attempt(
            delivery, False, result.status_code, result.error or "failed", latency_ms, retry_in_s
        )

    async def _send(self, delivery: ClaimedDelivery) -> AttemptResult:
        notice, member = delivery.notice, delivery.member
        if delivery.channel is Channel.WEBHOOK:
            if member is None or not member.webhook_url:
                return AttemptResult(
                    False, error="the member has no webhook URL", endpoint_fault=False
                )
            if not member.webhook_secret:
                return AttemptResult(
                    False,
                    error="the member has no webhook secret to sign with",
                    endpoint_fault=False,
                )
            return await self._webhooks.post(
                member.webhook_url, webhook_body(notice), member.webhook_secret, notice.notice_id
            )
        if self._mailer is None:
            return AttemptResult(False, error="SMTP is not configured", endpoint_fault=False)
        if member is None or not member.email:
            return AttemptResult(
                False, error="the member has no e-mail address", endpoint_fault=False
            )
        try:
            if notice.notice_type == DIGEST_TYPE:
                content = render_digest(
                    bundled_notices(notice), member.locale, member.name, notice.notice_id
                )
            else:
                content = render(notice, member.locale, member.name)
            message = compose(content, self._mailer.sender, member.email, notice.notice_id)
        except (KeyError, TypeError, ValueError) as exc:
            log.error(
                "notice %s: cannot write its e-mail (%s)", notice.notice_id, type(exc).__name__
            )
            return AttemptResult(
                False, error="the e-mail could not be written", endpoint_fault=False
            )
        return await self._mailer.send(message)

    async def _record_finished(self) -> None:
        """Record finished attempts and give back released deliveries, in batches."""
        while True:
            await self._to_record.wait()
            if not self._stopping:
                await asyncio.sleep(RECORD_EVERY_S)
            self._to_record.clear()
            attempts, self._finished = self._finished, []
            released, self._released = self._released, []
            if not attempts and not released:
                if self._stopping:
                    return
                continue
            try:
                # Giving back first: done twice it changes nothing, unlike the attempts' log rows.
                await self._deliveries.release(released)
                recorded = await self._deliveries.record(attempts)
            except TRANSIENT_ERRORS as exc:
                log.warning("recording deliveries failed (%s); trying again", type(exc).__name__)
                self._finished[:0] = attempts
                self._released[:0] = released
                self._to_record.set()
                await asyncio.sleep(RECORD_RETRY_S)
                continue
            except Exception:
                log.exception(
                    "recording %d attempt(s) failed; they are tried again when their leases expire",
                    len(attempts),
                )
                continue
            self._count(attempts, recorded)
            if self._stopping and not (self._finished or self._released):
                return

    @staticmethod
    def _count(
        attempts: Sequence[Attempt], recorded: dict[tuple[int, uuid.UUID], Recorded]
    ) -> None:
        """Metrics and warnings for the attempts whose outcome was recorded (lease still held)."""
        for attempt in attempts:
            claimed = attempt.claimed
            outcome = recorded.get((claimed.delivery_id, claimed.lease_token))
            if outcome is None:
                continue
            channel = claimed.channel.value
            if outcome.status is DeliveryStatus.DELIVERED:
                metrics.NOTICES.labels(channel, "delivered").inc()
                if outcome.delivered_at is not None:
                    seconds = (outcome.delivered_at - claimed.stored_at).total_seconds()
                    metrics.DELIVERY_SECONDS.labels(channel).observe(seconds)
                continue
            dead = outcome.status is DeliveryStatus.DEAD
            metrics.NOTICES.labels(channel, "dead" if dead else "failed").inc()
            if dead:
                log.warning(
                    "notice %s to member %s is dead on %s after %d attempt(s): %s",
                    claimed.notice.notice_id,
                    claimed.notice.member_id,
                    channel,
                    claimed.attempts_before + 1,
                    attempt.error,
                )
