"""Fuzzing what the services do with records from outside, through the pipelines their consumers
run (each service's declared `subscriptions(...)`, over a unit of work in memory): members'
admission of ERP records, procurement's intake of supplier answers, and both services' intake of
risk alerts.

Whatever the keys, bytes and signature headers of a batch, each record ends in exactly one of:
accepted, rejected (its member is told why), quarantined (failed authentication), dead-lettered
(unreadable or unusable), duplicate or skipped (another service's); no exception escapes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from services.members.domain.admission import Outcome, assess_cancellation, assess_submission
from services.members.domain.members import Member, MemberStatus
from services.members.entrypoints.messaging import subscriptions as members_subscriptions
from services.procurement.domain.bundling import Tier
from services.procurement.domain.catalog import CatalogItem, Supplier
from services.procurement.domain.orders import OrderStatus
from services.procurement.entrypoints.messaging import subscriptions as procurement_subscriptions
from shared import topics
from shared.contract import EventType
from shared.events.members import PurchaseRequestAdmitted
from shared.messaging.records import InboundRecord
from shared.settings import Settings
from shared.signing import SIGNATURE_HEADER, SignatureFailure, sign, verify
from tests.support.fake_members import FakeMembersUnitOfWork
from tests.support.fake_procurement import FakeProcurementUnitOfWork, place_order
from tests.support.fake_unit_of_work import FakeUnitOfWork
from tests.support.intake import intake_of

SETTINGS = Settings(topic_prefix="")
REQUESTS = SETTINGS.topic(topics.PURCHASE_REQUESTS)
RESPONSES = SETTINGS.topic(topics.SUPPLIER_RESPONSES)
ALERTS = SETTINGS.topic(topics.RISK_ALERTS)
admission = intake_of(members_subscriptions(SETTINGS), REQUESTS)
members_risk_intake = intake_of(members_subscriptions(SETTINGS), ALERTS)
supplier_answers = intake_of(procurement_subscriptions(SETTINGS), RESPONSES)
procurement_risk_intake = intake_of(procurement_subscriptions(SETTINGS), ALERTS)

OUTCOMES = {"processed", "rejected", "quarantined", "dead_lettered", "duplicate", "skipped"}
"""How the pipelines count a record: `processed` is accepted."""
NOW = datetime.now(UTC)
HUGE_TIMESTAMP = f"t={'9' * 400},v1={'a' * 64}".encode()
"""A timestamp no clock can reach: it is still just a signature that fails."""

MEMBERS = [
    Member("m-huber", "Huber", MemberStatus.ACTIVE, "DE", "huber-secret"),
    Member("m-berg", "Berg", MemberStatus.SUSPENDED, "DE", "berg-secret"),
    Member("m-maier", "Maier", MemberStatus.ACTIVE, "AT", "maier-new", previous_erp_secret="maier-old",
           previous_secret_valid_until=NOW + timedelta(hours=1)),
]
BOARD = CatalogItem("BOARD-18MM", "Board", "wood", "piece", 1000, 1, (Tier(1, Decimal("10.00")),))
SUPPLIERS = [
    Supplier("s-holz", "Holz", ("DE",), 3, "holz-secret", catalog=(BOARD,)),
    Supplier("s-wald", "Wald", ("DE",), 3, "wald-new", previous_secret="wald-old",
             previous_secret_valid_until=NOW - timedelta(seconds=1), catalog=(BOARD,)),
]
ORDERS = {"ord-1": OrderStatus.PLACED, "ord-2": OrderStatus.CONFIRMED, "ord-3": OrderStatus.REJECTED,
          "ord-4": OrderStatus.CANCELLED}
"""The orders of s-holz in `procurement()`, by the status each is left in."""
SECRETS = ["huber-secret", "berg-secret", "maier-new", "maier-old", "holz-secret", "wald-new", "wald-old", "guessed"]
SENDERS = [m.member_id for m in MEMBERS] + [s.supplier_id for s in SUPPLIERS] + ["m-ghost", "", "ord-1"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
identifiers = st.sampled_from([*SENDERS, *ORDERS, "r-1", "a-1"]) | st.text(max_size=70)
data_fields = {
    "request_id": identifiers, "member_id": identifiers, "supplier_id": identifiers, "order_id": identifiers,
    "alert_id": identifiers, "sku": st.sampled_from(["BOARD-18MM", "NOT-SOLD"]) | st.text(max_size=5),
    "quantity": st.integers(-5, 2_000_000) | json_values, "needed_by": st.dates().map(str) | json_values,
    "max_unit_price": st.from_regex(r"\d{1,3}\.\d{2}", fullmatch=True) | json_values,
    "reason": st.text(max_size=600), "expected_delivery": st.dates().map(str) | json_values,
    "kind": st.sampled_from(["insolvency", "delay", "rumour"]), "severity": st.sampled_from(["low", "critical", "x"]),
    "summary": st.text(max_size=600), "region": st.sampled_from(["DE", "de", "DEU"]),
}
event_data = st.fixed_dictionaries({}, optional=data_fields) | st.dictionaries(st.text(max_size=8), json_values)
event_types = st.sampled_from([*EventType, "joint_order.placed", "nonsense"])


SECRET_OF = {"m-huber": "huber-secret", "m-berg": "berg-secret", "m-maier": "maier-old", "s-holz": "holz-secret",
             "s-wald": "wald-new"}
OUTSIDE_TYPES = [EventType.PURCHASE_REQUEST_SUBMITTED, EventType.PURCHASE_REQUEST_CANCELLED,
                 EventType.JOINT_ORDER_CONFIRMED, EventType.JOINT_ORDER_REJECTED, EventType.RISK_ALERT_RAISED,
                 EventType.RISK_ALERT_RESOLVED]
"""What members and suppliers send, so that a sender's own records get past the door."""
usable_fields = {
    "request_id": st.sampled_from(["r-1", "r-2"]), "sku": st.just("BOARD-18MM"), "quantity": st.integers(1, 50),
    "needed_by": st.just(str((NOW + timedelta(days=30)).date())), "order_id": st.sampled_from(list(ORDERS)),
    "reason": st.just("out of stock"), "alert_id": st.sampled_from(["a-1", "a-2"]),
    "kind": st.sampled_from(["insolvency", "delay"]), "severity": st.sampled_from(["low", "critical"]),
    "summary": st.just("heard so"),
}
usable_data = st.fixed_dictionaries(
    usable_fields, optional={k: v for k, v in data_fields.items() if k not in usable_fields and k != "member_id"}
)


def envelope(event_type: str, data: Any, event_id: str = "e") -> bytes:
    return json.dumps({"specversion": "1.0", "id": event_id, "source": "x", "type": event_type,
                       "time": "2026-11-21T10:00:00Z", "data": data}).encode()


@st.composite
def records(draw: st.DrawFn) -> tuple[str | None, bytes, bytes | None]:
    """(key, value, alliance-signature header) as anyone might send them; a third are a sender's
    own records, signed and naming it, so that the handlers' decisions are reached too."""
    if draw(st.integers(0, 2)) == 0:
        key: str | None = draw(st.sampled_from(sorted(SECRET_OF)))
        assert key is not None
        event_type = draw(st.sampled_from(OUTSIDE_TYPES))
        data = {**draw(usable_data), "member_id": key, "supplier_id": key}
        value = envelope(event_type, data, draw(st.sampled_from(["e-1", "e-2", "e-3"])))
        return key, value, sign(SECRET_OF[key], value, time.time()).encode()
    key = draw(st.sampled_from(SENDERS) | st.none() | st.text(max_size=10))
    if draw(st.integers(0, 9)) == 0:
        value = draw(st.binary(max_size=200))
    else:
        value = envelope(draw(event_types), draw(event_data), draw(st.text(min_size=1, max_size=10)))
    header = draw(
        st.none()
        | st.just(HUGE_TIMESTAMP)
        | st.binary(max_size=80)
        | st.builds(lambda secret, skew: sign(secret, value, time.time() + skew).encode(),
                    st.sampled_from(SECRETS), st.integers(-400, 400) | st.integers(-(10**12), 10**12))
    )
    return key, value, header


batches = st.lists(records(), min_size=1, max_size=4)


def inbound(topic: str, batch: list[tuple[str | None, bytes, bytes | None]]) -> list[InboundRecord]:
    return [
        InboundRecord(topic, 0, offset, None if key is None else key.encode(), value,
                      () if header is None else ((SIGNATURE_HEADER, header),))
        for offset, (key, value, header) in enumerate(batch)
    ]


def members() -> FakeMembersUnitOfWork:
    return FakeMembersUnitOfWork(MEMBERS, skus=["BOARD-18MM"])


async def procurement() -> FakeProcurementUnitOfWork:
    """s-holz holds ORDERS, one request each; the members are known (their alerts are skipped)."""
    uow = FakeProcurementUnitOfWork(SUPPLIERS, known_members=[m.member_id for m in MEMBERS])
    needed_by = (NOW + timedelta(days=30)).date()
    for n, status in enumerate(ORDERS.values(), start=1):
        request = PurchaseRequestAdmitted(request_id=f"r-{n}", member_id="m-huber", sku="BOARD-18MM", quantity=10,
                                          needed_by=needed_by, country="DE")
        order = await place_order(uow, "s-holz", [request], Decimal("10.00"))
        async with uow:
            if status is OrderStatus.CANCELLED:
                await uow.orders.cancel(order.order_id, "ops")
            elif status is not OrderStatus.PLACED:
                await uow.orders.record_answer(order.order_id, status)
    return uow


async def take(uow: FakeUnitOfWork, intake, records: list[InboundRecord]) -> Counter[str]:
    """One batch through `intake`; what became of its records, checked against what was set aside."""
    async with uow:
        await intake(uow, records)
    outcomes = uow.outcomes(records[0].topic)
    assert set(outcomes) <= OUTCOMES
    assert sum(outcomes.values()) == len(records), f"every record ends exactly once: {outcomes}"
    assert len(uow.quarantined) == outcomes["quarantined"]
    assert len(uow.dead_letters) == outcomes["dead_lettered"]
    return outcomes


@settings(deadline=None)
@given(batches, st.booleans())
@example([("m-huber", envelope(EventType.PURCHASE_REQUEST_SUBMITTED, {}), HUGE_TIMESTAMP)], False)
def test_every_erp_record_is_accepted_rejected_quarantined_dead_lettered_or_a_duplicate(batch, seen_before) -> None:
    async def run() -> None:
        uow = members()
        if seen_before:
            async with uow:
                await uow.admitted.add([("m-huber", "r-1", "BOARD-18MM", b"fingerprint"),
                                        ("m-maier", "r-1", "BOARD-18MM", b"fingerprint")])
        outcomes = await take(uow, admission, inbound(REQUESTS, batch))
        assert outcomes["skipped"] == 0

    asyncio.run(run())


@settings(deadline=None)
@given(batches)
@example([("s-holz", envelope(EventType.JOINT_ORDER_CONFIRMED, {"order_id": "ord-1"}), HUGE_TIMESTAMP)])
def test_every_supplier_answer_is_accepted_quarantined_dead_lettered_or_a_duplicate(batch) -> None:
    async def run() -> None:
        outcomes = await take(await procurement(), supplier_answers, inbound(RESPONSES, batch))
        assert outcomes["rejected"] == outcomes["skipped"] == 0

    asyncio.run(run())


@settings(deadline=None)
@given(batches)
@example([("s-holz", envelope(EventType.RISK_ALERT_RAISED, {}), HUGE_TIMESTAMP)])
def test_every_risk_alert_is_taken_by_one_service_or_quarantined_by_both(batch) -> None:
    """Members' records are the members service's, the others procurement's; one keyed by
    nobody (no key, or not UTF-8) is quarantined by both."""

    async def run() -> None:
        records = inbound(ALERTS, batch)
        by_members = await take(members(), members_risk_intake, records)
        by_procurement = await take(await procurement(), procurement_risk_intake, records)
        assert by_members["skipped"] + by_procurement["skipped"] <= len(records), "every record is someone's"
        assert by_members["rejected"] == by_procurement["rejected"] == 0

    asyncio.run(run())


@given(st.none() | st.binary(max_size=120) | st.text(max_size=120), st.binary(max_size=50),
       st.lists(st.text(max_size=10), max_size=3), st.floats(-1e12, 1e12))
@example(HUGE_TIMESTAMP, b"body", ["secret"], NOW.timestamp())
@example(f"t=-{'9' * 400},v1={'a' * 64}", b"body", ["secret"], NOW.timestamp())
def test_a_signature_header_verifies_or_fails_with_its_reason(header, body: bytes, secrets, now: float) -> None:
    assert verify(header, body, secrets, now=now) in {None, *SignatureFailure}


@given(event_data, st.sampled_from(MEMBERS), st.booleans())
def test_the_admission_rules_decide_any_authenticated_data(data: dict[str, Any], member: Member, known: bool) -> None:
    submitted = assess_submission(data, member, {"BOARD-18MM"}, b"fingerprint" if known else None)
    assert submitted.outcome in {Outcome.ACCEPTED, Outcome.RESUBMITTED, Outcome.REJECTED}
    assert (submitted.reason != "") == (submitted.outcome is Outcome.REJECTED)
    cancelled = assess_cancellation(data, member, known)
    assert cancelled.outcome in {Outcome.CANCELLATION, Outcome.REJECTED}
    assert len(submitted.request_id) <= 64 and len(cancelled.request_id) <= 64


def test_the_generators_reach_every_outcome() -> None:
    """The records the generators can draw are not all refused at the door."""
    request = {"request_id": "r-2", "member_id": "m-huber", "sku": "BOARD-18MM", "quantity": 3,
               "needed_by": str((NOW + timedelta(days=30)).date())}

    def erp(data: dict[str, Any], secret: str = "huber-secret", event_id: str = "e-1") -> tuple[str, bytes, bytes]:
        value = envelope(EventType.PURCHASE_REQUEST_SUBMITTED, data, event_id)
        return "m-huber", value, sign(secret, value, time.time()).encode()

    batch = [erp(request), erp(request), erp({**request, "sku": "NOT-SOLD"}, event_id="e-2"),
             erp(request, secret="guessed", event_id="e-3"), ("m-huber", b"\xff", None)]
    outcomes = asyncio.run(take(members(), admission, inbound(REQUESTS, batch)))
    assert outcomes == {"processed": 1, "duplicate": 1, "rejected": 1, "quarantined": 1, "dead_lettered": 1}
    suppliers_alert = ("s-holz", envelope(EventType.RISK_ALERT_RAISED, {}), None)
    assert asyncio.run(take(members(), members_risk_intake, inbound(ALERTS, [suppliers_alert]))) == {"skipped": 1}

    async def confirm() -> Counter[str]:
        confirmation = envelope(EventType.JOINT_ORDER_CONFIRMED, {"order_id": "ord-1", "supplier_id": "s-holz"})
        signature = sign("holz-secret", confirmation, time.time()).encode()
        return await take(await procurement(), supplier_answers, inbound(RESPONSES, [("s-holz", confirmation, signature)]))

    assert asyncio.run(confirm()) == {"processed": 1}
