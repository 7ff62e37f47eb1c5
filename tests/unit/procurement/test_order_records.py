"""The records of placed orders (`order_records.py`) are what the contract's models render: each record
read back by the models renders to the same bytes, and carries what the orders say."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.orders import Delivery, JointOrder, OrderLine, delivery_id
from services.procurement.service_layer import order_records
from services.procurement.service_layer.order_records import Envelope, json_text, placed_messages
from shared import contract, topics
from shared.contract import (
    CloudEvent,
    EventType,
    JointOrderPlaced,
    PurchaseRequestOrdered,
    PurchaseRequestUnfulfillable,
    ShipTo,
)
from shared.events.notices import MemberNoticesRequested, RequestedNotice
from shared.messaging.notices import notice_id
from shared.messaging.records import OutboundMessage
from shared.signing import SIGNATURE_HEADER, verify
from tests.support.close import render_close
from tests.support.events import encode, new_event

TODAY = date(2026, 11, 21)
ODD_TEXT = ['Werk "Süd"', "back\\slash", "tab\there", "new\nline", "bell\x07", "snow ☃ 雪", "del\x7f", "/slash", ""]
NOTICE_DATA = {
    EventType.PURCHASE_REQUEST_ORDERED: PurchaseRequestOrdered,
    EventType.PURCHASE_REQUEST_UNFULFILLABLE: PurchaseRequestUnfulfillable,
}


def example(rng: random.Random, odd: bool):
    prices = [Decimal("9.00"), Decimal("9.0"), Decimal("0.125"), Decimal("0.1250"), Decimal("12.5"), Decimal("1999.99")]
    members = [f"m-{n}" for n in range(12)]
    orders, unfulfillable = [], []
    for s in range(3):
        supplier_id = f"s-{s}"
        order_id = f"ord-{s + 1}"
        lines = []
        for n in range(rng.randint(1, 4)):
            unit_price = rng.choice(prices)
            deliveries = []
            for k in range(rng.randint(1, 30)):
                ship_to = None
                if rng.random() < 0.4:
                    site = rng.choice(ODD_TEXT) or "x" if odd else f"Werk {k}"
                    ship_to = ShipTo(site=site, postal_code=rng.choice(["80331", 'A"1']), country="DE")
                standalone = rng.choice([None, unit_price, unit_price + Decimal("0.37"), unit_price + Decimal("0.005")])
                deliveries.append(Delivery(rng.choice(members), f"r-{s}-{n}-{k}", rng.randint(1, 1_000_000),
                                           TODAY + timedelta(days=rng.randint(0, 400)), ship_to, unit_price, standalone))
            sku = rng.choice(ODD_TEXT) + f"-{n}" if odd else f"SKU-{n:03d}"
            lines.append(OrderLine(f"{order_id}-{n + 1}", sku, unit_price, tuple(deliveries)))
        orders.append(JointOrder(order_id, supplier_id, "cycle-7", tuple(lines), rng.choice([None, "ord-0"])))
    for n in range(rng.randint(0, 20)):
        request = OpenRequest(rng.choice(members), f"u-{n}", "SKU-1", 3, TODAY, "DE")
        unfulfillable.append((request, rng.choice(["capacity", "no_eligible_supplier", "price_above_max_unit_price"])))
    return orders, unfulfillable


def as_the_models_render_it(value: bytes) -> tuple[CloudEvent, bytes]:
    """The record read by the contract's models (envelope, data, each notice's data) and
    rendered again by them."""
    event = CloudEvent.model_validate_json(value)
    if event.type == EventType.JOINT_ORDER_PLACED:
        data = JointOrderPlaced.model_validate(event.data)
    else:
        told = MemberNoticesRequested.model_validate(event.data)
        data = told.model_copy(update={"notices": tuple(
            RequestedNotice(notice_id=n.notice_id, notice_type=n.notice_type,
                            data=NOTICE_DATA[n.notice_type].model_validate(n.data).model_dump(mode="json"))
            for n in told.notices
        )})
    return event, encode(new_event(event.type, event.source, data, event_id=event.id, time=event.time))


def placed_data(order: JointOrder) -> dict:
    """What the order's `joint_order.placed` says, as the contract's model has it."""
    return JointOrderPlaced(
        order_id=order.order_id,
        supplier_id=order.supplier_id,
        cycle_id=order.cycle_id,
        total=order.total,
        lines=[
            contract.OrderLine(
                line_id=line.line_id,
                sku=line.sku,
                quantity=line.quantity,
                unit_price=line.unit_price,
                deliveries=[
                    contract.Delivery(member_id=d.member_id, ship_to=d.ship_to, quantity=d.quantity,
                                      needed_by=d.needed_by, delivery_id=delivery_id(line.line_id, d))
                    for d in line.deliveries
                ],
            )
            for line in order.lines
        ],
    ).model_dump(mode="json")


def member_notices(cycle_id: str, orders: Sequence[JointOrder], unfulfillable) -> dict[str, list[dict]]:
    """What each member is told, in order (by supplier, line and request, then the ones given
    up on), as the contract's models have it."""
    told: dict[str, list[dict]] = {}
    ordered_type, unfulfillable_type = EventType.PURCHASE_REQUEST_ORDERED, EventType.PURCHASE_REQUEST_UNFULFILLABLE
    for order in sorted(orders, key=lambda o: o.supplier_id):
        for line, d in order.deliveries():
            ordered = PurchaseRequestOrdered(
                request_id=d.request_id, order_id=order.order_id, supplier_id=order.supplier_id, quantity=d.quantity,
                unit_price=line.unit_price, standalone_unit_price=d.standalone_unit_price, savings=d.savings,
            )
            told.setdefault(d.member_id, []).append({
                "notice_id": notice_id(d.member_id, ordered_type, f"{line.line_id}:{d.request_id}"),
                "notice_type": ordered_type,
                "data": ordered.model_dump(mode="json"),
            })
    for request, reason in unfulfillable:
        cause = f"{cycle_id}:{request.request_id}"
        told.setdefault(request.member_id, []).append({
            "notice_id": notice_id(request.member_id, unfulfillable_type, cause),
            "notice_type": unfulfillable_type,
            "data": PurchaseRequestUnfulfillable(request_id=request.request_id, reason=reason).model_dump(mode="json"),
        })
    return told


def check_placed(message: OutboundMessage, order: JointOrder, secret: str) -> None:
    """The supplier's record: the models' bytes, the order's data, signed with its secret."""
    event, rendered = as_the_models_render_it(message.value)
    assert message.value == rendered
    assert message.topic == topics.supplier_orders(order.supplier_id)
    assert message.key == order.supplier_id.encode()
    assert (event.type, event.id) == ("joint_order.placed", f"{order.order_id}.placed")
    assert json.loads(message.value)["data"] == placed_data(order)
    assert verify(dict(message.headers)[SIGNATURE_HEADER], message.value, [secret]) is None


@pytest.mark.parametrize("seed", range(12))
def test_a_closes_records_are_the_models_bytes_with_what_the_orders_say(seed: int):
    rng = random.Random(seed)
    orders, unfulfillable = example(rng, odd=seed % 2 == 1)
    secrets = {o.supplier_id: f"secret-{o.supplier_id}" for o in orders}

    messages = render_close("cycle-7", orders, unfulfillable, secrets)

    for_suppliers, for_members = messages[: 2 * len(orders)], messages[2 * len(orders) :]
    for order, signed, status in zip(orders, for_suppliers[0::2], for_suppliers[1::2], strict=True):
        check_placed(signed, order, secrets[order.supplier_id])
        assert (status.topic, json.loads(status.value)["type"]) == (
            topics.PROCUREMENT_EVENTS, "alliance.joint_order.placed"
        )
    told: dict[str, list[dict]] = {}
    for message in for_members:
        event, rendered = as_the_models_render_it(message.value)
        assert message.value == rendered
        member = event.data["member_id"]
        assert (message.topic, message.key, event.type) == (topics.MEMBER_NOTICES, member.encode(),
                                                            "alliance.member_notices.requested")
        assert event.id == notice_id(member, *(n["notice_id"] for n in event.data["notices"]))
        told.setdefault(member, []).extend(event.data["notices"])
    expected = member_notices("cycle-7", orders, unfulfillable)
    assert list(told) == list(expected)  # one record each, in the order the close met them
    assert told == expected


@pytest.mark.parametrize("seed", range(4))
def test_an_order_placed_whole_renders_as_a_close_renders_it(seed: int):
    orders, _ = example(random.Random(seed), odd=seed % 2 == 1)
    for order in orders:
        signed, status = placed_messages(order, "secret")
        check_placed(signed, order, "secret")
        assert json.loads(status.value)["data"]["replaces_order_id"] == order.replaces_order_id


def test_amounts_are_in_cents_and_unit_prices_keep_the_catalogs_digits():
    ship_to = ShipTo(site="Werk 1", postal_code="80331", country="DE")
    line = OrderLine("ord-9-1", "BOARD", Decimal("0.125"), (
        Delivery("m-a", "r-1", 3, TODAY, None, Decimal("0.125"), Decimal("0.13")),
        Delivery("m-b", "r-1", 5, TODAY, ship_to, Decimal("0.125"), None),
    ))
    order = JointOrder("ord-9", "s-tiny", "cycle-1", (line,))

    signed, _, to_a, to_b = render_close("cycle-1", [order], [], {"s-tiny": "x"})

    placed = json.loads(signed.value)["data"]
    assert (placed["total"], placed["lines"][0]["unit_price"]) == ("1.00", "0.125")
    assert [d["ship_to"] for d in placed["lines"][0]["deliveries"]] == [
        None, {"site": "Werk 1", "postal_code": "80331", "country": "DE"}
    ]
    told = [json.loads(m.value)["data"]["notices"][0]["data"] for m in (to_a, to_b)]
    assert [(d["unit_price"], d["standalone_unit_price"], d["savings"]) for d in told] == [
        ("0.125", "0.13", "0.02"),
        ("0.125", None, "0.00"),
    ]


def test_a_member_with_very_many_notices_gets_records_of_bounded_size(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(order_records, "NOTICES_PER_RECORD", 7)
    orders, unfulfillable = example(random.Random(3), odd=False)
    messages = render_close("cycle-7", orders, unfulfillable, {o.supplier_id: "x" for o in orders})

    records = [json.loads(m.value)["data"] for m in messages if m.topic == topics.MEMBER_NOTICES]
    assert max(len(r["notices"]) for r in records) == 7
    told: dict[str, list[dict]] = {}
    for record in records:
        told.setdefault(record["member_id"], []).extend(record["notices"])
    assert told == member_notices("cycle-7", orders, unfulfillable)


@pytest.mark.parametrize("text", [*ODD_TEXT, "plain-id_1.2:3", "\u2028", "\x00", "\x1f", "é\"\\"])
def test_text_is_escaped_like_pydantic(text: str):
    assert json_text(text).encode() == encode(new_event("t", "s", {"x": text}, event_id="i")).split(b'"x":')[1][:-2]


def test_the_envelope_is_the_one_pydantic_renders():
    for when in (datetime(2026, 11, 21, 10, 0, tzinfo=UTC), datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC)):
        data = {"member_id": "m-1", "notices": []}
        expected = encode(new_event("alliance.member_notices.requested", "alliance/procurement", data,
                                    event_id='id "1"', time=when))
        rendered = Envelope("alliance.member_notices.requested", when).render('id "1"', json.dumps(data, separators=(",", ":")))
        assert rendered == expected
