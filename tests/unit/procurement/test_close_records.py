"""A close's records rendered straight to JSON are byte for byte what the contract's models render."""

from __future__ import annotations

import json
import random
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.orders import Delivery, JointOrder, OrderLine
from services.procurement.service_layer import close_records
from services.procurement.service_layer.close_records import Envelope, json_text
from services.procurement.service_layer.publishing import placed_messages
from shared import topics
from shared.contract import (
    CloudEvent,
    EventType,
    JointOrderPlaced,
    PurchaseRequestOrdered,
    PurchaseRequestUnfulfillable,
    ShipTo,
    to_cents,
)
from shared.events.notices import MemberNoticesRequested
from shared.messaging.notices import member_notices
from shared.signing import SIGNATURE_HEADER, verify
from tests.support.close import render_close
from tests.support.events import encode, new_event

TODAY = date(2026, 11, 21)
TIME = re.compile(rb'"time":"[^"]*"')
ODD_TEXT = ['Werk "Süd"', "back\\slash", "tab\there", "new\nline", "bell\x07", "snow ☃ 雪", "del\x7f", "/slash", ""]


def reference(prefix: str, cycle_id: str, orders, unfulfillable, secrets):
    """What a close published before records were rendered directly: the models' rendering."""
    messages = []
    notices: dict[str, list] = {}
    for order in orders:
        messages += placed_messages(prefix, order, secrets[order.supplier_id])
        for line, delivery in order.deliveries():
            ordered = PurchaseRequestOrdered(
                request_id=delivery.request_id, order_id=order.order_id, supplier_id=order.supplier_id,
                quantity=delivery.quantity, unit_price=line.unit_price,
                standalone_unit_price=delivery.standalone_unit_price, savings=delivery.savings,
            )
            notices.setdefault(delivery.member_id, []).append(
                (EventType.PURCHASE_REQUEST_ORDERED, ordered, f"{line.line_id}:{delivery.request_id}")
            )
    for request, reason in unfulfillable:
        notices.setdefault(request.member_id, []).append((
            EventType.PURCHASE_REQUEST_UNFULFILLABLE,
            PurchaseRequestUnfulfillable(request_id=request.request_id, reason=reason),
            f"{cycle_id}:{request.request_id}",
        ))
    size = close_records.NOTICES_PER_RECORD
    messages += [
        member_notices(prefix, "alliance/procurement", member, told[start : start + size])
        for member, told in notices.items()
        for start in range(0, len(told), size)
    ]
    return messages


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


@pytest.mark.parametrize("seed", range(12))
def test_records_are_byte_for_byte_what_the_models_render(seed: int):
    rng = random.Random(seed)
    orders, unfulfillable = example(rng, odd=seed % 2 == 1)
    secrets = {o.supplier_id: f"secret-{o.supplier_id}" for o in orders}

    fast = render_close("p.", "cycle-7", orders, unfulfillable, secrets)
    slow = reference("p.", "cycle-7", orders, unfulfillable, secrets)

    assert [(m.topic, m.key) for m in fast] == [(m.topic, m.key) for m in slow]
    for mine, theirs in zip(fast, slow, strict=True):
        assert TIME.sub(b'"time":""', mine.value) == TIME.sub(b'"time":""', theirs.value)
        event = CloudEvent.model_validate_json(mine.value)
        if mine.topic.startswith("p." + topics.supplier_orders("")):
            placed = JointOrderPlaced.model_validate(event.data)
            lines = orders[int(placed.order_id[4:]) - 1].lines
            assert placed.total == to_cents(sum((line.amount for line in lines), Decimal(0)))
            header = dict(mine.headers)[SIGNATURE_HEADER]
            assert verify(header, mine.value, [secrets[placed.supplier_id]]) is None
        elif mine.topic == "p." + topics.MEMBER_NOTICES:
            told = MemberNoticesRequested.model_validate(event.data)
            for notice in told.notices:
                if notice.notice_type == EventType.PURCHASE_REQUEST_ORDERED:
                    PurchaseRequestOrdered.model_validate(notice.data)


def test_a_member_with_very_many_notices_gets_records_of_bounded_size(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(close_records, "NOTICES_PER_RECORD", 7)
    rng = random.Random(3)
    orders, unfulfillable = example(rng, odd=False)
    fast = render_close("", "cycle-7", orders, unfulfillable, {o.supplier_id: "x" for o in orders})
    slow = reference("", "cycle-7", orders, unfulfillable, {o.supplier_id: "x" for o in orders})
    assert [TIME.sub(b"", m.value) for m in fast] == [TIME.sub(b"", m.value) for m in slow]
    sizes = [len(json.loads(m.value)["data"]["notices"]) for m in fast if m.topic == topics.MEMBER_NOTICES]
    assert max(sizes) == 7


def test_an_ordered_notice_tells_the_unit_price_the_standalone_price_and_the_savings_in_cents():
    def delivery(member_id: str, quantity: int) -> Delivery:
        return Delivery(member_id, "r-1", quantity, TODAY, None, Decimal("0.1"), Decimal("0.125"))

    line = OrderLine("ord-9-1", "BOARD-18MM", Decimal("0.1"), (delivery("m-a", 3), delivery("m-b", 5)))
    order = JointOrder("ord-9", "s-tiny", "cycle-1", (line,))

    messages = render_close("", "cycle-1", [order], [], {"s-tiny": "secret"})

    told = [(record["data"]["member_id"], notice["data"])
            for record in (json.loads(m.value) for m in messages if m.topic == topics.MEMBER_NOTICES)
            for notice in record["data"]["notices"]]
    assert [(m, d["request_id"], d["unit_price"], d["standalone_unit_price"], d["savings"]) for m, d in told] == [
        ("m-a", "r-1", "0.10", "0.125", "0.08"),
        ("m-b", "r-1", "0.10", "0.125", "0.13"),
    ]


@pytest.mark.parametrize("text", [*ODD_TEXT, "plain-id_1.2:3", "\u2028", "\x00", "\x1f", "é\"\\"])
def test_text_is_escaped_like_pydantic(text: str):
    assert json_text(text).encode() == encode(new_event("t", "s", {"x": text}, event_id="i")).split(b'"x":')[1][:-2]


def test_the_envelope_is_the_one_pydantic_renders():
    from datetime import UTC, datetime

    for when in (datetime(2026, 11, 21, 10, 0, tzinfo=UTC), datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC)):
        data = {"member_id": "m-1", "notices": []}
        expected = encode(new_event("alliance.member_notices.requested", "alliance/procurement", data,
                                    event_id='id "1"', time=when))
        rendered = Envelope("alliance.member_notices.requested", when).render('id "1"', json.dumps(data, separators=(",", ":")))
        assert rendered == expected
