"""Who may answer an order, and when scheduled closes fall."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from services.procurement.domain.catalog import Supplier
from services.procurement.domain.orders import OrderRecord, OrderStatus
from services.procurement.domain.responses import authenticate_response, order_held
from services.procurement.domain.schedule import next_close_at, slot_of, slot_start
from shared.reasons import QuarantineReason
from shared.signing import sign

NOW = datetime(2026, 11, 21, 10, 0, 30, tzinfo=UTC)
HOLZ = Supplier("s-holz", "Holz AG", ("DE",), 3, "holz-secret")
ORDER = OrderRecord("ord-1", "s-holz", "cycle-1", OrderStatus.PLACED, Decimal("990"), 110, NOW)


def answer(supplier_id: str = "s-holz", order_id: str = "ord-1") -> tuple[dict, bytes]:
    data = {"order_id": order_id, "supplier_id": supplier_id}
    return data, json.dumps({"data": data}).encode()


def check(key, data, body, header, supplier=HOLZ):
    return authenticate_response(key, data, header, body, supplier, NOW)


def test_a_signed_answer_about_its_own_order_is_authentic():
    data, body = answer()
    assert check("s-holz", data, body, sign("holz-secret", body, NOW.timestamp()).encode()) is None


def test_every_way_an_answer_fails_authentication_has_its_reason():
    data, body = answer()
    good = sign("holz-secret", body, NOW.timestamp()).encode()
    assert check("s-ghost", data, body, good, supplier=None) is QuarantineReason.UNKNOWN_SUPPLIER
    assert check("s-holz", data, body, None) is QuarantineReason.MISSING_SIGNATURE
    assert check("s-holz", data, body, b"t=x") is QuarantineReason.MALFORMED_SIGNATURE
    forged = sign("other-secret", body, NOW.timestamp()).encode()
    assert check("s-holz", data, body, forged) is QuarantineReason.BAD_SIGNATURE
    stale = sign("holz-secret", body, NOW.timestamp() - 301).encode()
    assert check("s-holz", data, body, stale) is QuarantineReason.STALE_TIMESTAMP
    other_data, other_body = answer(supplier_id="s-metall")
    signed_other = sign("holz-secret", other_body, NOW.timestamp()).encode()
    assert check("s-holz", other_data, other_body, signed_other) is QuarantineReason.KEY_NOT_SUPPLIER


def test_an_answer_about_an_order_the_supplier_does_not_hold_is_refused():
    foreign = OrderRecord("ord-2", "s-metall", "cycle-1", OrderStatus.PLACED, Decimal("1"), 1, NOW)
    assert order_held(foreign, HOLZ) is QuarantineReason.ORDER_NOT_HELD
    assert order_held(None, HOLZ) is QuarantineReason.ORDER_NOT_HELD
    assert order_held(ORDER, HOLZ) is None


def test_scheduled_closes_fall_on_multiples_of_the_interval():
    assert next_close_at(NOW, 3600) == datetime(2026, 11, 21, 11, 0, tzinfo=UTC)
    assert next_close_at(datetime(2026, 11, 21, 11, 0, tzinfo=UTC), 3600) == datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert slot_start(slot_of(NOW, 300), 300) == datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
