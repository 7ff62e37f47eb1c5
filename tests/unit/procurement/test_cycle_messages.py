"""What a close publishes for members: one record per member carrying all its notices."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.orders import Delivery, JointOrder, OrderLine
from services.procurement.service_layer.order_records import NOTICES_PER_RECORD
from shared import topics
from shared.messaging.notices import notice_id
from tests.support.close import render_close

TODAY = date(2026, 11, 21)


def order(deliveries: list[tuple[str, str]]) -> JointOrder:
    line = OrderLine("ord-1-1", "BOARD", Decimal("9.00"), tuple(
        Delivery(member, request, 1, TODAY, None, Decimal("9.00"), Decimal("10.00")) for member, request in deliveries
    ))
    return JointOrder("ord-1", "s-holz", "cycle-1", (line,))


def member_records(messages) -> dict[str, list[dict]]:
    told: dict[str, list[dict]] = {}
    for message in messages:
        if message.topic == topics.MEMBER_NOTICES:
            data = json.loads(message.value)["data"]
            told.setdefault(data["member_id"], []).append(data)
    return told


def test_each_member_gets_one_record_with_exactly_its_own_notices_each_with_its_own_id():
    placed = order([("m-a", "r-1"), ("m-b", "r-1"), ("m-a", "r-2")])
    late = OpenRequest("m-b", "r-9", "BOARD", 4, TODAY, "DE")
    messages = render_close("cycle-1", [placed], [(late, "capacity")], {"s-holz": "secret"})

    told = member_records(messages)
    assert {m: len(records) for m, records in told.items()} == {"m-a": 1, "m-b": 1}
    [a], [b] = told["m-a"], told["m-b"]
    assert [(n["notice_type"], n["data"]["request_id"], n["data"].get("savings")) for n in a["notices"]] == [
        ("purchase_request.ordered", "r-1", "1.00"),
        ("purchase_request.ordered", "r-2", "1.00"),
    ]
    assert [(n["notice_type"], n["data"]["request_id"]) for n in b["notices"]] == [
        ("purchase_request.ordered", "r-1"),
        ("purchase_request.unfulfillable", "r-9"),
    ]
    assert a["notices"][0]["notice_id"] == notice_id("m-a", "purchase_request.ordered", "ord-1-1:r-1")
    assert b["notices"][1]["notice_id"] == notice_id("m-b", "purchase_request.unfulfillable", "cycle-1:r-9")


def test_a_member_with_very_many_requests_gets_them_in_records_of_bounded_size():
    many = NOTICES_PER_RECORD * 2 + 1
    messages = render_close("cycle-1", [order([("m-a", f"r-{n}") for n in range(many)])], [], {"s-holz": "x"})

    records = member_records(messages)["m-a"]
    assert [len(r["notices"]) for r in records] == [NOTICES_PER_RECORD, NOTICES_PER_RECORD, 1]
    assert len({n["notice_id"] for r in records for n in r["notices"]}) == many
