"""Small Kafka clients for tests: produce records, and wait for a topic to hold N of them (or
events that satisfy a condition).

Producers disable idempotence: the embedded broker (Tansu) does not support it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.record.default_records import DefaultRecordBatch
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import ConsumerRecord, TopicPartition

Headers = Sequence[tuple[str, bytes]]
Event = dict[str, Any]
"""A record's CloudEvent, with its bytes (`_raw`) and headers (`_headers`)."""


@asynccontextmanager
async def kafka_producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=False,
        acks="all",
        max_request_size=4 * 1024 * 1024,  # oversized records are part of what tests send
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def produce(
    bootstrap: str,
    topic: str,
    value: bytes,
    key: bytes | str | None = None,
    headers: Headers = (),
) -> None:
    """Send one record and wait for the broker's acknowledgement."""
    encoded_key = key.encode() if isinstance(key, str) else key
    async with kafka_producer(bootstrap) as producer:
        await producer.send_and_wait(topic, value, key=encoded_key, headers=list(headers))


async def wait_for_records(
    bootstrap: str, topic: str, count: int, timeout: float = 30.0
) -> list[ConsumerRecord]:
    """Read `topic` from the beginning until it has yielded `count` records; return them.

    No consumer group (so no group-join delay, nothing committed): every partition is read.
    Raises TimeoutError naming how many records did arrive.
    """
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
    )
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(records) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"topic {topic} yielded {len(records)} of {count} records in {timeout:.0f} s"
                )
            batches = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


def notices_told(records: Sequence[ConsumerRecord]) -> list[tuple[str, str, dict]]:
    """(member_id, notice_type, data) of every notice asked for on `alliance.notices`, whether
    one per record or several for one member in one record."""
    from shared.events.notices import MEMBER_NOTICE_REQUESTED

    told = []
    for record in records:
        event = json.loads(record.value)
        data = event["data"]
        if event["type"] == MEMBER_NOTICE_REQUESTED:
            told.append((data["member_id"], data["notice_type"], data["data"]))
        else:
            told.extend((data["member_id"], n["notice_type"], n["data"]) for n in data["notices"])
    return told


async def wait_for_notices(
    bootstrap: str, topic: str, count: int, timeout: float = 30.0
) -> list[tuple[str, str, dict]]:
    """Read `alliance.notices` until it has asked for `count` notices; return them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    records: list[ConsumerRecord] = []
    while len(told := notices_told(records)) < count:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError(f"{topic} asked for {len(told)} of {count} notices in {timeout:.0f} s")
        try:
            records = await wait_for_records(bootstrap, topic, len(records) + 1, timeout=min(remaining, 5))
        except TimeoutError:
            continue
    return told


async def events_until(
    bootstrap: str, topic: str, done: Callable[[list[Event]], bool], timeout: float = 30.0
) -> list[Event]:
    """The events on `topic` from its start, read until `done(events)` holds."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                                enable_auto_commit=False, metadata_max_age_ms=1000)
    await consumer.start()
    events: list[Event] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not done(events):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{topic}: condition not met, saw {[e['type'] for e in events]}")
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                events.extend({**json.loads(r.value), "_raw": r.value, "_headers": dict(r.headers)} for r in batch)
    finally:
        await consumer.stop()
    return events


async def batch_codecs(bootstrap: str, topic: str, partition: int = 0) -> list[str]:
    """How the broker holds a partition's record batches, from its start: each batch's codec
    ("none", "zstd", ...), as a consumer fetches it (the consumers above decompress unseen)."""
    names = {DefaultRecordBatch.CODEC_NONE: "none", DefaultRecordBatch.CODEC_GZIP: "gzip",
             DefaultRecordBatch.CODEC_SNAPPY: "snappy", DefaultRecordBatch.CODEC_LZ4: "lz4",
             DefaultRecordBatch.CODEC_ZSTD: "zstd"}
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        await client._wait_on_metadata(topic)
        leader = client.cluster.leader_for_partition(TopicPartition(topic, partition))
        fetch = FetchRequest(500, 1, 64 * 1024 * 1024, 0, [(topic, [(partition, 0, 64 * 1024 * 1024)])])
        response = await client.send(leader, fetch)
        [(_, [(_, error, *_, message_set)])] = response.topics
        assert error == 0, f"fetch of {topic}/{partition} failed with error {error}"
        records, codecs = MemoryRecords(message_set), []
        while (batch := records.next_batch()) is not None:
            codecs.append(names[batch.compression_type])
        return codecs
    finally:
        await client.close()
