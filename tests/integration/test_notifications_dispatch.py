"""The dispatcher against a real PostgreSQL, with a scripted webhook sender: notices the intake
just stored go out without waiting for a look in the database, outcomes are recorded in
batches, an endpoint leases a few rounds of its concurrency at most and gives back what it
could not start within the lease, what memory cannot hold is found in the database, and
instances share the work without sending anything twice."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace

import asyncpg
import pytest

from services.notifications.adapters.repository import Attempt, DeliveriesRepository, Recorded
from services.notifications.domain.notices import AttemptResult
from services.notifications.domain.preferences import DigestSchedule
from services.notifications.domain.retry import RetryPolicy
from services.notifications.entrypoints.messaging import subscriptions
from services.notifications.service_layer.delivery import (
    KNOWN_PER_SLOT,
    LEASED_PER_SLOT,
    DeliveryPolicy,
    Dispatcher,
)
from services.notifications.service_layer.routing import OfferDue, RoutingPolicy
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared import topics
from shared.contract import EventType, PurchaseRequestAccepted
from shared.events.members import MEMBER_REGISTERED, Interests, MemberProfile
from shared.messaging.consumer import BatchHandler
from shared.messaging.notices import member_notice
from shared.messaging.records import InboundRecord
from shared.settings import Settings
from tests.support.events import encode, new_event
from tests.support.intake import intake_of
from tests.support.notifications_store import pool  # noqa: F401 (a fixture)
from tests.support.receivers import eventually
from tests.support.services import SEALING_BOX

pytestmark = pytest.mark.integration

ROUTING = RoutingPolicy(
    horizon_s=3600, email_enabled=False, digest=DigestSchedule(interval_s=86_400, offset_s=0)
)
POLICY = DeliveryPolicy(
    retry=RetryPolicy(base_s=0.05, cap_s=0.1),
    endpoint_concurrency=2,
    smtp_concurrency=1,
    max_in_flight=64,
    poll_interval_s=3600,  # no timer: only offers, and what they leave to the database, drive it
    webhook_lease_s=60,
    email_lease_s=60,
    webhook_attempt_s=10,
    email_attempt_s=10,
    breaker_failures=100,
    breaker_cooldown_s=30,
    breaker_max_cooldown_s=60,
)
Behaviour = Callable[[str, str], Awaitable[AttemptResult]]
"""(member id, delivery id) -> the attempt's result."""


async def delivered(member_id: str, delivery_id: str) -> AttemptResult:
    return AttemptResult(True, status_code=204)


class ScriptedWebhooks:
    def __init__(self, behaviour: Behaviour = delivered) -> None:
        self.behaviour = behaviour
        self.sent: list[tuple[str, str]] = []
        """(member id, delivery id) of every POST, in the order they started."""

    async def post(self, url: str, body: bytes, secret: str, delivery_id: str) -> AttemptResult:
        member_id = url.rsplit("/", 1)[1]
        self.sent.append((member_id, delivery_id))
        return await self.behaviour(member_id, delivery_id)

    def to(self, member_id: str) -> list[str]:
        return [d for m, d in self.sent if m == member_id]


@contextlib.asynccontextmanager
async def running(dispatcher: Dispatcher) -> AsyncIterator[None]:
    task = asyncio.create_task(dispatcher.run())
    await asyncio.sleep(0.1)  # its first look in the database, at an empty table
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def add_members(pool: asyncpg.Pool, *member_ids: str) -> None:
    records = [
        InboundRecord(
            "members.events",
            0,
            0,
            m.encode(),
            encode(
                new_event(
                    MEMBER_REGISTERED,
                    "alliance/members",
                    MemberProfile(
                        member_id=m,
                        name=m,
                        status="active",
                        region="DE",
                        webhook_url=f"http://127.0.0.1:9/{m}",
                        sealed_webhook_secret=SEALING_BOX.seal("s"),
                        interests=Interests(),
                    ),
                )
            ),
        )
        for m in member_ids
    ]
    async with NotificationsUnitOfWork(pool) as unit:
        await _intake(lambda due: None, topics.MEMBER_EVENTS)(unit, records)


def _intake(offer: OfferDue, topic: str) -> BatchHandler:
    return intake_of(subscriptions(Settings(topic_prefix=""), ROUTING, offer, SEALING_BOX), topic)


async def store(pool: asyncpg.Pool, offer: OfferDue, notices: Sequence[tuple[str, int]]) -> None:
    """Store accepted notices ((member, n)) as the intake does, offering them after commit."""
    records = [
        InboundRecord(
            "notices",
            0,
            0,
            m.encode(),
            member_notice(
                "alliance/members",
                m,
                EventType.PURCHASE_REQUEST_ACCEPTED,
                PurchaseRequestAccepted(request_id=f"r-{m}-{n}"),
                f"c-{m}-{n}",
            ).value,
        )
        for m, n in notices
    ]
    async with NotificationsUnitOfWork(pool) as unit:
        await _intake(offer, topics.MEMBER_NOTICES)(unit, records)


async def statuses(pool: asyncpg.Pool, member_id: str) -> Counter[str]:
    rows = await pool.fetch("SELECT status FROM deliveries WHERE member_id = $1", member_id)
    return Counter(r["status"] for r in rows)


async def settled(pool: asyncpg.Pool, check: Callable[[], Awaitable[bool]], what: str) -> None:
    for _ in range(100):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within 5 s: {what}")


async def test_stored_notices_go_out_at_once_and_their_outcomes_are_recorded_in_batches(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[int] = []
    record = DeliveriesRepository.record

    async def counted(self: DeliveriesRepository, attempts: Sequence[Attempt]) -> dict[object, Recorded]:
        writes.append(len(attempts))
        return await record(self, attempts)

    monkeypatch.setattr(DeliveriesRepository, "record", counted)
    members = [f"m-{n}" for n in range(4)]
    await add_members(pool, *members)
    webhooks = ScriptedWebhooks()
    dispatcher = Dispatcher(pool, POLICY, webhooks, None)
    async with running(dispatcher):
        await store(pool, dispatcher.offer, [(m, n) for m in members for n in range(5)])
        await eventually(lambda: len(webhooks.sent) == 20, 5, "every notice sent")
        await settled(
            pool,
            lambda: pool.fetchval("SELECT count(*) = 20 FROM deliveries WHERE status = 'delivered'"),
            "every delivery recorded as delivered",
        )
    assert len(set(webhooks.sent)) == 20, "each notice once"
    assert sum(writes) == 20 and len(writes) < 20, "outcomes are written a batch at a time"
    log = await pool.fetch("SELECT outcome, attempt FROM delivery_log")
    assert [(r["outcome"], r["attempt"]) for r in log] == [("delivered", 1)] * 20


async def test_a_hanging_endpoint_leases_a_few_rounds_at_most_and_delays_nobody_else(
    pool: asyncpg.Pool,
) -> None:
    hang = asyncio.Event()

    async def behaviour(member_id: str, delivery_id: str) -> AttemptResult:
        if member_id == "m-hang":
            await hang.wait()
        return AttemptResult(True, status_code=204)

    slots = POLICY.endpoint_concurrency
    in_database_only = 4
    hanging = LEASED_PER_SLOT * slots + KNOWN_PER_SLOT * slots + in_database_only
    await add_members(pool, "m-hang", "m-a", "m-b")
    webhooks = ScriptedWebhooks(behaviour)
    dispatcher = Dispatcher(pool, POLICY, webhooks, None)
    async with running(dispatcher):
        await store(pool, dispatcher.offer, [("m-hang", n) for n in range(hanging)])
        await store(pool, dispatcher.offer, [(m, n) for m in ("m-a", "m-b") for n in range(3)])
        await eventually(lambda: len(webhooks.to("m-a")) + len(webhooks.to("m-b")) == 6, 5,
                         "the other members' notices")
        await settled(pool, lambda: _delivered(pool, 6), "the other members' deliveries recorded")
        leased = await pool.fetchval(
            "SELECT count(*) FROM deliveries WHERE member_id = 'm-hang' AND lease_token IS NOT NULL"
        )
        assert leased == LEASED_PER_SLOT * slots
        assert len(webhooks.to("m-hang")) == slots

        hang.set()  # the rest waited in memory, and some in the database only
        await settled(pool, lambda: _delivered(pool, hanging + 6), "the hanging member's notices")
    assert len(webhooks.to("m-hang")) == hanging == len(set(webhooks.to("m-hang")))


async def test_a_delivery_whose_lease_would_end_during_its_attempt_is_given_back_unsent(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    released: list[float] = []
    release = DeliveriesRepository.release

    async def noted(self: DeliveriesRepository, given_back: Sequence[tuple[object, float]]) -> None:
        released.extend(retry_in_s for _, retry_in_s in given_back)
        await release(self, given_back)  # type: ignore[arg-type]

    monkeypatch.setattr(DeliveriesRepository, "release", noted)

    async def slow(member_id: str, delivery_id: str) -> AttemptResult:
        await asyncio.sleep(0.6)
        return AttemptResult(True, status_code=204)

    await add_members(pool, "m-slow")
    webhooks = ScriptedWebhooks(slow)
    policy = replace(
        POLICY, endpoint_concurrency=1, webhook_lease_s=2.0, webhook_attempt_s=0.9,
        poll_interval_s=0.1,
    )
    dispatcher = Dispatcher(pool, policy, webhooks, None)
    async with running(dispatcher):
        await store(pool, dispatcher.offer, [("m-slow", n) for n in range(4)])
        for _ in range(100):
            if await _delivered(pool, 4):
                break
            await asyncio.sleep(0.1)
    assert await _delivered(pool, 4)
    assert len(released) >= 2 and set(released) == {0.0}, (
        "the third and fourth waited 1.2 and 1.8 s of a 2 s lease for 0.9 s attempts"
    )
    assert len(webhooks.sent) == 4 == len(set(webhooks.sent)), "none sent twice"


async def _delivered(pool: asyncpg.Pool, expected: int) -> bool:
    return await pool.fetchval("SELECT count(*) FROM deliveries WHERE status = 'delivered'") == expected


async def test_a_failed_attempt_is_found_in_the_database_when_its_retry_is_due(
    pool: asyncpg.Pool,
) -> None:
    async def behaviour(member_id: str, delivery_id: str) -> AttemptResult:
        if len(webhooks.sent) == 1:
            return AttemptResult(False, status_code=500, error="HTTP 500")
        return AttemptResult(True, status_code=200)

    await add_members(pool, "m-f")
    webhooks = ScriptedWebhooks(behaviour)
    dispatcher = Dispatcher(pool, replace(POLICY, poll_interval_s=0.05), webhooks, None)
    async with running(dispatcher):
        await store(pool, dispatcher.offer, [("m-f", 1)])
        await settled(pool, lambda: _delivered(pool, 1), "the retried delivery")
    [first, second] = webhooks.sent
    assert first == second, "the same delivery id on every attempt"
    log = await pool.fetch("SELECT outcome, attempt, status_code FROM delivery_log ORDER BY id")
    assert [tuple(r) for r in log] == [("failed", 1, 500), ("delivered", 2, 200)]
    assert await pool.fetchval("SELECT attempts FROM deliveries") == 2


async def test_stopping_gives_back_what_was_claimed_and_not_finished(pool: asyncpg.Pool) -> None:
    async def never(member_id: str, delivery_id: str) -> AttemptResult:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    await add_members(pool, "m-s")
    webhooks = ScriptedWebhooks(never)
    dispatcher = Dispatcher(pool, POLICY, webhooks, None)
    async with running(dispatcher):
        await store(pool, dispatcher.offer, [("m-s", n) for n in range(3)])
        await eventually(lambda: len(webhooks.sent) == 2, 5, "the attempts in flight")
    rows = await pool.fetch(
        "SELECT status, attempts, lease_token, next_attempt_at <= now() AS due FROM deliveries"
    )
    assert [tuple(r) for r in rows] == [("pending", 0, None, True)] * 3, (
        "free for the next instance at once, no attempt counted"
    )
    assert await pool.fetchval("SELECT count(*) FROM delivery_log") == 0


async def test_instances_share_the_work_and_send_each_notice_once(pool: asyncpg.Pool) -> None:
    members = [f"m-{n}" for n in range(5)]
    await add_members(pool, *members)
    webhooks = ScriptedWebhooks()
    storing = Dispatcher(pool, POLICY, webhooks, None)
    polling = Dispatcher(pool, replace(POLICY, poll_interval_s=0.01), webhooks, None)
    async with running(storing), running(polling):
        for n in range(10):
            await store(pool, storing.offer, [(m, n) for m in members])
        await settled(pool, lambda: _delivered(pool, 50), "every delivery")
    assert len(webhooks.sent) == 50 == len(set(webhooks.sent))
