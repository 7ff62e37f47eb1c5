"""The at-least-once machinery of shared/messaging against the real broker and database:
outbox across a paused broker, inbox against redelivery, poison records to the dead-letter
topic while the partition moves on."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Sequence
from datetime import timedelta

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from shared import topics
from shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from shared.messaging import inbox
from shared.messaging.consumer import Subscription, subscribe
from shared.messaging.envelope import Undecodable, decode
from shared.messaging.outbox import OutboxRelay, outbox_value
from shared.messaging.records import InboundRecord, OutboundMessage
from shared.messaging.unit_of_work import REASON_HEADER, SOURCE_OFFSET_HEADER, UnitOfWork
from shared.runtime.embedded_kafka import EmbeddedKafka
from shared.runtime.ports import free_port
from shared.runtime.topics import create_topics
from tests.support.backends import scratch_directory
from tests.support.events import encode, new_event
from tests.support.kafka import batch_codecs, kafka_producer, wait_for_records

pytestmark = pytest.mark.integration


@pytest.fixture
async def pool(fresh_database):
    pool = await create_pool(fresh_database, 4)
    await apply_migrations(pool, SHARED_MIGRATIONS)
    await pool.execute("CREATE TABLE effects (event_id text PRIMARY KEY, applied integer NOT NULL DEFAULT 1)")
    yield pool
    await pool.close()


PREFIX = "t-"
"""The deployment prefix these units of work add to every topic they publish on."""


def unit_of_work(pool: asyncpg.Pool, relay: OutboxRelay | None = None) -> UnitOfWork:
    return UnitOfWork(pool, PREFIX, relay.wake if relay else lambda: None)


async def apply_effects(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
    """A consumer whose effect must happen once per event id, whatever the redelivery."""
    events = []
    for record in records:
        try:
            events.append(decode(record.value))
        except Undecodable as error:
            uow.dead_letter(record, error.reason, error.detail)
    for event in events:
        if event.type != "thing.happened":
            raise ValueError(f"no handler for {event.type}")
    first_seen = await uow.claim("test-consumer", [e.id for e in events])
    for event_id in first_seen:
        await uow.conn.execute(
            "INSERT INTO effects (event_id) VALUES ($1)"
            " ON CONFLICT (event_id) DO UPDATE SET applied = effects.applied + 1",
            event_id,
        )


async def test_inbox_gives_one_effect_for_a_redelivered_event(pool):
    event = new_event("thing.happened", "test", {"n": 1})
    record = InboundRecord("t", 0, 0, b"k", encode(event))
    for _ in range(3):
        async with unit_of_work(pool) as uow:
            await apply_effects(uow, [record, record])
    assert await pool.fetchval("SELECT applied FROM effects WHERE event_id = $1", event.id) == 1


async def test_the_inbox_forgets_event_ids_past_its_retention_and_only_those(pool):
    await pool.execute(
        "INSERT INTO inbox (consumer, event_id, received_at)"
        " SELECT 'c', 'old-' || n, now() - interval '31 days' + n * interval '1 second'"
        "   FROM generate_series(1, 25) n"
        " UNION ALL SELECT 'c', 'recent-' || n, now() - interval '29 days' FROM generate_series(1, 5) n"
    )
    async with unit_of_work(pool) as uow:
        assert await uow.claim("c", ["new"]) == {"new"}

    forgotten = await inbox.forget_older_than(pool, timedelta(days=30), chunk=10)

    assert forgotten == 25
    left = {r["event_id"] for r in await pool.fetch("SELECT event_id FROM inbox")}
    assert left == {f"recent-{n}" for n in range(1, 6)} | {"new"}
    async with unit_of_work(pool) as uow:
        assert await uow.claim("c", ["old-1", "recent-1", "new"]) == {"old-1"}
    assert await inbox.forget_older_than(pool, timedelta(days=30)) == 0


async def test_poison_records_are_dead_lettered_and_the_partition_moves_on(pool, kafka_bootstrap):
    topic = f"poison-{os.urandom(4).hex()}"
    await create_topics(kafka_bootstrap, [topic, PREFIX + topics.DEAD_LETTERS], partitions=1)
    relay = OutboxRelay(pool, kafka_bootstrap)
    await relay.start()
    relay_task = asyncio.create_task(relay.run())
    broker = KafkaBroker(kafka_bootstrap, enable_idempotence=False)
    subscribe(broker, [Subscription(topic, apply_effects, "test")], f"g-{topic}", lambda: unit_of_work(pool, relay),
              batch_size=100, fetch_max_wait_ms=50)
    good = [new_event("thing.happened", "test", {"n": n}) for n in range(5)]
    async with kafka_producer(kafka_bootstrap) as producer:
        await producer.send_and_wait(topic, encode(good[0]), key=b"k")
        await producer.send_and_wait(topic, b"\x00\x9f not json", key=b"k", headers=[("trace", b"\x01\x02")])
        await producer.send_and_wait(topic, json.dumps({"valid": "json", "wrong": "shape"}).encode(), key=b"k")
        await producer.send_and_wait(topic, encode(new_event("unknown.type", "t", {})), key=b"k")
        for event in good[1:]:
            await producer.send_and_wait(topic, encode(event), key=b"k")
    await broker.start()
    try:
        dead = await wait_for_records(kafka_bootstrap, PREFIX + topics.DEAD_LETTERS, 3, timeout=40)
        for _ in range(100):
            if await pool.fetchval("SELECT count(*) FROM effects") == 5:
                break
            await asyncio.sleep(0.1)
    finally:
        await broker.stop()
        relay_task.cancel()
        await relay.stop()
    by_offset = {int(dict(r.headers)[SOURCE_OFFSET_HEADER]): r for r in dead if r.value}
    assert dict(by_offset[1].headers)[REASON_HEADER] == b"not_utf8"
    assert by_offset[1].value == b"\x00\x9f not json" and dict(by_offset[1].headers)["trace"] == b"\x01\x02"
    assert dict(by_offset[2].headers)[REASON_HEADER] == b"not_cloudevent"
    assert dict(by_offset[3].headers)[REASON_HEADER] == b"handler_error"
    assert {r["event_id"] for r in await pool.fetch("SELECT event_id FROM effects")} == {e.id for e in good}


async def test_compressed_records_are_stored_and_sent_zstd_compressed_in_order_with_the_rest(pool, kafka_bootstrap):
    """An XML supplier's order travels compressed; v1's JSON records around it do not, and a
    partition keeps its records in outbox order across the change of codec."""
    await create_topics(kafka_bootstrap, [PREFIX + "mixed"], partitions=1)
    lines = "".join(f"<cac:OrderLine><cbc:ID>ord-1-{n:05d}</cbc:ID></cac:OrderLine>" for n in range(5_000))
    document = f'{{"data":"<Order>{lines}</Order>"}}'.encode()
    values = [b'{"n":1}', document, b'{"n":2}', document + b" ", b'{"n":3}']
    async with unit_of_work(pool) as uow:
        for n, value in enumerate(values):
            uow.publish(OutboundMessage("mixed", value, b"s-holz", compressed=n % 2 == 1))
    rows = await pool.fetch("SELECT value, compressed, octet_length(value) AS stored FROM outbox ORDER BY id")
    assert [outbox_value(row) for row in rows] == values
    assert [row["compressed"] for row in rows] == [False, True, False, True, False]
    assert rows[1]["stored"] * 10 < len(document)  # kept compressed, not as it is sent
    relay = OutboxRelay(pool, kafka_bootstrap)
    await relay.start()
    try:
        assert await relay.publish_batch() == (5, 0)
    finally:
        await relay.stop()
    records = await wait_for_records(kafka_bootstrap, PREFIX + "mixed", 5)
    assert [r.value for r in records] == values
    assert await batch_codecs(kafka_bootstrap, PREFIX + "mixed") == ["none", "zstd", "none", "zstd", "none"]


async def test_outbox_survives_a_paused_broker(pool):
    with scratch_directory("alliance-paused-broker-") as directory:
        broker = EmbeddedKafka(free_port(), directory / "kafka.log")
        broker.start()
        try:
            await create_topics(broker.bootstrap, [PREFIX + "paused"], partitions=1)
            relay = OutboxRelay(pool, broker.bootstrap, max_backoff=1.0)
            await relay.start()
            relay_task = asyncio.create_task(relay.run())
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGSTOP)
            try:
                event = new_event("thing.happened", "test", {"while": "paused"})
                async with unit_of_work(pool, relay) as uow:
                    await uow.conn.execute("INSERT INTO effects (event_id) VALUES ($1)", event.id)
                    uow.publish(OutboundMessage("paused", encode(event), b"k"))
                await asyncio.sleep(3)
                assert await pool.fetchval("SELECT count(*) FROM outbox") == 1  # kept, not dropped
            finally:
                os.kill(broker.process.pid, signal.SIGCONT)
            records = await wait_for_records(broker.bootstrap, PREFIX + "paused", 1, timeout=60)
            assert json.loads(records[0].value)["id"] == event.id
            for _ in range(100):
                if await pool.fetchval("SELECT count(*) FROM outbox") == 0:
                    break
                await asyncio.sleep(0.1)
            assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
            relay_task.cancel()
            await relay.stop()
        finally:
            broker.stop()
