"""Suppliers' answers on `supplier.responses` as procurement's consumer runs them: the declared
intake (decode, authenticate, inbox, validate) and the handler, over a unit of work in memory.
A confirmation reaches each member on the order; a rejection re-sources the order at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from services.procurement.domain.bundling import Tier
from services.procurement.domain.catalog import CatalogItem, Supplier
from services.procurement.domain.demand import RequestStatus
from services.procurement.domain.orders import JointOrder, OrderStatus
from services.procurement.entrypoints.messaging import subscriptions
from shared import topics
from shared.contract import EventType
from shared.events.members import PurchaseRequestAdmitted
from shared.events.notices import MEMBER_NOTICE_REQUESTED
from shared.messaging.records import InboundRecord
from shared.reasons import DeadLetterReason, QuarantineReason
from shared.settings import Settings
from tests.support.erp import cloud_event, signed
from tests.support.fake_procurement import FakeProcurementUnitOfWork, place_order
from tests.support.intake import intake_of

SETTINGS = Settings(topic_prefix="test.")
RESPONSES = SETTINGS.topic(topics.SUPPLIER_RESPONSES)
answers = intake_of(subscriptions(SETTINGS), RESPONSES)

BOARD = CatalogItem("BOARD-18MM", "Board 18 mm", "wood", "piece", 1000, 1,
                    (Tier(1, Decimal("10.00")), Tier(100, Decimal("9.00"))))
HOLZ = Supplier("s-holz", "Holz AG", ("DE",), 3, "holz-secret", catalog=(BOARD,))
WALD = Supplier("s-wald", "Wald GmbH", ("DE",), 3, "wald-secret", catalog=(BOARD,))
NEEDED_BY = (datetime.now(UTC) + timedelta(days=30)).date()
REQUESTS = [
    PurchaseRequestAdmitted(request_id="r-1", member_id="m-huber", sku="BOARD-18MM", quantity=60, needed_by=NEEDED_BY,
                            country="DE"),
    PurchaseRequestAdmitted(request_id="r-2", member_id="m-berg", sku="BOARD-18MM", quantity=40, needed_by=NEEDED_BY,
                            country="DE"),
]


async def placed(*suppliers: Supplier) -> tuple[FakeProcurementUnitOfWork, JointOrder]:
    uow = FakeProcurementUnitOfWork(suppliers, topic_prefix=SETTINGS.topic_prefix)
    return uow, await place_order(uow, "s-holz", REQUESTS, Decimal("9.00"))


def answer(
    order_id: str,
    event_type: str = EventType.JOINT_ORDER_CONFIRMED,
    key: str = "s-holz",
    secret: str = "holz-secret",
    event_id: str = "a-1",
    **data: Any,
) -> InboundRecord:
    value = cloud_event(event_type, "supplier/test", {"order_id": order_id, "supplier_id": key, **data}, event_id)
    return InboundRecord(RESPONSES, 0, 0, key.encode(), value, tuple(signed(secret, value)))


def rejection(order_id: str, **overrides: Any) -> InboundRecord:
    return answer(order_id, EventType.JOINT_ORDER_REJECTED, **{"event_id": "a-2", "reason": "out of stock", **overrides})


async def deliver(uow: FakeProcurementUnitOfWork, *records: InboundRecord) -> None:
    async with uow:
        await answers(uow, list(records))


async def test_a_confirmation_confirms_the_order_and_tells_each_member_on_it():
    uow, order = await placed(HOLZ)
    await deliver(uow, answer(order.order_id, expected_delivery=str(NEEDED_BY)))

    assert (await uow.orders.get(order.order_id)).status is OrderStatus.CONFIRMED
    told = {(n.key, n.data["notice_type"], n.data["data"]["request_id"])
            for n in uow.events(topics.MEMBER_NOTICES, MEMBER_NOTICE_REQUESTED)}
    assert told == {("m-huber", EventType.PURCHASE_REQUEST_CONFIRMED, "r-1"),
                    ("m-berg", EventType.PURCHASE_REQUEST_CONFIRMED, "r-2")}
    [status] = uow.events(topics.PROCUREMENT_EVENTS)
    assert (status.key, status.data["status"], status.data["expected_delivery"]) == (
        "s-holz", "confirmed", str(NEEDED_BY)
    )
    assert await uow.requests.status("m-huber", "r-1") is RequestStatus.CONFIRMED
    assert uow.outcomes(RESPONSES) == {"processed": 1}


@pytest.mark.parametrize(
    ("key", "secret", "order_id", "reason"),
    [
        ("s-holz", "guessed", None, QuarantineReason.BAD_SIGNATURE),
        ("s-ghost", "holz-secret", None, QuarantineReason.UNKNOWN_SUPPLIER),
        ("s-wald", "wald-secret", None, QuarantineReason.ORDER_NOT_HELD),
        ("s-holz", "holz-secret", "ord-404", QuarantineReason.ORDER_NOT_HELD),
    ],
)
async def test_an_answer_not_from_the_orders_supplier_is_quarantined_and_changes_nothing(key, secret, order_id, reason):
    uow, order = await placed(HOLZ, WALD)
    await deliver(uow, answer(order_id or order.order_id, key=key, secret=secret))

    assert [q.reason for q in uow.quarantined] == [reason]
    assert uow.published == uow.messages(topics.QUARANTINE)
    assert (await uow.orders.get(order.order_id)).status is OrderStatus.PLACED
    assert uow.outcomes(RESPONSES) == {"quarantined": 1}


async def test_the_data_must_name_the_supplier_of_the_key():
    uow, order = await placed(HOLZ, WALD)
    value = cloud_event(EventType.JOINT_ORDER_CONFIRMED, "supplier/test",
                        {"order_id": order.order_id, "supplier_id": "s-wald"}, "a-1")
    await deliver(uow, InboundRecord(RESPONSES, 0, 0, b"s-holz", value, tuple(signed("holz-secret", value))))

    assert [q.reason for q in uow.quarantined] == [QuarantineReason.KEY_NOT_SUPPLIER]


async def test_a_different_second_answer_is_dead_lettered_and_the_first_stands():
    uow, order = await placed(HOLZ, WALD)
    await deliver(uow, answer(order.order_id))
    await deliver(uow, rejection(order.order_id))

    [conflict] = uow.dead_letters
    assert conflict.reason == DeadLetterReason.CONFLICTING_ANSWER
    assert (await uow.orders.get(order.order_id)).status is OrderStatus.CONFIRMED
    assert uow.outcomes(RESPONSES) == {"processed": 1, "dead_lettered": 1}


async def test_the_same_answer_again_is_a_duplicate_whether_redelivered_or_resent():
    uow, order = await placed(HOLZ)
    await deliver(uow, answer(order.order_id, event_id="a-1"))
    published = len(uow.published)
    await deliver(uow, answer(order.order_id, event_id="a-1"), answer(order.order_id, event_id="a-9"))

    assert len(uow.published) == published, "nobody is told twice"
    assert uow.outcomes(RESPONSES) == {"processed": 1, "duplicate": 2}


async def test_an_invalid_answer_from_the_supplier_is_dead_lettered():
    uow, order = await placed(HOLZ)
    await deliver(uow, rejection(order.order_id, reason=""))

    assert [d.reason for d in uow.dead_letters] == [DeadLetterReason.INVALID_PAYLOAD]
    assert (await uow.orders.get(order.order_id)).status is OrderStatus.PLACED


async def test_a_rejection_re_sources_the_order_with_another_supplier():
    uow, order = await placed(HOLZ, WALD)
    await deliver(uow, rejection(order.order_id))

    rejected = await uow.orders.get(order.order_id)
    assert (rejected.status, rejected.rejection_reason) == (OrderStatus.REJECTED, "out of stock")
    assert uow.decision_locks == 1, "re-sourcing decides under the decision lock"
    [placed_with_wald] = uow.events(topics.supplier_orders("s-wald"), EventType.JOINT_ORDER_PLACED)
    assert placed_with_wald.key == "s-wald"
    assert {d["member_id"] for line in placed_with_wald.data["lines"] for d in line["deliveries"]} == {
        "m-huber", "m-berg"
    }
    new_order = await uow.orders.get(placed_with_wald.data["order_id"])
    assert (new_order.supplier_id, new_order.replaces_order_id) == ("s-wald", order.order_id)
    resourced = {(n.key, n.data["notice_type"], n.data["data"]["to_supplier_id"])
                 for n in uow.events(topics.MEMBER_NOTICES, MEMBER_NOTICE_REQUESTED)}
    assert resourced == {("m-huber", EventType.PURCHASE_REQUEST_RESOURCED, "s-wald"),
                         ("m-berg", EventType.PURCHASE_REQUEST_RESOURCED, "s-wald")}
    statuses = [(e.key, e.data["status"]) for e in uow.events(topics.PROCUREMENT_EVENTS)]
    assert statuses == [("s-wald", "placed"), ("s-holz", "rejected")]
    assert uow.tables.requests[("m-huber", "r-1")].excluded_suppliers == ["s-holz"]
    assert await uow.requests.status("m-huber", "r-1") is RequestStatus.ORDERED


async def test_a_rejection_with_nobody_else_to_ask_leaves_the_requests_unfulfillable():
    uow, order = await placed(HOLZ)
    await deliver(uow, rejection(order.order_id))

    told = {(n.key, n.data["notice_type"]) for n in uow.events(topics.MEMBER_NOTICES, MEMBER_NOTICE_REQUESTED)}
    assert told == {("m-huber", EventType.PURCHASE_REQUEST_UNFULFILLABLE),
                    ("m-berg", EventType.PURCHASE_REQUEST_UNFULFILLABLE)}
    assert await uow.requests.status("m-berg", "r-2") is RequestStatus.UNFULFILLABLE
    assert uow.events(topics.supplier_orders("s-holz")) == []
