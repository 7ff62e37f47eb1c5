import json

import pytest

from shared.contract import JointOrderPlaced, PurchaseRequestOrdered, PurchaseRequestSubmitted
from shared.messaging.envelope import Undecodable, decode
from tests.support.events import encode, new_event

GOOD = {
    "specversion": "1.0", "id": "e1", "source": "erp", "type": "purchase_request.submitted",
    "time": "2026-11-21T10:00:00Z", "datacontenttype": "application/json", "data": {"a": 1},
}


def test_round_trip():
    event = new_event("x.happened", "alliance", {"k": "v"})
    assert decode(encode(event)) == event


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty_record"),
        (b"\xff\xfe\x00", "not_utf8"),
        (b"{not json", "not_json"),
        (json.dumps({**GOOD, "specversion": "0.3"}).encode(), "not_cloudevent"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "id"}).encode(), "not_cloudevent"),
        (json.dumps({**GOOD, "time": "2026-11-21T10:00:00"}).encode(), "not_cloudevent"),
        (b"[" * 5000 + b"]" * 5000, "too_deep"),
        (b'{"a":"' + b"x" * (2 * 1024 * 1024) + b'"}', "too_large"),
    ],
)
def test_undecodable_records_have_a_reason(raw, reason):
    with pytest.raises(Undecodable) as error:
        decode(raw)
    assert error.value.reason == reason


def test_brackets_inside_strings_do_not_count_as_nesting():
    event = {**GOOD, "data": {"summary": "[" * 100}}
    assert decode(json.dumps(event).encode()).data["summary"] == "[" * 100


def test_known_fields_strict_unknown_ignored():
    base = {"request_id": "r-1", "member_id": "m", "sku": "S", "quantity": 5, "needed_by": "2026-12-01"}
    assert PurchaseRequestSubmitted.model_validate({**base, "future_field": True}).quantity == 5
    for bad in ({"quantity": "5"}, {"quantity": 0}, {"quantity": 1_000_001}, {"request_id": "bad id"},
                {"max_unit_price": 9.5}, {"max_unit_price": "9,50"}, {"needed_by": "tomorrow"}):
        with pytest.raises(ValueError):
            PurchaseRequestSubmitted.model_validate({**base, **bad})


def test_amounts_are_cents_at_the_edge():
    notice = PurchaseRequestOrdered(
        request_id="r", order_id="o", supplier_id="s", quantity=3, unit_price="9", savings="1.005",
        standalone_unit_price="10.125",
    )
    dumped = json.loads(notice.model_dump_json())
    assert dumped["unit_price"] == "9.00"
    assert dumped["standalone_unit_price"] == "10.125"
    assert dumped["savings"] == "1.01"


def test_order_total_must_equal_its_lines():
    line = {"line_id": "l1", "sku": "S", "quantity": 110, "unit_price": "9.00",
            "deliveries": [{"member_id": "m", "ship_to": None, "quantity": 110, "needed_by": "2026-12-01"}]}
    order = {"order_id": "o", "supplier_id": "s", "cycle_id": "c", "currency": "EUR", "lines": [line]}
    assert JointOrderPlaced.model_validate({**order, "total": "990.00"}).total == 990
    with pytest.raises(ValueError):
        JointOrderPlaced.model_validate({**order, "total": "991.00"})


def test_event_record_has_the_bytes_of_the_model_built_event():
    from datetime import UTC, datetime
    from decimal import Decimal

    from shared.contract import Delivery, OrderLine
    from shared.messaging.envelope import event_record

    order = JointOrderPlaced(
        order_id="o-1", supplier_id="s-1", cycle_id="c-1", total=Decimal("0.375"),
        lines=[OrderLine(line_id="l-1", sku="BOARD", quantity=3, unit_price=Decimal("0.125"), deliveries=[
            Delivery(member_id="m-1", ship_to=None, quantity=3, needed_by="2027-01-01")])],
    )
    at = datetime(2026, 11, 21, 10, 0, 0, 123456, tzinfo=UTC)
    built = encode(new_event("joint_order.placed", "alliance", order, event_id="e-1", time=at))
    record = event_record("t", "s-1", "joint_order.placed", "alliance", order, event_id="e-1", time=at)
    assert (record.topic, record.key, record.value) == ("t", b"s-1", built)
    assert json.loads(built)["data"]["total"] == "0.38"
