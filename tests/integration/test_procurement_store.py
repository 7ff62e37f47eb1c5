"""Procurement's handlers against a real PostgreSQL, without a broker: the seed loads once,
a changed seed updates and rotates secrets, demand is added once, withdrawals wait for nothing
but an open request, and a close writes exactly what it publishes, whether it solves in a thread
or in its solver process, and a close failing just before its commit leaves nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
import pytest

from services.procurement.adapters import bundling_runner, metrics
from services.procurement.adapters.repository import SuppliersRepository
from services.procurement.entrypoints.messaging import subscriptions
from services.procurement.service_layer.catalog import sync_seed
from services.procurement.service_layer.cycle import CloseOptions, close_cycle
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared import topics
from shared.events.members import (
    PURCHASE_REQUEST_ADMITTED,
    WITHDRAW_PURCHASE_REQUEST,
    PurchaseRequestAdmitted,
    WithdrawPurchaseRequest,
)
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork
from shared.seed import Seed
from shared.settings import Settings
from shared.signing import SIGNATURE_HEADER, verify
from tests.support.events import encode, new_event
from tests.support.intake import intake_of
from tests.support.kafka import notices_told

pytestmark = pytest.mark.integration

GRACE = timedelta(hours=1)
NEEDED_BY = (datetime.now(UTC) + timedelta(days=30)).date()


def seed(secret: str = "holz-1", price: str = "9.00") -> Seed:
    return Seed.model_validate({
        "cycle": {"interval_seconds": 3600},
        "suppliers": [{
            "id": "s-holz", "name": "Holz AG", "secret": secret, "regions": ["DE"], "lead_time_days": 3,
            "catalog": [{"sku": "BOARD-18MM", "name": "Board", "category": "wood", "unit": "piece",
                         "capacity_per_cycle": 1000, "tiers": [{"min_quantity": 1, "unit_price": "10.00"},
                                                               {"min_quantity": 100, "unit_price": price}]}],
        }],
    })


@pytest.fixture
def pool(procurement_pool: asyncpg.Pool) -> asyncpg.Pool:
    return procurement_pool


def uow(pool: asyncpg.Pool) -> ProcurementUnitOfWork:
    return ProcurementUnitOfWork(pool)


async def outbox(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT topic, key, value, header_names, header_values FROM outbox ORDER BY id")


take_demand = intake_of(subscriptions(Settings(topic_prefix="")), topics.ADMITTED_REQUESTS)


def record(event_type: str, data, offset: int) -> InboundRecord:
    value = encode(new_event(event_type, "alliance/members", data))
    return InboundRecord(topics.ADMITTED_REQUESTS, 0, offset, b"BOARD-18MM", value)


async def test_the_same_seed_twice_changes_nothing_and_a_changed_one_rotates_the_secret(pool):
    async with uow(pool) as work:
        assert await sync_seed(work, seed(), GRACE) == 1
    async with uow(pool) as work:
        assert await sync_seed(work, seed(), GRACE) == 0
    listed = [r for r in await outbox(pool) if r["topic"] == topics.PROCUREMENT_EVENTS]
    assert [json.loads(r["value"])["data"]["sku"] for r in listed] == ["BOARD-18MM"]

    async with uow(pool) as work:
        assert await sync_seed(work, seed(secret="holz-2", price="8.50"), GRACE) == 1
        holz = await SuppliersRepository(work.conn).get("s-holz")
    assert holz is not None
    assert holz.verification_secrets(datetime.now(UTC)) == ["holz-2", "holz-1"]
    assert str(holz.catalog[0].tiers[1].unit_price) == "8.50"
    assert len([r for r in await outbox(pool) if r["topic"] == topics.PROCUREMENT_EVENTS]) == 1


@pytest.mark.parametrize("in_a_process", [False, True], ids=["solved-in-a-thread", "solved-in-a-process"])
async def test_demand_is_added_once_and_withdrawn_only_while_open_then_a_close_publishes_what_it_wrote(
    pool, in_a_process: bool, monkeypatch: pytest.MonkeyPatch
):
    spawned = []
    if in_a_process:  # as a close of 20k requests or more solves
        monkeypatch.setattr(bundling_runner, "PROCESS_MIN_REQUESTS", 0)
        spawn = bundling_runner._spawn_child

        async def spawn_and_count():
            spawned.append(await spawn())
            return spawned[-1]

        monkeypatch.setattr(bundling_runner, "_spawn_child", spawn_and_count)
    async with uow(pool) as work:
        await sync_seed(work, seed(), GRACE)
    await pool.execute("DELETE FROM outbox")
    requests = [
        PurchaseRequestAdmitted(request_id=f"r-{n}", member_id=f"m-{n % 2}", sku="BOARD-18MM", quantity=30,
                                needed_by=NEEDED_BY, country="DE")
        for n in range(4)
    ]
    batch = [record(PURCHASE_REQUEST_ADMITTED, r, n) for n, r in enumerate(requests)]
    async with uow(pool) as work:
        await take_demand(work, batch + [record(PURCHASE_REQUEST_ADMITTED, requests[0], 9)])
    async with uow(pool) as work:
        await take_demand(work, batch)  # redelivered: the inbox has them
    assert await pool.fetchval("SELECT count(*) FROM purchase_requests WHERE status = 'open'") == 4

    withdraw = WithdrawPurchaseRequest(request_id="r-3", member_id="m-1", sku="BOARD-18MM")
    async with uow(pool) as work:
        await take_demand(work, [record(WITHDRAW_PURCHASE_REQUEST, withdraw, 10)])
    options = CloseOptions(max_supplier_share=0.7, interval_seconds=3600)
    async with uow(pool) as work:
        report = await close_cycle(work, options, datetime.now(UTC) + timedelta(hours=1), "admin")
    assert report is not None and (report.requests_placed, report.quantity_placed) == (3, 90)
    assert [child.returncode for child in spawned] == ([0] if in_a_process else [])
    late = WithdrawPurchaseRequest(request_id="r-0", member_id="m-0", sku="BOARD-18MM")
    async with uow(pool) as work:
        await take_demand(work, [record(WITHDRAW_PURCHASE_REQUEST, late, 11)])

    rows = await outbox(pool)
    [order] = [r for r in rows if r["topic"] == topics.supplier_orders("s-holz")]
    headers = dict(zip(order["header_names"], order["header_values"], strict=True))
    assert verify(headers[SIGNATURE_HEADER], order["value"], ["holz-1"]) is None
    assert json.loads(order["value"])["data"]["total"] == "900.00"
    told = notices_told([SimpleNamespace(value=r["value"]) for r in rows if r["topic"] == topics.MEMBER_NOTICES])
    assert sorted((notice_type, data["request_id"]) for _, notice_type, data in told) == [
        ("purchase_request.cancelled", "r-3"),
        ("purchase_request.ordered", "r-0"),
        ("purchase_request.ordered", "r-1"),
        ("purchase_request.ordered", "r-2"),
        ("purchase_request.rejected", "r-0"),
    ]
    deliveries = await pool.fetch("SELECT request_id, quantity, unit_price FROM deliveries ORDER BY request_id")
    assert [(r["request_id"], r["quantity"], str(r["unit_price"])) for r in deliveries] == [
        ("r-0", 30, "10.00"), ("r-1", 30, "10.00"), ("r-2", 30, "10.00")]


async def test_a_close_failing_just_before_its_commit_leaves_nothing_then_the_next_close_places_everything(pool):
    """`before_commit` runs with every row of the close written, outbox rows included; what it
    raises rolls all of them back: no cycle, order, delivery or outbox row, no request decided, no
    metric moved, so the next close decides the same requests."""
    async with uow(pool) as work:
        await sync_seed(work, seed(), GRACE)
    requests = [
        PurchaseRequestAdmitted(request_id=f"r-{n}", member_id=f"m-{n % 2}", sku="BOARD-18MM", quantity=30,
                                needed_by=NEEDED_BY, country="DE")
        for n in range(4)
    ]
    async with uow(pool) as work:
        await take_demand(work, [record(PURCHASE_REQUEST_ADMITTED, r, n) for n, r in enumerate(requests)])
    await pool.execute("DELETE FROM outbox")
    written: dict[str, int] = {}
    outbox_written: list[str] = []

    async def state(conn) -> dict[str, int]:
        counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("cycles", "orders", "deliveries")}
        counts["open"] = await conn.fetchval("SELECT count(*) FROM purchase_requests WHERE status = 'open'")
        return counts

    async def outbox_topics(conn) -> list[str]:
        return [r["topic"] for r in await conn.fetch("SELECT topic FROM outbox ORDER BY id")]

    async def crash(work: UnitOfWork) -> None:
        written.update(await state(work.conn))
        outbox_written.extend(await outbox_topics(work.conn))
        raise RuntimeError("crashed before the commit")

    options = CloseOptions(max_supplier_share=0.7, interval_seconds=3600)
    closes = metrics.CYCLES_CLOSED._value.get()
    with pytest.raises(RuntimeError, match="crashed before the commit"):
        async with ProcurementUnitOfWork(pool, before_commit=crash) as work:
            await close_cycle(work, options, datetime.now(UTC) + timedelta(hours=1), "admin")
    assert written == {"cycles": 1, "orders": 1, "deliveries": 4, "open": 0}
    assert topics.supplier_orders("s-holz") in outbox_written and topics.MEMBER_NOTICES in outbox_written
    assert await state(pool) == {"cycles": 0, "orders": 0, "deliveries": 0, "open": 4}
    assert await outbox_topics(pool) == []
    assert metrics.CYCLES_CLOSED._value.get() == closes

    async with uow(pool) as work:
        report = await close_cycle(work, options, datetime.now(UTC) + timedelta(hours=1), "admin")
    assert report is not None and report.requests_placed == 4
    assert report.cycle_id == "cycle-1"  # the number the rolled-back close had: no gap in the cycles
    assert await state(pool) == written
    assert await outbox_topics(pool) == outbox_written  # the same close, committed this time
    assert metrics.CYCLES_CLOSED._value.get() == closes + 1
    requests_placed = await pool.fetch("SELECT request_id FROM deliveries ORDER BY request_id")
    assert [r["request_id"] for r in requests_placed] == ["r-0", "r-1", "r-2", "r-3"]
