"""Bundling end to end: two members' ERPs publish signed requests, members admits them,
procurement bundles them at a cycle close into one joint order at the tier their joint volume
reaches, the supplier receives it on its topic and each member is told its own savings."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from shared import topics
from shared.contract import JointOrderPlaced
from shared.signing import SIGNATURE_HEADER, verify
from tests.support.erp import cloud_event, signed
from tests.support.kafka import kafka_producer, wait_for_records
from tests.support.procurement import close, notices_of, notices_until, wait_for_open
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import platform

pytestmark = pytest.mark.e2e


async def test_two_members_60_and_50_get_one_order_of_110_at_9_and_their_own_savings(
    kafka_bootstrap, postgres_server_url, tmp_path
):
    seed = write_seed(
        tmp_path / "seed.yaml",
        [member("m-huber"), member("m-maier")],
        [supplier("s-holz", [item("BOARD-18MM", [(1, "10.00"), (100, "9.00")])])],
    )
    needed_by = (date.today() + timedelta(days=30)).isoformat()
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz",)) as running:
        await running.start("members", seed)
        procurement = await running.start("procurement", seed)
        async with kafka_producer(kafka_bootstrap) as producer:
            for member_id, quantity in (("m-huber", 60), ("m-maier", 50)):
                data = {"request_id": f"{member_id}-7", "member_id": member_id, "sku": "BOARD-18MM",
                        "quantity": quantity, "needed_by": needed_by}
                value = cloud_event("purchase_request.submitted", f"erp/{member_id}", data)
                await producer.send_and_wait(running.topic(topics.PURCHASE_REQUESTS), value,
                                             key=member_id.encode(), headers=signed(MEMBER_SECRETS[member_id], value))
        await wait_for_open(procurement, 2)

        report = await close(procurement)
        assert (report["orders"], report["quantity_placed"]) == (1, 110)

        [record] = await wait_for_records(kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")), 1)
        assert record.key == b"s-holz"
        assert verify(dict(record.headers)[SIGNATURE_HEADER], record.value, ["s-holz-secret"]) is None
        order = JointOrderPlaced.model_validate(json.loads(record.value)["data"])
        [line] = order.lines
        assert (line.quantity, line.unit_price, order.total) == (110, Decimal("9.00"), Decimal("990.00"))
        assert sorted(d.quantity for d in line.deliveries) == [50, 60]

        notices = await notices_until(running, "purchase_request.ordered", 2)
        by_member = {m: d for m, d in notices_of(notices, "purchase_request.ordered")}
        assert by_member["m-huber"] == {
            "request_id": "m-huber-7", "order_id": order.order_id, "supplier_id": "s-holz", "quantity": 60,
            "unit_price": "9.00", "standalone_unit_price": "10.00", "savings": "60.00",
        }
        assert by_member["m-maier"]["savings"] == "50.00" and by_member["m-maier"]["quantity"] == 50
        for record in notices:  # each notice goes to its own member only
            event = json.loads(record.value)
            assert record.key.decode() == event["data"]["member_id"]
