"""A cycle close is all or nothing: killed with SIGKILL in the middle, restarted, or raced by
three instances at once, every request is placed exactly once. The closes are held just before
their commit from outside, by a lock on procurement's database (`tests/support/close_hold.py`)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared import topics
from tests.support.close_hold import CloseHold
from tests.support.kafka import notices_told, wait_for_records
from tests.support.procurement import admitted, close, send, wait_for_open, wait_until
from tests.support.seeds import item, member, supplier, write_seed
from tests.support.services import platform

pytestmark = pytest.mark.integration

SKUS = ("BOARD-18MM", "BOARD-24MM", "BEAM-KVH")
REQUESTS = [(f"m-{n % 7}", f"r-{n}", 5 + n % 40, SKUS[n % 3]) for n in range(150)]


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    catalog = [item(sku, [(1, "10.00"), (100, "9.00"), (500, "8.50")]) for sku in SKUS]
    return write_seed(
        tmp_path / "seed.yaml",
        [member("m-huber")],
        [supplier("s-holz", catalog), supplier("s-wald", catalog, lead_time_days=4)],
    )


async def placements(running) -> Counter[tuple[str, str]]:
    """How often each (member, request) sits on an order, from procurement's database."""
    conn = await asyncpg.connect(running.database_url("procurement"))
    try:
        rows = await conn.fetch("SELECT member_id, request_id FROM deliveries")
    finally:
        await conn.close()
    return Counter((r["member_id"], r["request_id"]) for r in rows)


async def traces_of_closes(running) -> dict[str, int]:
    """The rows a close writes: its cycle, orders, deliveries, and outbox rows for suppliers and members."""
    told = [running.topic(topics.supplier_orders(s)) for s in ("s-holz", "s-wald")] + [
        running.topic(topics.MEMBER_NOTICES)
    ]
    conn = await asyncpg.connect(running.database_url("procurement"))
    try:
        traces = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("cycles", "orders", "deliveries")}
        traces["outbox"] = await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = ANY($1)", told)
        return traces
    finally:
        await conn.close()


async def backend_gone(running, pid: int) -> bool:
    conn = await asyncpg.connect(running.database_url("procurement"))
    try:
        return not await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)
    finally:
        await conn.close()


async def assert_placed_exactly_once(running) -> None:
    expected = {(m, r) for m, r, _, _ in REQUESTS}
    placed = await placements(running)
    assert set(placed) == expected and set(placed.values()) == {1}
    orders = []
    for supplier_id in ("s-holz", "s-wald"):
        topic = running.topic(topics.supplier_orders(supplier_id))
        try:
            orders += await wait_for_records(running.kafka_bootstrap, topic, 1, timeout=5)
        except TimeoutError:
            continue
    delivered = sum(d["quantity"] for o in orders for line in json.loads(o.value)["data"]["lines"]
                    for d in line["deliveries"])
    assert delivered == sum(q for _, _, q, _ in REQUESTS)
    members = {m for m, _, _, _ in REQUESTS}  # one record per member tells it all its requests
    wanted = len(members)
    while True:
        records = await wait_for_records(running.kafka_bootstrap, running.topic(topics.MEMBER_NOTICES), wanted)
        unique = list({r.value: r for r in records}.values())  # the outbox may resend a record, same bytes
        if len(unique) >= len(members):
            break
        wanted = len(records) + 1
    ordered = Counter(
        (member_id, data["request_id"])
        for member_id, notice_type, data in notices_told(unique)
        if notice_type == "purchase_request.ordered"
    )
    assert set(ordered) == expected and set(ordered.values()) == {1}


async def test_kill_9_in_the_middle_of_a_close_then_restart_places_every_request_once(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        doomed = await running.start("procurement", seed)
        await send(running, topics.ADMITTED_REQUESTS, [admitted(m, r, q, sku) for m, r, q, sku in REQUESTS])
        await wait_for_open(doomed, len(REQUESTS))

        async with CloseHold(running.database_url("procurement")) as hold:
            closing = asyncio.create_task(close(doomed))
            backend = await hold.wait_for_close(closing)
            # All written but its cycle row (being written) and its outbox rows (next), none of it visible.
            assert {"orders", "deliveries", "purchase_requests"} <= await hold.tables_written(backend)
            assert await traces_of_closes(running) == {"cycles": 0, "orders": 0, "deliveries": 0, "outbox": 0}
            doomed.kill()
            with pytest.raises(httpx.HTTPError):
                await closing
        # Released: the killed close's backend writes its cycle row, finds its client gone, rolls back.
        await wait_until(lambda: backend_gone(running, backend), timeout=30, what="the killed close's backend to end")
        assert await traces_of_closes(running) == {"cycles": 0, "orders": 0, "deliveries": 0, "outbox": 0}
        assert await placements(running) == Counter()

        restarted = await running.start("procurement", seed)
        await wait_for_open(restarted, len(REQUESTS))
        report = await close(restarted)
        assert report["requests_placed"] == len(REQUESTS)
        assert (await close(restarted))["requests_considered"] == 0
        await assert_placed_exactly_once(running)


async def test_three_instances_closing_at_once_place_every_request_once(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        instances = [await running.start("procurement", seed) for _ in range(3)]
        try:
            await send(running, topics.ADMITTED_REQUESTS, [admitted(m, r, q, sku) for m, r, q, sku in REQUESTS])
            await wait_for_open(instances[0], len(REQUESTS))
            async with CloseHold(running.database_url("procurement")) as hold:
                closing = asyncio.gather(*(close(instance) for instance in instances))
                # One close waits before its commit, the two others for its decision lock: all at once.
                await hold.wait_for_close(closing, behind=2)
            reports = await closing
            assert sorted(r["requests_placed"] for r in reports) == [0, 0, len(REQUESTS)]
            await assert_placed_exactly_once(running)
        finally:
            for instance in instances:
                instance.stop()
