"""After the order end to end, through the real broker and PostgreSQL: the issue's example.

Two ERPs ask for 60 (m-1, needed first) and 50 (m-2); one line of 110 goes to s-holz, which
answers `partial` 80: m-1 is served whole, m-2 20, and m-2's other 30 go to s-wald at its price.
s-holz ships in two dispatches; the ERPs post their receipts through the members service, m-2's
short by 5; m-1 alone is completed. Procurement is then killed (-9) and started again with no
grace left: the 5 missing units are reported to s-holz once, however often the watch runs."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import date, timedelta

import pytest

from services.procurement.main import WATCH_INTERVAL_S
from shared import topics
from shared.contract import EventType
from shared.signing import SIGNATURE_HEADER, verify
from tests.support.erp import cloud_event, signed
from tests.support.kafka import wait_for_records
from tests.support.procurement import (
    close,
    notices_of,
    notices_until,
    response_record,
    send,
    supplier_events,
    wait_for_open,
    wait_until,
)
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import Platform, platform

pytestmark = pytest.mark.e2e

TODAY = date.today()
SUPPLIER_SECRETS = {"s-holz": "s-holz-secret", "s-wald": "s-wald-secret"}


def erp(member_id: str, event_type: str, data: dict) -> tuple[str, bytes, list]:
    value = cloud_event(event_type, f"erp/{member_id}", {"member_id": member_id, **data})
    return member_id, value, signed(MEMBER_SECRETS.get(member_id, f"{member_id}-erp-secret"), value)


def from_supplier(supplier_id: str, event_type: str, data: dict) -> tuple[str, bytes, list]:
    return response_record(supplier_id, SUPPLIER_SECRETS[supplier_id], event_type,
                           {"supplier_id": supplier_id, **data})


async def told(running: Platform, notice_type: str, count: int) -> list[tuple[str, dict]]:
    return notices_of(await notices_until(running, notice_type, count, timeout=60), notice_type)


async def test_a_partial_answer_two_dispatches_and_a_short_receipt_end_in_one_discrepancy_and_one_completion(
    kafka_bootstrap, postgres_server_url, tmp_path
):
    seed = write_seed(
        tmp_path / "seed.yaml",
        [member("m-1"), member("m-2")],
        [supplier("s-holz", [item("BOARD-18MM", [(1, "10.00"), (100, "9.00")])]),
         supplier("s-wald", [item("BOARD-18MM", [(1, "10.50"), (100, "9.80")])])],
    )
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        await running.start("members", seed)
        procurement = await running.start("procurement", seed, ALLIANCE_RECEIPT_GRACE_DAYS="30")
        await send(running, topics.PURCHASE_REQUESTS, [
            erp(m, EventType.PURCHASE_REQUEST_SUBMITTED, {"request_id": r, "sku": "BOARD-18MM", "quantity": q,
                                                          "needed_by": str(TODAY + timedelta(days=d))})
            for m, r, q, d in (("m-1", "r-1", 60, 20), ("m-2", "r-2", 50, 25))
        ])
        await wait_for_open(procurement, 2)
        assert (await close(procurement))["orders"] == 1
        [placed] = await supplier_events(kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")),
                                         EventType.JOINT_ORDER_PLACED, 1)
        order = placed["data"]
        [line] = order["lines"]
        delivery_of = {d["member_id"]: d["delivery_id"] for d in line["deliveries"]}

        await send(running, topics.SUPPLIER_RESPONSES, [from_supplier("s-holz", EventType.JOINT_ORDER_ANSWERED, {
            "order_id": order["order_id"], "lines": [{"line_id": line["line_id"], "status": "partial",
                                                      "quantity": 80,
                                                      "expected_delivery": str(TODAY + timedelta(days=10))}]})])
        resourced = await told(running, EventType.PURCHASE_REQUEST_RESOURCED, 1)
        confirmed = await told(running, EventType.PURCHASE_REQUEST_CONFIRMED, 2)
        assert sorted((m, d.get("quantity")) for m, d in confirmed) == [("m-1", None), ("m-2", 20)]
        [(who, moved)] = resourced
        assert (who, moved["quantity"], moved["to_supplier_id"], moved["unit_price"], moved["reason"]) == (
            "m-2", 30, "s-wald", "10.50", "supplier_shortfall")
        [wald] = await supplier_events(kafka_bootstrap, running.topic(topics.supplier_orders("s-wald")),
                                       EventType.JOINT_ORDER_PLACED, 1)
        assert wald["data"]["lines"][0]["quantity"] == 30

        arrival = TODAY  # due at once once no grace is left
        await send(running, topics.SUPPLIER_RESPONSES, [
            from_supplier("s-holz", EventType.JOINT_ORDER_DISPATCHED, {
                "order_id": order["order_id"], "dispatch_id": dispatch_id, "shipped_on": str(TODAY - timedelta(days=1)),
                "expected_arrival": str(arrival), "carrier": "DHL", "tracking_id": f"T-{dispatch_id}",
                "deliveries": [{"delivery_id": delivery_of[m], "quantity": units}]})
            for dispatch_id, m, units in (("d-1", "m-1", 60), ("d-2", "m-2", 20))
        ])
        dispatched = await told(running, EventType.PURCHASE_REQUEST_DISPATCHED, 2)
        assert sorted((m, d["quantity"], d["tracking_id"]) for m, d in dispatched) == [
            ("m-1", 60, "T-d-1"), ("m-2", 20, "T-d-2")]

        await send(running, topics.PURCHASE_REQUESTS, [
            erp("m-1", EventType.PURCHASE_REQUEST_RECEIVED, {"request_id": "r-1", "receipt_id": "gr-1",
                                                            "received_on": str(TODAY), "quantity_accepted": 60}),
            erp("m-2", EventType.PURCHASE_REQUEST_RECEIVED, {"request_id": "r-2", "receipt_id": "gr-2",
                                                            "received_on": str(TODAY), "quantity_accepted": 15}),
        ])
        completed = await told(running, EventType.PURCHASE_REQUEST_COMPLETED, 1)
        assert completed == [("m-1", {"request_id": "r-1", "quantity": 60})]

        async def stage_of(member_id: str) -> str:
            async with procurement.admin() as admin:
                detail = (await admin.get(f"/orders/{order['order_id']}")).json()
            return {d["member_id"]: d["stage"] for d in detail["lines"][0]["deliveries"]}[member_id]

        async def m2_received() -> bool:
            return await stage_of("m-2") == "received"

        await wait_until(m2_received, what="m-2's receipt taken")
        assert await stage_of("m-1") == "completed"
        port = procurement.url.rpartition(":")[2]
        cli = await asyncio.create_subprocess_exec(  # as an operator sees it
            sys.executable, "-c", "from shared.cli import main; main()", "orders", "show", order["order_id"],
            env=running.env(ALLIANCE_PROCUREMENT_PORT=port), stdout=asyncio.subprocess.PIPE,
        )
        output, _ = await asyncio.wait_for(cli.communicate(), 60)
        assert cli.returncode == 0
        shown = output.decode()
        assert f"{order['order_id']}\ts-holz" in shown and "partial 80" in shown and "stage received" in shown
        assert "m-1/r-1\tordered 60\tconfirmed 60\tdispatched 60\taccepted 60" in shown and "\tcompleted" in shown
        assert "m-2/r-2\tordered 50\tconfirmed 20\tdispatched 20\taccepted 15\trejected 0\tmissing 0\treceived" in shown

        procurement.kill()
        procurement = await running.start("procurement", seed, ALLIANCE_RECEIPT_GRACE_DAYS="0")
        [report] = await supplier_events(kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")),
                                         EventType.JOINT_ORDER_DISCREPANCY, 1)
        assert report["data"] == {"order_id": order["order_id"], "supplier_id": "s-holz",
                                  "delivery_id": delivery_of["m-2"], "quantity_rejected": 0, "quantity_missing": 5,
                                  "reason": "missing", "note": None}

        async def escalated() -> bool:
            async with procurement.admin() as admin:
                found = (await admin.get("/escalations")).json()
            return [(e["kind"], e["subject"], e["quantity"]) for e in found] == [("not_received", "d-2", 5)]

        await wait_until(escalated, what="the missing goods escalated")
        await asyncio.sleep(3 * WATCH_INTERVAL_S)  # more rounds of the watch, which must report nothing new
        records = await wait_for_records(kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")), 2)
        reports = [r for r in records if json.loads(r.value)["type"] == EventType.JOINT_ORDER_DISCREPANCY]
        assert len(reports) == 1, "reported once, however often the watch ran"
        signature = dict(reports[0].headers)[SIGNATURE_HEADER]
        assert verify(signature, reports[0].value, [SUPPLIER_SECRETS["s-holz"]]) is None
        assert len(await told(running, EventType.PURCHASE_REQUEST_COMPLETED, 1)) == 1
