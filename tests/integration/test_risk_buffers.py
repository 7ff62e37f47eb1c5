"""Risk buffers in procurement as a real process, on the real broker and database: the members'
requests become demand history, a close sizes the buffer and places its replenishment through
bundling, a receipt books it, and once the only supplier is excluded the subscribers' requests
are served from it (short stock split by cost share), the others told unfulfillable; a kill -9
in the middle of a draw serves nothing twice and loses nothing."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml

from services.procurement.domain.buffers import split_short_stock
from shared import topics
from tests.support.close_hold import CloseHold
from tests.support.kafka import notices_told, wait_for_records
from tests.support.procurement import admitted, close, response_record, send, wait_for_open, wait_until
from tests.support.seeds import item, member, supplier, write_seed
from tests.support.services import platform

pytestmark = pytest.mark.integration

SKU = "BOARD-18MM"
SUBSCRIBERS = ("m-huber", "m-maier")
LEAD_DAYS = 3
SOON = (date.today() + timedelta(days=LEAD_DAYS)).isoformat()
"""Placed at once when a supplier can serve; unable to wait for tomorrow's close when none can."""
HISTORY = [{"m-huber": 10, "m-maier": 20, "m-berg": 7}, {"m-huber": 14, "m-maier": 20}, {"m-huber": 6, "m-maier": 26}]


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    path = write_seed(
        tmp_path / "seed.yaml",
        [member("m-huber"), member("m-maier"), member("m-berg")],
        [supplier("s-holz", [item(SKU, [(1, "10.00"), (50, "9.00")])], lead_time_days=LEAD_DAYS)],
        interval=86_400,
    )
    entries = yaml.safe_load(path.read_text())
    entries["risk_buffers"] = [{
        "sku": SKU,
        "warehouse": {"site": "Zentrallager Nord", "postal_code": "30159", "country": "DE"},
        "service_level": 0.95,
        "holding_cost_per_unit_and_cycle": "0.04",
        "history_cycles": 4,
        "statement_every_cycles": 2,
        "members": list(SUBSCRIBERS),
    }]
    path.write_text(yaml.safe_dump(entries))
    return path


async def buffer_view(service) -> dict:
    async with service.admin() as admin:
        response = await admin.get(f"/buffers/{SKU}")
    assert response.status_code == 200, response.text
    return response.json()


async def build_history(running, service) -> dict:
    """Three cycles of requests, each placed; the buffer's replenishments placed with them and
    booked as received. Returns the buffer as the API shows it then."""
    sent = 0
    for number, quantities in enumerate(HISTORY, start=1):
        records = [admitted(m, f"h{number}-{m}", q, SKU, needed_by=SOON) for m, q in quantities.items()]
        await send(running, topics.ADMITTED_REQUESTS, records)
        sent += len(records)
        await wait_for_open(service, len(records))
        report = await close(service)
        assert report["unfulfillable"] == 0 and report["waiting"] == 0
    # The supplier confirms every order (an unconfirmed one a critical alert would cancel).
    placed = await wait_for_records(running.kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")), 3)
    order_ids = [json.loads(r.value)["data"]["order_id"] for r in placed]
    await send(running, topics.SUPPLIER_RESPONSES, [
        response_record("s-holz", "s-holz-secret", "joint_order.confirmed", {"order_id": o, "supplier_id": "s-holz"})
        for o in order_ids
    ])

    async def confirmed() -> bool:
        async with service.admin() as admin:
            return len((await admin.get("/orders", params={"status": "confirmed"})).json()) == len(order_ids)

    await wait_until(confirmed, what="the orders confirmed")
    # It ships the warehouse's deliveries: their receipt is the after-the-order ledger's too.
    ours = [(o["order_id"], d["delivery_id"], d["quantity"]) for o in (json.loads(r.value)["data"] for r in placed)
            for line in o["lines"] for d in line["deliveries"] if d["member_id"] == "alliance"]
    today = date.today().isoformat()
    await send(running, topics.SUPPLIER_RESPONSES, [
        response_record("s-holz", "s-holz-secret", "joint_order.dispatched", {
            "order_id": order_id, "supplier_id": "s-holz", "dispatch_id": f"d-{n}", "shipped_on": today,
            "expected_arrival": today, "deliveries": [{"delivery_id": delivery_id, "quantity": quantity}]})
        for n, (order_id, delivery_id, quantity) in enumerate(ours)
    ])

    async def dispatched() -> bool:
        return await in_database(running, "SELECT count(*) FROM dispatches") == len(ours)

    await wait_until(dispatched, what="the warehouse's deliveries dispatched")
    view = await buffer_view(service)
    assert view["sizing"]["target"] > 0 and view["on_order"] == view["sizing"]["target"]
    async with service.admin() as admin:
        too_many = await admin.post(f"/buffers/{SKU}/receipts", json={"quantity": view["on_order"] + 1})
        assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "body.quantity"
        booked = await admin.post(f"/buffers/{SKU}/receipts", json={"quantity": view["on_order"]})
    assert booked.status_code == 200, booked.text
    stocked = booked.json()
    assert (stocked["on_hand"], stocked["on_order"]) == (view["on_order"], 0)
    assert Decimal(stocked["unit_cost"]) in (Decimal("9.00"), Decimal("10.00"))
    received = "SELECT coalesce(sum(accepted), 0) FROM receipts WHERE member_id = 'alliance'"
    assert await in_database(running, received) == stocked["on_hand"]
    return stocked


async def in_database(running, query: str) -> int:
    conn = await asyncpg.connect(running.database_url("procurement"))
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


async def exclude_the_only_supplier(service) -> None:
    async with service.admin() as admin:
        response = await admin.post("/alerts", json={
            "supplier_id": "s-holz", "kind": "insolvency", "severity": "critical", "summary": "insolvent",
        })
    assert response.status_code == 201, response.text


async def all_notices(running, at_least: int) -> list[tuple[str, str, dict]]:
    records = await wait_for_records(running.kafka_bootstrap, running.topic(topics.MEMBER_NOTICES), at_least)
    unique = list({r.value: r for r in records}.values())
    return notices_told(unique)


async def notices_settled(running, notice_type: str, count: int) -> list[tuple[str, str, dict]]:
    seen = 1
    for _ in range(30):
        told = await all_notices(running, seen)
        if sum(1 for _, kind, _ in told if kind == notice_type) >= count:
            return told
        seen += 1
    raise TimeoutError(f"{count} {notice_type} notices not seen")


async def test_history_fills_the_buffer_and_an_excluded_supplier_leaves_only_subscribers_served(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz",)) as running:
        procurement = await running.start("procurement", seed)
        stocked = await build_history(running, procurement)
        on_hand = stocked["on_hand"]
        # The replenishment went to the supplier as the alliance's own delivery to the warehouse.
        placed = await wait_for_records(running.kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")), 3)
        deliveries = [d for r in placed for line in json.loads(r.value)["data"]["lines"] for d in line["deliveries"]]
        ours = [d for d in deliveries if d["member_id"] == "alliance"]
        assert ours and all(d["ship_to"]["site"] == "Zentrallager Nord" for d in ours)
        assert sum(d["quantity"] for d in ours) == on_hand

        await exclude_the_only_supplier(procurement)
        needs = {"m-huber": on_hand, "m-maier": on_hand}
        await send(running, topics.ADMITTED_REQUESTS, [
            admitted("m-huber", "x-huber", on_hand, SKU, needed_by=SOON),
            admitted("m-maier", "x-maier", on_hand, SKU, needed_by=SOON),
            admitted("m-berg", "x-berg", 5, SKU, needed_by=SOON),
        ])
        await wait_for_open(procurement, 3)
        await close(procurement)
        after = await buffer_view(procurement)
        assert after["on_hand"] == 0
        shares = {m["member_id"]: Decimal(m["cost_share"]) for m in after["sizing"]["members"]}  # this close's

        told = await notices_settled(running, "purchase_request.served_from_buffer", 2)
        served = {m: d for m, kind, d in told if kind == "purchase_request.served_from_buffer"}
        expected = split_short_stock(needs, shares, on_hand)
        assert {m: d["quantity"] for m, d in served.items()} == expected
        assert sum(expected.values()) == on_hand
        assert all(d["warehouse"] == "Zentrallager Nord" and d["unit_price"] == stocked["unit_cost"]
                   for d in served.values())
        rests = {(m, d["request_id"]): d for m, kind, d in told if kind == "purchase_request.unfulfillable"}
        assert rests[("m-berg", "x-berg")].get("quantity") is None  # a non-subscriber: nothing served
        for member_id in SUBSCRIBERS:
            assert rests[(member_id, f"x-{member_id[2:]}")]["quantity"] == on_hand - expected[member_id]

        # Statements (every 2 closes: after closes 2 and 4), each with the member's own figures only.
        statements = [(m, d) for m, kind, d in await notices_settled(running, "risk_buffer.statement", 4)
                      if kind == "risk_buffer.statement"]
        assert sorted(m for m, _ in statements) == ["m-huber", "m-huber", "m-maier", "m-maier"]
        for member_id, data in statements:
            others = [m for m in ("m-huber", "m-maier", "m-berg") if m != member_id]
            assert not any(other in json.dumps(data) for other in others)
            assert Decimal(data["savings"]) == Decimal(data["standalone_cost"]) - Decimal(data["cost_share"]) >= 0
        last = {m: d for m, d in statements if d["period"] == "cycle-3/cycle-4"}
        assert {m: d["drawn"] for m, d in last.items()} == expected
        async with procurement.admin() as admin:
            shown = await admin.get(f"/buffers/{SKU}/statements/m-huber")
            # An unsubscription changes later closes only: the statement told stays as it was.
            assert (await admin.delete(f"/buffers/{SKU}/subscribers/m-huber")).json()["changed"] is True
            assert (await admin.get(f"/buffers/{SKU}/statements/m-huber")).json() == shown.json() == last["m-huber"]


async def test_the_admin_api_refuses_bad_buffers_naming_the_field(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz",)) as running:
        await running.start("members", seed)  # procurement learns the members' ids from it
        procurement = await running.start("procurement", seed)

        async def known() -> bool:
            async with procurement.admin() as admin:
                return (await admin.post(f"/buffers/{SKU}/subscribers", json={"member_id": "m-berg"})).status_code == 200

        await wait_until(known, what="procurement to know m-berg")
        good = {
            "sku": SKU, "warehouse": {"site": "Lager Süd", "postal_code": "80331", "country": "DE"},
            "service_level": 0.9, "holding_cost_per_unit_and_cycle": "0.05", "members": ["m-huber"],
        }
        async with procurement.admin() as admin:
            async def refused(body: dict, sku: str = SKU) -> str:
                response = await admin.put(f"/buffers/{sku}", json=body)
                assert response.status_code == 422, response.text
                return response.json()["errors"][0]["field"]

            assert await refused({**good, "sku": "NOPE-1"}, "NOPE-1") == "body.sku"
            assert await refused({**good, "members": ["m-stranger"]}) == "body.members[0]"
            assert (await refused({**good, "service_level": 0.9999})).startswith("body.service_level")
            assert (await refused({**good, "service_level": 0.5})).startswith("body.service_level")
            assert (await refused({**good, "holding_cost_per_unit_and_cycle": "-1"})).startswith(
                "body.holding_cost_per_unit_and_cycle")
            unknown_member = await admin.post(f"/buffers/{SKU}/subscribers", json={"member_id": "m-stranger"})
            assert unknown_member.status_code == 422
            assert unknown_member.json()["errors"][0]["field"] == "body.member_id"
            assert (await admin.post("/buffers/NOPE-1/receipts", json={"quantity": 1})).status_code == 404
            saved = await admin.put(f"/buffers/{SKU}", json=good)
            assert saved.status_code == 200, saved.text
            # An existing buffer keeps its subscribers; the rest is updated.
            assert saved.json()["created"] is False
            assert saved.json()["buffer"]["subscribers"] == ["m-berg", *SUBSCRIBERS]
            assert saved.json()["buffer"]["warehouse"]["site"] == "Lager Süd"


async def drawn_rows(running) -> Counter[tuple[str, str]]:
    conn = await asyncpg.connect(running.database_url("procurement"))
    try:
        rows = await conn.fetch("SELECT member_id, request_id, quantity FROM risk_buffer_draws")
    finally:
        await conn.close()
    drawn: Counter[tuple[str, str]] = Counter()
    for row in rows:  # units per request, summed over every row: a second draw would show
        drawn[(row["member_id"], row["request_id"])] += row["quantity"]
    return drawn


async def test_kill_9_in_the_middle_of_a_draw_serves_nothing_twice_and_loses_nothing(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz",)) as running:
        doomed = await running.start("procurement", seed)
        stocked = await build_history(running, doomed)
        await exclude_the_only_supplier(doomed)
        await send(running, topics.ADMITTED_REQUESTS, [admitted("m-huber", "k-huber", 1, SKU, needed_by=SOON)])
        await wait_for_open(doomed, 1)

        async with CloseHold(running.database_url("procurement"), table="risk_buffer_draws") as hold:
            closing = asyncio.create_task(close(doomed))
            backend = await hold.wait_for_close(closing)
            assert "risk_buffers" not in await hold.tables_written(backend)  # its stock not yet
            doomed.kill()
            with pytest.raises(httpx.HTTPError):
                await closing

        async def gone() -> bool:
            conn = await asyncpg.connect(running.database_url("procurement"))
            try:
                return not await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", backend)
            finally:
                await conn.close()

        await wait_until(gone, timeout=30, what="the killed close's backend to end")
        assert await drawn_rows(running) == Counter()

        restarted = await running.start("procurement", seed)
        await wait_for_open(restarted, 1)
        await close(restarted)
        assert (await close(restarted))["requests_considered"] == 0
        assert await drawn_rows(running) == Counter({("m-huber", "k-huber"): 1})
        assert (await buffer_view(restarted))["on_hand"] == stocked["on_hand"] - 1
        told = await notices_settled(running, "purchase_request.served_from_buffer", 1)
        served = Counter((m, d["request_id"]) for m, kind, d in told if kind == "purchase_request.served_from_buffer")
        assert served == Counter({("m-huber", "k-huber"): 1})
        assert not [d for m, kind, d in told if kind == "purchase_request.unfulfillable" and d["request_id"] == "k-huber"]


async def test_kill_9_while_a_rejection_draws_then_the_redelivered_rejection_draws_once(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz",)) as running:
        doomed = await running.start("procurement", seed)
        await build_history(running, doomed)
        await send(running, topics.ADMITTED_REQUESTS, [
            admitted("m-huber", "k-huber", 2, SKU, needed_by=SOON), admitted("m-berg", "k-berg", 3, SKU, needed_by=SOON),
        ])
        await wait_for_open(doomed, 2)
        await close(doomed)
        placed = await wait_for_records(running.kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")), 4)
        order_id = json.loads(placed[-1].value)["data"]["order_id"]
        rejected = response_record("s-holz", "s-holz-secret", "joint_order.rejected",
                                   {"order_id": order_id, "supplier_id": "s-holz", "reason": "warehouse fire"})

        async with CloseHold(running.database_url("procurement"), table="risk_buffer_draws") as hold:
            await send(running, topics.SUPPLIER_RESPONSES, [rejected])
            backend = await hold.wait_for_close()  # the rejection's re-sourcing, drawing for m-huber
            doomed.kill()

        async def gone() -> bool:
            conn = await asyncpg.connect(running.database_url("procurement"))
            try:
                return not await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", backend)
            finally:
                await conn.close()

        await wait_until(gone, timeout=30, what="the killed consumer's backend to end")
        assert await drawn_rows(running) == Counter()

        restarted = await running.start("procurement", seed)  # the rejection is redelivered

        async def drawn() -> bool:
            return bool(await drawn_rows(running))

        await wait_until(drawn, what="the redelivered rejection's draw")
        await send(running, topics.SUPPLIER_RESPONSES, [rejected])  # and once more, resent
        told = await notices_settled(running, "purchase_request.unfulfillable", 1)
        served = Counter((m, d["request_id"]) for m, kind, d in told if kind == "purchase_request.served_from_buffer")
        assert served == Counter({("m-huber", "k-huber"): 1})
        lost = Counter((m, d["request_id"]) for m, kind, d in told
                       if kind == "purchase_request.unfulfillable" and d["request_id"].startswith("k-"))
        assert lost == Counter({("m-berg", "k-berg"): 1})
        assert await drawn_rows(running) == Counter({("m-huber", "k-huber"): 2})
        async with restarted.admin() as admin:
            orders = (await admin.get("/orders", params={"status": "rejected"})).json()
        assert [o["order_id"] for o in orders] == [order_id]
