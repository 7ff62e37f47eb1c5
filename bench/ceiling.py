"""The machine's ceiling for the admission pattern, with none of the platform around it.

A bare aiokafka consumer over a pre-filled topic of signed requests does, batch by batch, the
least any admission must: parse and validate each record against the contract, COPY the batch
into PostgreSQL, publish one derived event per row (awaiting the acks) and commit the offsets.
The platform's throughput is judged as a fraction of this figure, measured on the same broker
and database in the same run.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import date

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.platform_bench import prefill
from shared.contract import CloudEvent, PurchaseRequestSubmitted
from shared.runtime.topics import create_topics
from shared.settings import database_url_for

BATCH_SIZE = 500
PARTITIONS = 3
"""As many as the platform stages' topics (tests.support.services.Platform), for a fair ratio."""
FETCH_MAX_WAIT_MS = 50
"""The services' default ALLIANCE_CONSUMER_FETCH_MAX_WAIT_MS."""
COLUMNS = ("member_id", "request_id", "sku", "quantity", "needed_by")

Progress = Callable[[int, int], None]
"""(records done, records in all): called after every batch."""


async def bench_ceiling(
    kafka_bootstrap: str, server_url: str, records: int = 60_000, progress: Progress | None = None
) -> dict[str, object]:
    """Records/s of validate + COPY + publish + commit over a backlog of `records`, timed from
    the first record received (the consumer group's join is not the work being measured)."""
    tag = uuid.uuid4().hex[:8]
    source, derived = f"ceiling{tag}.erp.purchase-requests", f"ceiling{tag}.derived"
    database = f"bench_ceiling_{tag}"
    await create_topics(kafka_bootstrap, [source, derived], partitions=PARTITIONS)
    produce_rate = await prefill(kafka_bootstrap, source, records)
    admin = await asyncpg.connect(database_url_for(server_url, "postgres"))
    await admin.execute(f'CREATE DATABASE "{database}"')
    try:
        conn = await asyncpg.connect(database_url_for(server_url, database))
        try:
            await conn.execute(
                "CREATE TABLE requests (member_id text, request_id text, sku text, quantity integer,"
                " needed_by date, PRIMARY KEY (member_id, request_id))"
            )
            seconds = await _consume(kafka_bootstrap, source, derived, conn, records, progress)
            stored = await conn.fetchval("SELECT count(*) FROM requests")
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    if stored != records:
        raise RuntimeError(f"the ceiling consumer stored {stored} of {records} records")
    return {
        "records": records,
        "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds),
        "batch_size": BATCH_SIZE,
        "partitions": PARTITIONS,
        "topic_depth": records,
        "derived_topic_depth": records,
        "producer_records_per_s": round(produce_rate),
    }


async def _consume(
    bootstrap: str,
    source: str,
    derived: str,
    conn: asyncpg.Connection,
    records: int,
    progress: Progress | None,
) -> float:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"{source}.ceiling",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=BATCH_SIZE,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    done, first_at = 0, 0.0
    try:
        while done < records:
            batch = [r for part in (await consumer.getmany(timeout_ms=1000, max_records=BATCH_SIZE)).values() for r in part]
            if not batch:
                continue
            first_at = first_at or time.perf_counter()
            rows = [_validated_row(record.value) for record in batch]
            async with conn.transaction():
                await conn.copy_records_to_table("requests", records=rows, columns=COLUMNS)
            acks = [
                await producer.send(derived, _derived_event(row), key=row[2].encode())
                for row in rows
            ]
            await asyncio.gather(*acks)
            await consumer.commit()
            done += len(batch)
            if progress:
                progress(done, records)
    finally:
        await producer.stop()
        await consumer.stop()
    return time.perf_counter() - first_at


def _validated_row(value: bytes) -> tuple[str, str, str, int, date]:
    event = CloudEvent.model_validate(json.loads(value))
    request = PurchaseRequestSubmitted.model_validate(event.data)
    return request.member_id, request.request_id, request.sku, request.quantity, request.needed_by


def _derived_event(row: tuple[str, str, str, int, date]) -> bytes:
    member_id, request_id, sku, quantity, needed_by = row
    return json.dumps(
        {"member_id": member_id, "request_id": request_id, "sku": sku, "quantity": quantity,
         "needed_by": needed_by.isoformat()}
    ).encode()
