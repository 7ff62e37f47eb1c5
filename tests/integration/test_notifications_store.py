"""The notifications service's handlers and delivery bookkeeping against a real PostgreSQL:
storing once, waiting for a member's profile, preferences and digests, and how instances
share deliveries (due look-ups, SKIP LOCKED claims by id, leases, batched records)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from services.notifications.adapters.repository import (
    Attempt,
    DeliveriesRepository,
    DueDelivery,
    PreferencesRepository,
)
from services.notifications.domain.notices import DIGEST_TYPE, DeliveryStatus
from services.notifications.domain.preferences import DigestSchedule, Preferences
from services.notifications.entrypoints.messaging import subscriptions
from services.notifications.service_layer.digests import make_due_digests
from services.notifications.service_layer.routing import OfferDue, RoutingPolicy
from shared import topics
from shared.contract import (
    EventType,
    PurchaseRequestAccepted,
    PurchaseRequestRejected,
    RiskAlertNotice,
    Severity,
)
from shared.events.members import MEMBER_REGISTERED, Interests, MemberProfile
from shared.messaging.consumer import BatchHandler
from shared.messaging.notices import member_notice, member_notices
from shared.messaging.records import InboundRecord
from shared.settings import Settings
from tests.support.events import encode, new_event
from tests.support.intake import intake_of
from tests.support.notifications_store import UnitOfWorkFactory, pool, uow  # noqa: F401 (fixtures)
from tests.support.services import SEALING_BOX

pytestmark = pytest.mark.integration

POLICY = RoutingPolicy(
    horizon_s=3600, email_enabled=True, digest=DigestSchedule(interval_s=86_400, offset_s=0)
)


def profile_record(
    member_id: str, email: str | None = None, min_severity: Severity = Severity.MEDIUM
) -> InboundRecord:
    member = MemberProfile(
        member_id=member_id,
        name=member_id,
        status="active",
        region="DE",
        email=email,
        webhook_url=f"http://127.0.0.1:9/{member_id}",
        sealed_webhook_secret=SEALING_BOX.seal("s"),
        interests=Interests(min_risk_severity=min_severity),
    )
    value = encode(new_event(MEMBER_REGISTERED, "alliance/members", member))
    return InboundRecord("members.events", 0, 0, member_id.encode(), value)


def notice_record(
    member_id: str, notice_type: str, data: object, cause: str, key: str | None = None
) -> InboundRecord:
    message = member_notice("alliance/procurement", member_id, notice_type, data, cause)  # type: ignore[arg-type]
    return InboundRecord("notices", 0, 0, (key or member_id).encode(), message.value)


def accepted(member_id: str, n: int) -> InboundRecord:
    return notice_record(
        member_id,
        EventType.PURCHASE_REQUEST_ACCEPTED,
        PurchaseRequestAccepted(request_id=f"r-{n}"),
        f"c-{n}",
    )


def _intake(offer: OfferDue, topic: str) -> BatchHandler:
    return intake_of(subscriptions(Settings(topic_prefix=""), POLICY, offer, SEALING_BOX), topic)


async def store(uow: UnitOfWorkFactory, *records: InboundRecord) -> list[DueDelivery]:
    """Store the notice requests; returns the deliveries offered to the dispatcher after commit."""
    offered: list[DueDelivery] = []
    async with uow() as unit:
        await _intake(offered.extend, topics.MEMBER_NOTICES)(unit, records)
        assert not offered, "nothing is offered before the transaction commits"
    return offered


async def project(uow: UnitOfWorkFactory, *records: InboundRecord) -> list[DueDelivery]:
    offered: list[DueDelivery] = []
    async with uow() as unit:
        await _intake(offered.extend, topics.MEMBER_EVENTS)(unit, records)
    return offered


async def due_ids(uow: UnitOfWorkFactory, limit: int = 100) -> list[int]:
    async with uow() as unit:
        return [d.delivery_id for d in await DeliveriesRepository(unit.conn).due(limit, [], [])]


async def test_a_notice_is_stored_once_and_waits_for_its_members_profile(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await store(uow, accepted("m-late", 1), accepted("m-late", 1))
    await store(uow, accepted("m-late", 1))
    assert await pool.fetchval("SELECT count(*) FROM notices") == 1
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0, "no channel known yet"

    offered = await project(uow, profile_record("m-late", email="a@late.example"))
    rows = await pool.fetch("SELECT id, channel, status FROM deliveries ORDER BY channel")
    assert [(r["channel"], r["status"]) for r in rows] == [
        ("email", "pending"),
        ("webhook", "pending"),
    ]
    assert sorted(offered, key=lambda d: d.delivery_id) == sorted(
        [DueDelivery(rows[0]["id"], "smtp"), DueDelivery(rows[1]["id"], "http://127.0.0.1:9/m-late")],
        key=lambda d: d.delivery_id,
    ), "the waiting notice goes to the dispatcher as soon as its member is known"


async def test_a_batch_of_notices_for_one_member_is_stored_as_its_single_notices(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(uow, profile_record("m-many"))
    batch = member_notices("alliance/procurement", "m-many", [
        (EventType.PURCHASE_REQUEST_ACCEPTED, PurchaseRequestAccepted(request_id=f"r-{n}"), f"c-{n}") for n in range(3)
    ])
    record = InboundRecord("notices", 0, 0, b"m-many", batch.value)
    await store(uow, record, accepted("m-many", 1))  # the batch's second notice, also asked for alone
    await store(uow, record)  # redelivered
    rows = await pool.fetch("SELECT notice_id FROM notices ORDER BY notice_id")
    assert len(rows) == 3, "one stored notice per request, whichever record asked for it"
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 3


async def test_a_notice_whose_key_names_another_member_is_dead_lettered(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(uow, profile_record("m-a"), profile_record("m-b"))
    await store(
        uow,
        notice_record(
            "m-a",
            EventType.PURCHASE_REQUEST_ACCEPTED,
            PurchaseRequestAccepted(request_id="r"),
            "c",
            key="m-b",
        ),
    )
    assert await pool.fetchval("SELECT count(*) FROM notices") == 0
    assert await pool.fetchval("SELECT topic FROM outbox") == topics.DEAD_LETTERS


async def test_preferences_switch_types_off_raise_the_severity_and_hold_informational_emails(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(uow, profile_record("m-p", email="p@example.org", min_severity=Severity.LOW))
    async with uow() as unit:
        await PreferencesRepository(unit.conn).save(
            "m-p",
            Preferences(
                disabled_types=frozenset({EventType.PURCHASE_REQUEST_REJECTED}),
                min_risk_severity=Severity.HIGH,
                daily_digest=True,
            ),
        )
    rejection = PurchaseRequestRejected(
        request_id="r-9", reason="unknown_sku", detail="no such sku"
    )
    alert = RiskAlertNotice(
        alert_id="a", kind="delay", severity="medium", sku="X", summary="s", affected_request_ids=[]
    )
    await store(
        uow,
        accepted("m-p", 1),
        notice_record("m-p", EventType.RISK_ALERT_NOTICE, alert, "alert"),
        notice_record("m-p", EventType.PURCHASE_REQUEST_REJECTED, rejection, "rejected"),
    )
    suppressed = {
        r["notice_type"]: r["suppressed"]
        for r in await pool.fetch("SELECT notice_type, suppressed FROM notices")
    }
    assert suppressed == {
        "purchase_request.accepted": None,
        "risk_alert.notice": "below_min_severity",
        "purchase_request.rejected": "type_disabled",
    }
    statuses = {
        r["channel"]: r["status"]
        for r in await pool.fetch("SELECT channel, status FROM deliveries")
    }
    assert statuses == {"webhook": "pending", "email": "held"}, (
        "the ERP hears now, the inbox in the digest"
    )


async def test_held_notices_become_one_digest_email_when_its_time_comes(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(uow, profile_record("m-d", email="d@example.org"))
    async with uow() as unit:
        await PreferencesRepository(unit.conn).save("m-d", Preferences(daily_digest=True))
    await store(uow, accepted("m-d", 1), accepted("m-d", 2))
    async with uow() as unit:
        assert await make_due_digests(unit, POLICY) == 0, "not before the digest time"
    await pool.execute(
        "UPDATE deliveries SET next_attempt_at = now() - interval '1 second' WHERE status = 'held'"
    )
    async with uow() as unit:
        assert await make_due_digests(unit, POLICY) == 1
    digest = await pool.fetchrow(
        "SELECT notice_id, data FROM notices WHERE notice_type = $1", DIGEST_TYPE
    )
    assert digest is not None and '"r-1"' in digest["data"] and '"r-2"' in digest["data"]
    rows = await pool.fetch(
        "SELECT notice_id, status, digest_id FROM deliveries WHERE channel = 'email'"
    )
    assert sorted(r["status"] for r in rows) == ["digested", "digested", "pending"]
    assert {r["digest_id"] for r in rows if r["status"] == "digested"} == {digest["notice_id"]}


async def test_stored_notices_are_offered_for_delivery_once_committed(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(uow, profile_record("m-o", email="o@example.org"))
    async with uow() as unit:
        await PreferencesRepository(unit.conn).save("m-o", Preferences(daily_digest=True))
    offered = await store(uow, accepted("m-o", 1))
    [webhook] = await pool.fetch("SELECT id FROM deliveries WHERE channel = 'webhook'")
    assert offered == [DueDelivery(webhook["id"], "http://127.0.0.1:9/m-o")], (
        "the e-mail waits for the digest, so only the webhook is due now"
    )
    assert await store(uow, accepted("m-o", 1)) == [], "a redelivered request offers nothing"


async def test_instances_claim_disjoint_deliveries(uow: UnitOfWorkFactory) -> None:
    await project(uow, *(profile_record(f"m-{n}") for n in range(10)))
    await store(uow, *(accepted(f"m-{n}", i) for n in range(10) for i in range(3)))
    seen = await due_ids(uow)
    assert len(seen) == 30

    async def instance() -> set[int]:
        async with uow() as unit:
            claimed = await DeliveriesRepository(unit.conn).claim(seen, 60, 60)
        return {c.delivery_id for c in claimed}

    first, second = await asyncio.gather(instance(), instance())
    assert not first & second and len(first | second) == 30
    assert await instance() == set(), "leased deliveries are not claimed again"
    assert await due_ids(uow) == [], "nor are they due for anyone else"


async def test_the_due_look_up_is_oldest_first_and_skips_excluded_endpoints_and_known_ids(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(uow, profile_record("m-busy"), profile_record("m-free"))
    await store(uow, *(accepted(m, i) for m in ("m-busy", "m-free") for i in range(4)))
    await pool.execute(
        "UPDATE deliveries SET next_attempt_at = now() - make_interval(secs => id) WHERE member_id = 'm-free'"
    )
    free = [r["id"] for r in await pool.fetch(
        "SELECT id FROM deliveries WHERE member_id = 'm-free' ORDER BY next_attempt_at"
    )]
    async with uow() as unit:
        found = await DeliveriesRepository(unit.conn).due(
            100, ["http://127.0.0.1:9/m-busy"], free[:1]
        )
    assert found == [DueDelivery(i, "http://127.0.0.1:9/m-free") for i in free[1:]]
    await pool.execute("UPDATE deliveries SET next_attempt_at = now() + interval '1 minute'")
    assert await due_ids(uow) == [], "a delivery waiting for its next attempt is not due"


async def test_a_lost_lease_records_nothing_and_overdue_deliveries_go_dead(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(uow, profile_record("m-l"))
    await store(uow, accepted("m-l", 1))
    async with uow() as unit:
        [slow] = await DeliveriesRepository(unit.conn).claim(await due_ids(uow), 60, 60)
    await pool.execute("UPDATE deliveries SET lease_until = now() - interval '1 second'")
    async with uow() as unit:
        [taken_over] = await DeliveriesRepository(unit.conn).claim(await due_ids(uow), 60, 60)
    async with uow() as unit:
        recorded = await DeliveriesRepository(unit.conn).record(
            [
                Attempt(slow, True, 200, None, 5.0),
                Attempt(taken_over, False, 500, "HTTP 500", 5.0, retry_in_s=1.0),
            ]
        )
    assert list(recorded) == [(taken_over.delivery_id, taken_over.lease_token)]
    assert recorded[(taken_over.delivery_id, taken_over.lease_token)].status is DeliveryStatus.PENDING
    assert await pool.fetchval("SELECT status FROM deliveries") == "pending"
    assert await pool.fetchval("SELECT count(*) FROM delivery_log") == 2, "both attempts happened"

    await pool.execute("UPDATE deliveries SET deadline = now() - interval '1 second'")
    async with uow() as unit:
        assert await DeliveriesRepository(unit.conn).expire_overdue() == ["webhook"]
    assert await pool.fetchval("SELECT status FROM deliveries") == "dead"
    async with uow() as unit:
        assert await DeliveriesRepository(unit.conn).requeue_dead(slow.notice.notice_id, 60) == 1
    row = await pool.fetchrow("SELECT status, deadline FROM deliveries")
    assert row is not None and row["status"] == "pending" and row["deadline"] > datetime.now(UTC)
