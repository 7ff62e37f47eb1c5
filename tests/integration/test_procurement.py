"""Procurement as a real process on the real broker and database: bundling at a cycle close,
withdrawals, supplier answers (confirm, reject and re-source, forgeries quarantined),
escalation of unanswered orders, and the supplier catalog through the admin API and CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaConsumer

from shared import topics
from shared.contract import JointOrderPlaced, ShipTo
from shared.events.members import WITHDRAW_PURCHASE_REQUEST, WithdrawPurchaseRequest
from shared.messaging.unit_of_work import REASON_HEADER
from shared.signing import SIGNATURE_HEADER, verify
from tests.support.erp import cloud_event, signed
from tests.support.events import encode, new_event
from tests.support.kafka import wait_for_records
from tests.support.procurement import (
    NEEDED_BY,
    admitted,
    close,
    notices_of,
    notices_until,
    open_requests,
    response_record,
    send,
    wait_for_open,
    wait_until,
)
from tests.support.seeds import item, member, supplier, write_seed
from tests.support.services import ADMIN_TOKEN, platform

pytestmark = pytest.mark.integration


def withdraw(member_id: str, request_id: str, sku: str = "BOARD-18MM") -> tuple[str, bytes]:
    command = WithdrawPurchaseRequest(request_id=request_id, member_id=member_id, sku=sku)
    return sku, encode(new_event(WITHDRAW_PURCHASE_REQUEST, "alliance/members", command))


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    return write_seed(
        tmp_path / "seed.yaml",
        [member("m-huber"), member("m-maier")],
        [
            supplier("s-holz", [item("BOARD-18MM", [(1, "10.00"), (100, "9.00")])]),
            supplier("s-wald", [item("BOARD-18MM", [(1, "12.00"), (100, "11.00")])], lead_time_days=5),
        ],
    )


async def test_a_close_bundles_open_demand_into_one_signed_order_and_tells_each_member(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        procurement = await running.start("procurement", seed)
        await send(running, topics.ADMITTED_REQUESTS, [
            admitted("m-huber", "r-1", 60, ship_to=ShipTo(site="Werk", postal_code="80331", country="DE")),
            admitted("m-maier", "r-1", 50),
            admitted("m-maier", "r-gone", 5),
            admitted("m-huber", "r-1", 60),  # admitted twice (a redelivered admission): counted once
        ])
        await send(running, topics.ADMITTED_REQUESTS, [withdraw("m-maier", "r-gone")])
        await wait_for_open(procurement, 2)

        report = await close(procurement)
        assert (report["requests_placed"], report["orders"], report["quantity_placed"], report["savings"]) == (
            2, 1, 110, "110.00")

        [order_record] = await wait_for_records(kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")), 1)
        assert order_record.key == b"s-holz"
        assert verify(dict(order_record.headers)[SIGNATURE_HEADER], order_record.value, ["s-holz-secret"]) is None
        event = json.loads(order_record.value)
        assert event["type"] == "joint_order.placed"
        order = JointOrderPlaced.model_validate(event["data"])
        assert (order.supplier_id, order.total, order.cycle_id) == ("s-holz", Decimal("990.00"), report["cycle_id"])
        [line] = order.lines
        assert (line.sku, line.quantity, line.unit_price) == ("BOARD-18MM", 110, Decimal("9.00"))
        assert sorted((d.member_id, d.quantity) for d in line.deliveries) == [("m-huber", 60), ("m-maier", 50)]

        notices = await notices_until(running, "purchase_request.ordered", 2)
        ordered = sorted(notices_of(notices, "purchase_request.ordered"), key=lambda n: n[0])
        assert [(m, d["request_id"], d["quantity"], d["unit_price"], d["standalone_unit_price"], d["savings"])
                for m, d in ordered] == [
            ("m-huber", "r-1", 60, "9.00", "10.00", "60.00"),
            ("m-maier", "r-1", 50, "9.00", "10.00", "50.00"),
        ]
        assert notices_of(notices, "purchase_request.cancelled") == [("m-maier", {"request_id": "r-gone"})]

        again = await close(procurement)  # closing twice places nothing twice
        assert (again["requests_considered"], again["orders"]) == (0, 0)
        await send(running, topics.ADMITTED_REQUESTS, [withdraw("m-huber", "r-1")])
        notices = await notices_until(running, "purchase_request.rejected", 1)
        assert notices_of(notices, "purchase_request.rejected")[0][1]["reason"] == "already_ordered"
        assert len(await wait_for_records(kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")), 1)) == 1

        metrics = httpx.get(f"{procurement.url}/metrics").text
        assert "alliance_cycles_closed_total 2.0" in metrics
        assert "alliance_bundled_quantity_total 110.0" in metrics
        assert "alliance_savings_eur_total 110.0" in metrics
        assert 'alliance_orders_total{status="placed"} 1.0' in metrics


async def test_a_rejected_order_is_resourced_to_the_next_supplier_and_forgeries_are_quarantined(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        procurement = await running.start("procurement", seed)
        await send(running, topics.ADMITTED_REQUESTS, [admitted("m-huber", "r-1", 60), admitted("m-maier", "r-1", 50)])
        await wait_for_open(procurement, 2)
        await close(procurement)
        [placed] = await wait_for_records(kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")), 1)
        order_id = json.loads(placed.value)["data"]["order_id"]
        about_it = {"order_id": order_id, "supplier_id": "s-holz"}

        forged = cloud_event("joint_order.rejected", "supplier/s-holz", {**about_it, "reason": "x"})
        await send(running, topics.SUPPLIER_RESPONSES, [
            ("s-holz", forged, signed("not-the-secret", forged)),  # bad_signature
            response_record("s-wald", "s-wald-secret", "joint_order.rejected",  # order_not_held
                            {"order_id": order_id, "supplier_id": "s-wald", "reason": "not ours"}),
            response_record("s-ghost", "whatever", "joint_order.confirmed", {**about_it, "supplier_id": "s-ghost"}),
            ("s-holz", b"\x00 not a cloud event", []),  # dead letter
        ])
        quarantined = await wait_for_records(kafka_bootstrap, running.topic(topics.QUARANTINE), 3)
        assert sorted(dict(r.headers)[REASON_HEADER].decode() for r in quarantined) == [
            "bad_signature", "order_not_held", "unknown_supplier"]
        [dead] = await wait_for_records(kafka_bootstrap, running.topic(topics.DEAD_LETTERS), 1)
        assert dict(dead.headers)[REASON_HEADER] == b"not_json"

        await send(running, topics.SUPPLIER_RESPONSES, [
            response_record("s-holz", "s-holz-secret", "joint_order.rejected", {**about_it, "reason": "sawmill fire"})])
        [resourced] = await wait_for_records(kafka_bootstrap, running.topic(topics.supplier_orders("s-wald")), 1)
        assert verify(dict(resourced.headers)[SIGNATURE_HEADER], resourced.value, ["s-wald-secret"]) is None
        new_order = JointOrderPlaced.model_validate(json.loads(resourced.value)["data"])
        assert (new_order.total, new_order.lines[0].quantity, new_order.lines[0].unit_price) == (
            Decimal("1210.00"), 110, Decimal("11.00"))
        notices = await notices_until(running, "purchase_request.resourced", 2)
        told = sorted(notices_of(notices, "purchase_request.resourced"), key=lambda n: n[0])
        assert [(m, d["from_supplier_id"], d["to_supplier_id"], d["order_id"], d["unit_price"],
                 d["standalone_unit_price"], d["savings"]) for m, d in told] == [
            ("m-huber", "s-holz", "s-wald", new_order.order_id, "11.00", "12.00", "60.00"),  # alone at s-wald: 12.00
            ("m-maier", "s-holz", "s-wald", new_order.order_id, "11.00", "12.00", "50.00"),
        ]
        assert all("sawmill" not in json.dumps(d) for _, d in told)

        await send(running, topics.SUPPLIER_RESPONSES, [
            response_record("s-wald", "s-wald-secret", "joint_order.confirmed",
                            {"order_id": new_order.order_id, "supplier_id": "s-wald", "expected_delivery": NEEDED_BY})])
        notices = await notices_until(running, "purchase_request.confirmed", 2)
        confirmed = notices_of(notices, "purchase_request.confirmed")
        assert sorted((m, d["order_id"], d["expected_delivery"]) for m, d in confirmed) == [
            ("m-huber", new_order.order_id, NEEDED_BY), ("m-maier", new_order.order_id, NEEDED_BY)]
        async with procurement.admin() as admin:
            rejected = (await admin.get(f"/orders/{order_id}")).json()
        assert (rejected["status"], rejected["rejection_reason"]) == ("rejected", "sawmill fire")
        metrics = httpx.get(f"{procurement.url}/metrics").text
        assert "alliance_resourced_quantity_total 110.0" in metrics
        assert 'alliance_orders_total{status="rejected"} 1.0' in metrics
        assert 'alliance_orders_total{status="confirmed"} 1.0' in metrics


async def test_a_request_nobody_can_deliver_in_time_is_unfulfillable_and_a_later_one_waits(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        procurement = await running.start("procurement", seed)
        soon = (date.today() + timedelta(days=1)).isoformat()
        await send(running, topics.ADMITTED_REQUESTS, [
            admitted("m-huber", "r-soon", 10, needed_by=soon),  # 3 days lead time at best
            admitted("m-huber", "r-pl", 10, country="PL"),  # nobody ships to PL
            admitted("m-maier", "r-cheap", 10, max_unit_price=Decimal("5.00")),  # may wait for a better tier
        ])
        await wait_for_open(procurement, 3)
        report = await close(procurement)
        assert (report["requests_placed"], report["unfulfillable"], report["waiting"]) == (0, 2, 1)
        notices = await notices_until(running, "purchase_request.unfulfillable", 2)
        assert sorted(d["request_id"] + ":" + d["reason"] for _, d in notices_of(notices, "purchase_request.unfulfillable")) == [
            "r-pl:no_eligible_supplier", "r-soon:no_eligible_supplier"]
        assert await open_requests(procurement) == 1
        metrics = httpx.get(f"{procurement.url}/metrics").text
        assert 'alliance_unfulfillable_requests_total{reason="no_eligible_supplier"} 2.0' in metrics


async def test_an_unanswered_order_is_escalated_and_listed_for_ops(kafka_bootstrap, postgres_server_url, tmp_path, seed):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        procurement = await running.start("procurement", seed, ALLIANCE_ORDER_ANSWER_TIMEOUT_S="1")
        await send(running, topics.ADMITTED_REQUESTS, [admitted("m-huber", "r-1", 10)])
        await wait_for_open(procurement, 1)
        report = await close(procurement)

        async def escalated() -> bool:
            async with procurement.admin() as admin:
                listed = (await admin.get("/orders", params={"escalated": "true"})).json()
            return [o["cycle_id"] for o in listed] == [report["cycle_id"]]

        await wait_until(escalated, timeout=15, what="escalation")

        async def counted() -> bool:
            text = httpx.get(f"{procurement.url}/metrics").text
            return 'alliance_orders_total{status="escalated"} 1.0' in text and "alliance_orders_unanswered 1.0" in text

        await wait_until(counted, timeout=15, what="escalation metrics")
        events = await read_until(kafka_bootstrap, running.topic(topics.PROCUREMENT_EVENTS),
                                  lambda types: "alliance.joint_order.escalated" in types)
        assert events.count("alliance.joint_order.escalated") == 1


async def test_suppliers_through_the_admin_api_and_cli_never_show_a_secret(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        procurement = await running.start("procurement", seed)
        port = procurement.url.rsplit(":", 1)[1]
        env = {**running.env(), "ALLIANCE_PROCUREMENT_PORT": port}

        def cli(*args: str, token: str = ADMIN_TOKEN) -> subprocess.CompletedProcess[str]:
            code = "from shared.cli import main; main()"
            return subprocess.run([sys.executable, "-c", code, *args], env={**env, "ALLIANCE_ADMIN_TOKEN": token},
                                  capture_output=True, text=True, timeout=60)

        listed = cli("suppliers", "list")
        assert listed.returncode == 0, listed.stderr
        assert "s-holz" in listed.stdout and "s-wald" in listed.stdout and "secret" not in listed.stdout
        shown = cli("suppliers", "show", "s-holz")
        assert json.loads(shown.stdout)["catalog"][0]["tiers"][1] == {"min_quantity": 100, "unit_price": "9.00"}
        assert "s-holz-secret" not in shown.stdout

        new = supplier("s-metall", [item("BOLT-M8", [(1, "0.10")], category="metal")], regions=("DE",))
        new["secret"] = "metall-secret-1"
        (tmp_path / "metall.yaml").write_text(yaml.safe_dump(new))
        upserted = cli("suppliers", "upsert", str(tmp_path / "metall.yaml"))
        assert upserted.returncode == 0 and "saved" in upserted.stdout, upserted.stderr
        assert "unchanged" in cli("suppliers", "upsert", str(tmp_path / "metall.yaml")).stdout

        new["secret"] = "metall-secret-2"  # a rotation: the old secret verifies during the grace period
        async with procurement.admin() as admin:
            rotated = await admin.put("/suppliers/s-metall", json=new)
            assert rotated.status_code == 200 and "metall-secret" not in rotated.text
            assert rotated.json()["supplier"]["secret_rotation_grace_until"] is not None
            clash = supplier("s-clash", [item("BOARD-18MM", [(1, "1.00")], category="metal")])
            assert (await admin.put("/suppliers/s-clash", json=clash)).status_code == 409
            assert (await admin.put("/suppliers/s-other", json=new)).status_code == 422
        listed_events = await wait_for_records(kafka_bootstrap, running.topic(topics.PROCUREMENT_EVENTS), 2)
        assert Counter(json.loads(r.value)["data"]["sku"] for r in listed_events) == {"BOARD-18MM": 1, "BOLT-M8": 1}
        assert {json.loads(r.value)["type"] for r in listed_events} == {"alliance.catalog_item.listed"}
        assert running.topic(topics.supplier_orders("s-metall")) in await _topics(kafka_bootstrap)

        closed = cli("cycle", "close")
        assert closed.returncode == 0 and "0 of 0 requests placed" in closed.stdout, closed.stderr
        refused = cli("cycle", "close", token="wrong")
        assert refused.returncode == 1 and "401" in refused.stderr

        procurement.stop()  # the same seed again changes nothing: no second catalog event
        await running.start("procurement", seed)
        await asyncio.sleep(1)
        types = await read_until(kafka_bootstrap, running.topic(topics.PROCUREMENT_EVENTS),
                                 lambda types: "alliance.cycle.closed" in types)
        assert types.count("alliance.catalog_item.listed") == 2


async def read_until(bootstrap: str, topic: str, done, timeout: float = 20.0) -> list[str]:
    """The event types on `topic` from its start, read until `done(types)` holds."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False)
    await consumer.start()
    types: list[str] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not done(types):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{topic}: condition not met, saw {types}")
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                types.extend(json.loads(r.value)["type"] for r in batch)
        for batch in (await consumer.getmany(timeout_ms=500)).values():  # and whatever follows at once
            types.extend(json.loads(r.value)["type"] for r in batch)
    finally:
        await consumer.stop()
    return types


async def _topics(bootstrap: str) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()
