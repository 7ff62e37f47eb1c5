"""The delivery worker: claims due deliveries from PostgreSQL and sends them, endpoint by endpoint.

Isolation is the point. Every endpoint (a member's webhook URL; the SMTP server for e-mail)
has its own semaphore and circuit breaker, an endpoint already at its concurrency is left out
of the next claim, and every attempt has a timeout. So a receiver that hangs ties up its own
few slots and nothing else: the dispatcher never waits on an attempt.

State lives in the database (attempts, next_attempt_at, a lease per claimed delivery), so a
restart, or several instances side by side, resume and share the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from services.notifications.adapters import metrics
from services.notifications.adapters.repository import (
    SMTP_ENDPOINT,
    ClaimedDelivery,
    DeliveriesRepository,
)
from services.notifications.adapters.smtp import compose
from services.notifications.domain.circuit import CircuitBreaker
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
from shared.messaging.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)


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

    @property
    def accepts_claims(self) -> bool:
        return self.load < self.capacity and self.breaker.would_allow()


class Dispatcher:
    def __init__(
        self,
        unit_of_work: Callable[[], UnitOfWork],
        policy: DeliveryPolicy,
        webhooks: WebhookSender,
        mailer: Mailer | None,
        rng: random.Random | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._policy = policy
        self._webhooks = webhooks
        self._mailer = mailer
        self._rng = rng or random.Random()
        self._endpoints: dict[str, _Endpoint] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Look for due deliveries now (new notices were stored, a slot came free)."""
        self._wake.set()

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self._dispatch()
                except TRANSIENT_ERRORS as exc:
                    log.warning("claiming deliveries failed (%s); trying again", type(exc).__name__)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._policy.poll_interval_s)
                self._wake.clear()
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def export_circuits(self) -> None:
        """Set the breaker gauge and forget endpoints that are idle and healthy."""
        for key in [k for k, e in self._endpoints.items() if e.load == 0 and e.breaker.is_healthy]:
            del self._endpoints[key]
        metrics.CIRCUIT_OPEN.set(sum(1 for e in self._endpoints.values() if e.breaker.is_open))

    async def _dispatch(self) -> None:
        room = self._policy.max_in_flight - len(self._tasks)
        if room <= 0:
            return
        excluded = [key for key, endpoint in self._endpoints.items() if not endpoint.accepts_claims]
        per_endpoint = max(self._policy.endpoint_concurrency, self._policy.smtp_concurrency)
        async with self._unit_of_work() as uow:
            claimed = await DeliveriesRepository(uow.conn).claim(
                room,
                per_endpoint,
                excluded,
                self._policy.webhook_lease_s,
                self._policy.email_lease_s,
            )
        for delivery in claimed:
            endpoint = self._endpoint(delivery.endpoint)
            endpoint.load += 1
            task = asyncio.create_task(
                self._attempt(delivery, endpoint), name=f"deliver-{delivery.delivery_id}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

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

    async def _attempt(self, delivery: ClaimedDelivery, endpoint: _Endpoint) -> None:
        try:
            async with endpoint.semaphore:
                if not endpoint.breaker.allow():
                    await self._release(delivery, max(endpoint.breaker.seconds_until_probe(), 1.0))
                    return
                started = time.perf_counter()
                result = await self._send(delivery)
                latency_ms = (time.perf_counter() - started) * 1000
                if result.delivered:
                    endpoint.breaker.record_success()
                elif result.endpoint_fault:
                    endpoint.breaker.record_failure()
                await self._record(delivery, result, latency_ms)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._release(delivery, 0.0), 2)
            raise
        except Exception:
            log.exception(
                "delivery %d: the attempt failed unexpectedly; it is tried again when its lease expires",
                delivery.delivery_id,
            )
        finally:
            endpoint.load -= 1
            self.wake()

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

    async def _record(
        self, delivery: ClaimedDelivery, result: AttemptResult, latency_ms: float
    ) -> None:
        channel = delivery.channel.value
        async with self._unit_of_work() as uow:
            repository = DeliveriesRepository(uow.conn)
            if result.delivered:
                delivered_at = await repository.record_delivered(
                    delivery, result.status_code, latency_ms
                )
                if delivered_at is not None:
                    seconds = (delivered_at - delivery.stored_at).total_seconds()
                    uow.after_commit(lambda: metrics.NOTICES.labels(channel, "delivered").inc())
                    uow.after_commit(
                        lambda: metrics.DELIVERY_SECONDS.labels(channel).observe(seconds)
                    )
                return
            delay = self._policy.retry.delay_s(
                delivery.attempts_before + 1, result.retry_after_s, self._rng
            )
            status = await repository.record_failure(
                delivery, result.status_code, result.error or "failed", latency_ms, delay
            )
            if status is not None:
                outcome = "dead" if status is DeliveryStatus.DEAD else "failed"
                uow.after_commit(lambda: metrics.NOTICES.labels(channel, outcome).inc())
        if status is DeliveryStatus.DEAD:
            log.warning(
                "notice %s to member %s is dead on %s after %d attempt(s): %s",
                delivery.notice.notice_id,
                delivery.notice.member_id,
                channel,
                delivery.attempts_before + 1,
                result.error,
            )

    async def _release(self, delivery: ClaimedDelivery, retry_in_s: float) -> None:
        async with self._unit_of_work() as uow:
            await DeliveriesRepository(uow.conn).release(delivery, retry_in_s)
