"""Benchmark of after the order: answers, dispatches and goods receipts for the orders of a
100k-request close.

The close of `cycle_close_bench` runs first (its demand, its 20 suppliers); then, through
procurement's own declared intakes (decode, authenticate, inbox, validate, the handler) and its
database, in batches of `ALLIANCE_CONSUMER_BATCH_SIZE` as its consumer hands them over:
- every order answered: a third per line (one line in two `partial` at 80 %, the rest accepted),
  the others `joint_order.confirmed` (v1); the partial ones' shortfalls re-sourced at once;
- every confirmed delivery shipped in a dispatch of its own (`joint_order.dispatched`);
- every dispatched request received (`alliance.purchase_request.received`, as the members
  service forwards it), one in ten short and one in twenty with damaged goods (reported to the
  supplier at once).
Each stage's rate is its events over the time its batches took; the broker is not involved (the
platform stage measures consumption from it). Run alone: `.venv/bin/python bench/lifecycle_bench.py`.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import asyncpg

from bench.cycle_close_bench import SHARE, _load
from services.procurement.entrypoints.messaging import subscriptions
from services.procurement.main import MIGRATIONS
from services.procurement.service_layer.cycle import CloseOptions, close_cycle
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared import topics
from shared.contract import EventType
from shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from shared.documents.standards import Standard
from shared.events.members import PURCHASE_REQUEST_RECEIVED
from shared.messaging.envelope import event_bytes
from shared.messaging.records import InboundRecord
from shared.settings import Settings, database_url_for
from shared.signing import SIGNATURE_HEADER, sign

BATCH = Settings.model_fields["consumer_batch_size"].default


def _record(topic: str, key: str, value: bytes, offset: int, secret: str | None = None) -> InboundRecord:
    headers = ((SIGNATURE_HEADER, sign(secret, value).encode()),) if secret else ()
    return InboundRecord(topic, 0, offset, key.encode(), value, headers)


def _event(event_type: str, source: str, data: dict[str, Any]) -> bytes:
    return event_bytes(event_type, source, data, event_id=str(uuid.uuid4()), time=datetime.now(UTC))


async def _feed(pool: asyncpg.Pool, prefix: str, handler: Any, records: Sequence[InboundRecord]) -> float:
    """Hand `records` to the intake in batches, one transaction each; returns the seconds taken."""
    started = time.perf_counter()
    for start in range(0, len(records), BATCH):
        async with ProcurementUnitOfWork(pool, prefix) as uow:
            await handler(uow, list(records[start : start + BATCH]))
    return time.perf_counter() - started


def _intake(settings: Settings, topic: str) -> Any:
    [subscription] = [s for s in subscriptions(settings) if s.topic == settings.topic(topic)]
    return subscription.handler


async def bench_lifecycle(server_url: str, requests: int = 100_000, skus: int = 1_000, suppliers: int = 20
                          ) -> dict[str, object]:
    database = f"bench_{uuid.uuid4().hex[:12]}"
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    settings = Settings(topic_prefix=prefix)
    admin = await asyncpg.connect(database_url_for(server_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    pool = await create_pool(database_url_for(server_url, database), 4)
    rng = random.Random(17)
    try:
        await apply_migrations(pool, SHARED_MIGRATIONS, MIGRATIONS)
        await _load(pool, random.Random(11), requests, skus, suppliers, Standard.CLOUDEVENTS)
        async with ProcurementUnitOfWork(pool, prefix) as uow:
            started = time.perf_counter()
            await close_cycle(uow, CloseOptions(max_supplier_share=SHARE, interval_seconds=3600),
                              datetime.now(UTC) + timedelta(hours=1), "admin")
            close_seconds = time.perf_counter() - started
        secrets = {r["supplier_id"]: r["secret"] for r in await pool.fetch("SELECT supplier_id, secret FROM suppliers")}
        orders = [json.loads(r["value"])["data"] for r in await pool.fetch(
            "SELECT value FROM outbox WHERE topic LIKE $1 ORDER BY id", f"{prefix}{topics.SUPPLIER_ORDERS_PREFIX}%")
            if json.loads(r["value"])["type"] == EventType.JOINT_ORDER_PLACED]
        await pool.execute("DELETE FROM outbox")
        responses = settings.topic(topics.SUPPLIER_RESPONSES)
        take_responses = _intake(settings, topics.SUPPLIER_RESPONSES)

        answers, served, offset = [], [], 0
        for n, order in enumerate(orders):
            supplier_id = order["supplier_id"]
            data: dict[str, Any] = {"order_id": order["order_id"], "supplier_id": supplier_id}
            if n % 3 == 0:
                event_type = EventType.JOINT_ORDER_ANSWERED
                data["lines"] = [
                    {"line_id": line["line_id"], "status": "partial", "quantity": line["quantity"] * 4 // 5}
                    if i % 2 and line["quantity"] >= 5 else {"line_id": line["line_id"], "status": "accepted"}
                    for i, line in enumerate(order["lines"])
                ]
            else:
                event_type = EventType.JOINT_ORDER_CONFIRMED
            offset += 1
            answers.append(_record(responses, supplier_id, _event(event_type, f"supplier/{supplier_id}", data),
                                   offset, secrets[supplier_id]))
        answer_seconds = await _feed(pool, prefix, take_responses, answers)
        deliveries_answered = await pool.fetchval("SELECT count(*) FROM commitments")

        rows = await pool.fetch(
            "SELECT c.order_id, c.supplier_id, c.delivery_id, c.member_id, c.request_id, c.confirmed, p.sku"
            " FROM commitments c JOIN purchase_requests p USING (member_id, request_id) WHERE c.confirmed > 0"
        )
        today = date.today()
        dispatches = []
        for row in rows:
            offset += 1
            data = {"order_id": row["order_id"], "supplier_id": row["supplier_id"],
                    "dispatch_id": f"LS-{row['delivery_id']}", "shipped_on": str(today),
                    "expected_arrival": str(today + timedelta(days=2)),
                    "deliveries": [{"delivery_id": row["delivery_id"], "quantity": row["confirmed"]}]}
            dispatches.append(_record(responses, row["supplier_id"], _event(
                EventType.JOINT_ORDER_DISPATCHED, f"supplier/{row['supplier_id']}", data), offset,
                secrets[row["supplier_id"]]))
            served.append(row)
        dispatch_seconds = await _feed(pool, prefix, take_responses, dispatches)
        dispatches_taken = await pool.fetchval("SELECT count(*) FROM dispatches")

        admitted = settings.topic(topics.ADMITTED_REQUESTS)
        take_demand = _intake(settings, topics.ADMITTED_REQUESTS)
        receipts = []
        for row in served:
            offset += 1
            data = {"request_id": row["request_id"], "member_id": row["member_id"],
                    "receipt_id": f"WE-{row['delivery_id']}", "received_on": str(today),
                    "quantity_accepted": row["confirmed"]}
            draw = rng.random()
            if row["confirmed"] >= 2 and draw < 0.1:
                data["quantity_accepted"] = row["confirmed"] - 1
            elif row["confirmed"] >= 2 and draw < 0.15:
                data.update(quantity_accepted=row["confirmed"] - 1, quantity_rejected=1, reason="damaged")
            receipts.append(_record(admitted, row["sku"], _event(PURCHASE_REQUEST_RECEIVED, "alliance/members", data),
                                    offset))
        receipt_seconds = await _feed(pool, prefix, take_demand, receipts)
        receipts_taken = await pool.fetchval("SELECT count(*) FROM receipts")
        completed = await pool.fetchval("SELECT count(*) FROM completions")
        discrepancies = await pool.fetchval("SELECT count(*) FROM discrepancies")
    finally:
        await pool.close()
        admin = await asyncpg.connect(database_url_for(server_url, "postgres"))
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    return {
        "requests": requests,
        "close_seconds": close_seconds,
        "orders": len(orders),
        "answers": len(answers),
        "answer_seconds": answer_seconds,
        "answers_per_second": len(answers) / answer_seconds,
        "deliveries_answered": deliveries_answered,
        "deliveries_answered_per_second": deliveries_answered / answer_seconds,
        "dispatches": len(dispatches),
        "dispatches_taken": dispatches_taken,
        "dispatch_seconds": dispatch_seconds,
        "dispatches_per_second": len(dispatches) / dispatch_seconds,
        "receipts": len(receipts),
        "receipts_taken": receipts_taken,
        "receipt_seconds": receipt_seconds,
        "receipts_per_second": len(receipts) / receipt_seconds,
        "requests_completed": completed,
        "discrepancies": discrepancies,
    }


async def _main() -> None:
    server_url = os.environ.get("ALLIANCE_DATABASE_URL")
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory(prefix="alliance-bench-") as scratch:
        postgres = None
        if not server_url:
            from shared.runtime.embedded_postgres import EmbeddedPostgres
            from shared.runtime.ports import free_port

            postgres = EmbeddedPostgres(Path(scratch) / "pg", free_port(), server_settings={"fsync": "off"})
            postgres.start()
            server_url = postgres.server_url
        try:
            result = await bench_lifecycle(server_url, requests)
        finally:
            if postgres:
                postgres.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    asyncio.run(_main())
