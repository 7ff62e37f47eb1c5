"""kill -9 of procurement in the middle of a batch of answers and dispatches, then a restart:
every answer, re-sourcing and dispatch takes effect exactly once.

Twenty suppliers each win one order at a close; half answer `partial` (the rest re-sourced to a
backup supplier), half confirm and ship. Procurement dies while it works through them and is
started again; then every request's units are accounted for once: what answered orders confirm
plus what the re-sourced orders carry equals what was asked, and every dispatch was taken once
with one notice per delivery."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import asyncpg
import pytest

from shared import topics
from shared.contract import EventType
from tests.support.kafka import wait_for_records
from tests.support.procurement import admitted, close, response_record, send, supplier_events, wait_for_open
from tests.support.seeds import item, member, supplier, write_seed
from tests.support.services import platform

pytestmark = pytest.mark.integration

SUPPLIERS = [f"s-{n:02d}" for n in range(20)]
SKUS = [f"SKU-{n:02d}" for n in range(20)]
REQUESTS = [(f"m-{n % 6}", f"r-{n}", 10 + n % 7, SKUS[n % 20]) for n in range(120)]


async def test_kill_9_in_a_batch_of_answers_and_dispatches_leaves_every_effect_once(
    kafka_bootstrap, postgres_server_url, tmp_path
):
    seed = write_seed(tmp_path / "seed.yaml", [member("m-0")], [
        *(supplier(s, [item(sku, [(1, "9.00")])]) for s, sku in zip(SUPPLIERS, SKUS, strict=True)),
        supplier("s-back", [item(sku, [(1, "9.50")]) for sku in SKUS]),
    ])
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, (*SUPPLIERS, "s-back")) as running:
        doomed = await running.start("procurement", seed, ALLIANCE_CONSUMER_BATCH_SIZE="8")
        await send(running, topics.ADMITTED_REQUESTS, [admitted(m, r, q, sku) for m, r, q, sku in REQUESTS])
        await wait_for_open(doomed, len(REQUESTS))
        await close(doomed)  # one order per supplier (the share cap puts some on s-back too)

        responses, dispatched = [], 0
        for n, supplier_id in enumerate(SUPPLIERS):
            [placed] = await supplier_events(kafka_bootstrap, running.topic(topics.supplier_orders(supplier_id)),
                                             EventType.JOINT_ORDER_PLACED, 1)
            order = placed["data"]
            [line] = order["lines"]
            secret = f"{supplier_id}-secret"
            if n % 2:
                responses.append(response_record(supplier_id, secret, EventType.JOINT_ORDER_ANSWERED, {
                    "order_id": order["order_id"], "supplier_id": supplier_id,
                    "lines": [{"line_id": line["line_id"], "status": "partial", "quantity": line["quantity"] // 2}]}))
                continue
            responses.append(response_record(supplier_id, secret, EventType.JOINT_ORDER_CONFIRMED, {
                "order_id": order["order_id"], "supplier_id": supplier_id}))
            for d in line["deliveries"]:
                responses.append(response_record(supplier_id, secret, EventType.JOINT_ORDER_DISPATCHED, {
                    "order_id": order["order_id"], "supplier_id": supplier_id, "dispatch_id": f"d-{d['delivery_id']}",
                    "shipped_on": "2026-12-01", "expected_arrival": "2027-01-10",
                    "deliveries": [{"delivery_id": d["delivery_id"], "quantity": d["quantity"]}]}))
                dispatched += 1
        await send(running, topics.SUPPLIER_RESPONSES, responses)

        conn = await asyncpg.connect(running.database_url("procurement"))
        try:
            answered = "SELECT count(*) FROM orders WHERE status <> 'placed' AND supplier_id <> 's-back'"
            while (done := await conn.fetchval(answered)) < 2:
                await asyncio.sleep(0.01)
            doomed.kill()
            assert done < len(SUPPLIERS), "procurement finished before it could be killed mid-stream"
            doomed.start()
            await doomed.wait_healthy()
            for _ in range(600):
                if (await conn.fetchval(answered) == len(SUPPLIERS)
                        and await conn.fetchval("SELECT count(*) FROM dispatches") == dispatched):
                    break
                await asyncio.sleep(0.1)

            accounted = await conn.fetch(
                "SELECT member_id, request_id, sum(units) AS units FROM ("
                " SELECT c.member_id, c.request_id, c.confirmed AS units FROM commitments c"
                " UNION ALL SELECT d.member_id, d.request_id, d.quantity FROM deliveries d"
                "  JOIN orders o USING (order_id) WHERE o.status = 'placed') AS u GROUP BY 1, 2"
            )
            assert {(r["member_id"], r["request_id"]): r["units"] for r in accounted} == {
                (m, r): q for m, r, q, _ in REQUESTS}
            resourced = "SELECT count(*) FROM orders WHERE replaces_order_id IS NOT NULL"
            assert await conn.fetchval(resourced) == len(SUPPLIERS) // 2, "each partial answer re-sourced once"
            assert await conn.fetchval("SELECT count(*) FROM dispatches") == dispatched
        finally:
            await conn.close()
        told = await _dispatched_notices(running, dispatched)
        assert set(told.values()) == {1} and len(told) == dispatched


async def _dispatched_notices(running, expected: int) -> Counter[str]:
    """`purchase_request.dispatched` notices on the broker by event id (a record the relay resent
    after the kill has the same bytes and counts once; a dispatch taken twice would not)."""
    seen: Counter[str] = Counter()
    wanted = 1
    for _ in range(30):
        records = await wait_for_records(running.kafka_bootstrap, running.topic(topics.MEMBER_NOTICES), wanted, 60)
        seen = Counter()
        for value in {r.value for r in records}:
            event = json.loads(value)
            if event["data"].get("notice_type") == EventType.PURCHASE_REQUEST_DISPATCHED:
                seen[event["id"]] += 1
        if len(seen) >= expected:
            return seen
        wanted = len(records) + 1
    return seen
