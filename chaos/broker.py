"""What the broker itself holds: partitions, their ends, committed offsets, whole topics.

Ends are read from fetch responses, never ListOffsets: Tansu answers ListOffsets with the base
offset of a partition's last batch + 1, which undercounts a batch of several records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import ConsumerRecord


async def topic_partitions(bootstrap: str, topic: str | None = None) -> list[TopicPartition]:
    """Every partition of `topic`, or of every topic (asked of the broker's metadata for those
    topics: a consumer's own metadata lists only what it subscribed to, on Apache Kafka)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        chosen = [topic] if topic else sorted(t for t in await admin.list_topics() if not t.startswith("__"))
        descriptions = await admin.describe_topics(chosen) if chosen else []
    finally:
        await admin.close()
    return sorted(TopicPartition(d["topic"], p["partition"]) for d in descriptions if d["error_code"] == 0
                  for p in d["partitions"])


async def high_watermarks(bootstrap: str, positions: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
    """The end of each partition, fetching from `positions` (to read little)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        consumer.assign(list(positions))
        for tp, offset in positions.items():
            consumer.seek(tp, offset)
        while any(consumer.highwater(tp) is None for tp in positions):
            await consumer.getmany(timeout_ms=200)
        return {tp: consumer.highwater(tp) for tp in positions}
    finally:
        await consumer.stop()


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord]:
    """Every record the topic holds now, from the beginning of each partition."""
    partitions = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        while not await _caught_up(consumer, partitions):
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def _caught_up(consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition]) -> bool:
    for tp in partitions:
        end = consumer.highwater(tp)
        if end is None or await consumer.position(tp) < end:
            return False
    return True


async def uncommitted(bootstrap: str, groups: Sequence[str]) -> dict[tuple[str, str], int | None]:
    """Per (group, topic): records the group has not committed yet; None where it never committed
    on a topic that holds records (it does not consume that topic, or has not started to)."""
    partitions = await topic_partitions(bootstrap)
    committed: dict[str, dict[TopicPartition, int | None]] = {}
    for group_id in groups:
        group = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
        await group.start()  # joins nothing: it subscribes to nothing
        try:
            committed[group_id] = {tp: await group.committed(tp) for tp in partitions}
        finally:
            await group.stop()
    ends = await high_watermarks(bootstrap, {tp: max(c[tp] or 0 for c in committed.values()) for tp in partitions})
    lags: dict[tuple[str, str], int | None] = {}
    for group_id, offsets in committed.items():
        for topic in {tp.topic for tp in partitions}:
            held = [tp for tp in partitions if tp.topic == topic and ends[tp] > 0]
            if any(offsets[tp] is not None for tp in held):
                lags[(group_id, topic)] = sum(ends[tp] - (offsets[tp] or 0) for tp in held)
            elif held:
                lags[(group_id, topic)] = None
    return lags
