"""The transactional outbox: rows written with the state change, published by a relay.

The relay sends a batch, waits for the broker's acknowledgement of each record and deletes
only the confirmed rows; a failed row stays, is counted, logged with its attempts, and sent
again with backoff until the broker takes it. One relay per database publishes at a time (an
advisory lock), so records leave in the order they were committed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import cramjam
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch

from shared import metrics
from shared.db import DATABASE_AWAY
from shared.kafka_client import supports_idempotence
from shared.messaging.records import OutboundMessage

log = logging.getLogger(__name__)

_RELAY_LOCK = 0x616C6F62  # advisory lock id: one publishing relay per database
_LOCK_RETRY_S = 0.05
"""While another instance publishes, this one's rows may be waiting behind it."""
_COLUMNS = ("topic", "key", "value", "header_names", "header_values", "compressed")
_MAX_BATCH_BYTES = 1024 * 1024
"""A relay batch per partition fits in one record batch."""
_PARTITIONER = DefaultPartitioner()


def _partition_of(key: bytes | None, partitions: tuple[int, ...]) -> int:
    """The partition aiokafka's `send` would choose: murmur2 of the key, as Java clients do."""
    if key is None:
        return random.choice(partitions)
    return _keyed_partition(key, partitions)


@functools.lru_cache(maxsize=65_536)
def _keyed_partition(key: bytes, partitions: tuple[int, ...]) -> int:
    """Remembered: keys (members, SKUs, suppliers) repeat, and murmur2 is pure Python."""
    return _PARTITIONER(key, list(partitions), list(partitions))


def _stored(message: OutboundMessage) -> bytes:
    """A compressed record's value is kept zstd-compressed until the relay sends it: a close's
    XML orders are written, and read back, in a twentieth of their bytes (level 1: as small as
    the default level on these documents, in two thirds of the time)."""
    return bytes(cramjam.zstd.compress(message.value, level=1)) if message.compressed else message.value


def outbox_value(row: asyncpg.Record) -> bytes:
    """An outbox row's record value, as it is sent."""
    value: bytes = row["value"]
    return bytes(cramjam.zstd.decompress(value)) if row["compressed"] else value


async def add_to_outbox(conn: asyncpg.Connection, messages: Sequence[OutboundMessage]) -> None:
    """Write messages in the caller's transaction (COPY for batches, one round trip)."""
    if not messages:
        return
    rows = [
        (m.topic, m.key, _stored(m), [n for n, _ in m.headers], [v for _, v in m.headers], m.compressed)
        if m.headers
        else (m.topic, m.key, _stored(m), None, None, m.compressed)
        for m in messages
    ]
    if len(rows) == 1:
        await conn.execute(
            "INSERT INTO outbox (topic, key, value, header_names, header_values, compressed)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            *rows[0],
        )
    else:
        await conn.copy_records_to_table("outbox", records=rows, columns=_COLUMNS)


class OutboxRelay:
    """Publishes the outbox until it is empty, then waits to be woken or for the next poll.

    A commit that writes outbox rows wakes the relay at once; the poll only finds rows nothing
    woke it for (another instance's, or a failed round's), so it can be slow: every wake-up of
    an idle service costs CPU on a small machine."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bootstrap: str,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        max_backoff: float = 30.0,
        kafka_options: Mapping[str, Any] | None = None,
    ) -> None:
        """`kafka_options`: further aiokafka arguments (SASL, metadata refresh; shared.kafka_client)."""
        self._pool = pool
        self._bootstrap = bootstrap
        self._kafka_options = dict(kafka_options or {})
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._held_elsewhere = False
        """Another instance's relay had the lock at the last look: look again soon."""
        self._producer: AIOKafkaProducer | None = None
        self.last_success = time.monotonic()

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: publish now, not at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        options = {"bootstrap_servers": self._bootstrap, **self._kafka_options}
        self._producer = AIOKafkaProducer(
            **options,
            acks="all",
            # no duplicates from the producer's own retries where the broker supports it (Apache
            # Kafka; Tansu does not); the inbox dedupes either way
            enable_idempotence=await supports_idempotence(options),
            linger_ms=5,  # a few ms of batching: fewer, larger writes to the broker
            max_batch_size=_MAX_BATCH_BYTES,
            max_request_size=16 * 1024 * 1024,
            request_timeout_ms=15_000,
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def run(self) -> None:
        backoff = self._poll_interval
        while True:
            try:
                sent, failed = await self.publish_batch()
            except DATABASE_AWAY as exc:
                log.warning(
                    "outbox relay cannot reach the database (%s); retrying", type(exc).__name__
                )
                sent, failed = 0, 1
            except KafkaError as exc:
                log.warning("outbox relay cannot reach the broker (%s); retrying", type(exc).__name__)
                sent, failed = 0, 1
            if failed:
                backoff = min(max(backoff * 2, 0.5), self._max_backoff)
                await asyncio.sleep(backoff)
                continue
            backoff = self._poll_interval
            if sent == self._batch_size:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(
                    self._wake.wait(), _LOCK_RETRY_S if self._held_elsewhere else self._poll_interval
                )
            except TimeoutError:
                pass

    def _batch(self, compressed: bool) -> BatchBuilder:
        """An empty record batch, zstd-compressed for `compressed` rows (the producer's own
        batches are not compressed)."""
        assert self._producer is not None
        if not compressed:
            return self._producer.create_batch()
        return BatchBuilder(_MAX_BATCH_BYTES, DefaultRecordBatch.CODEC_ZSTD)

    async def _send(self, rows: Sequence[asyncpg.Record]) -> list[BaseException | None]:
        """Send rows as one record batch per partition (a future per batch, not per record:
        aiokafka's per-record `send` costs more than the rest of the relay), or more where a
        batch fills or compression changes, keeping each partition's rows in outbox order;
        returns each row's outcome once the broker answered."""
        assert self._producer is not None
        topics = {row["topic"] for row in rows}
        partitions_of = {topic: tuple(sorted(await self._producer.partitions_for(topic))) for topic in topics}
        by_partition: dict[tuple[str, int], list[int]] = {}
        for index, row in enumerate(rows):
            topic = row["topic"]
            partitions = partitions_of[topic]
            by_partition.setdefault((topic, _partition_of(row["key"], partitions)), []).append(index)
        sent: list[tuple[asyncio.Future[object], list[int]]] = []
        for (topic, partition), indexes in by_partition.items():
            compressed = rows[indexes[0]]["compressed"]
            batch, members = self._batch(compressed), []
            for index in indexes:
                row = rows[index]
                names = row["header_names"]
                headers = list(zip(names, row["header_values"], strict=True)) if names else []
                value = outbox_value(row)
                if row["compressed"] != compressed or batch.append(
                    key=row["key"], value=value, timestamp=None, headers=headers
                ) is None:
                    sent.append((await self._producer.send_batch(batch, topic, partition=partition), members))
                    compressed = row["compressed"]
                    batch, members = self._batch(compressed), []
                    batch.append(key=row["key"], value=value, timestamp=None, headers=headers)
                members.append(index)
            sent.append((await self._producer.send_batch(batch, topic, partition=partition), members))
        outcomes: list[BaseException | None] = [None] * len(rows)
        answers = await asyncio.gather(*(future for future, _ in sent), return_exceptions=True)
        for answer, (_, members) in zip(answers, sent, strict=True):
            if isinstance(answer, BaseException):
                for index in members:
                    outcomes[index] = answer
        return outcomes

    async def publish_batch(self) -> tuple[int, int]:
        """One batch: returns (confirmed, failed)."""
        assert self._producer is not None, "start() the relay first"
        async with self._pool.acquire() as conn, conn.transaction():
            self._held_elsewhere = not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RELAY_LOCK)
            if self._held_elsewhere:
                return 0, 0
            rows = await conn.fetch(
                "SELECT id, topic, key, value, header_names, header_values, compressed, attempts"
                " FROM outbox ORDER BY id LIMIT $1",
                self._batch_size,
            )
            if not rows:
                self.last_success = time.monotonic()
                return 0, 0
            results = await self._send(rows)
            confirmed = [
                row["id"]
                for row, r in zip(rows, results, strict=True)
                if not isinstance(r, BaseException)
            ]
            failures = [
                (row, r)
                for row, r in zip(rows, results, strict=True)
                if isinstance(r, BaseException)
            ]
            if confirmed:
                await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", confirmed)
            if failures:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = failed.error"
                    " FROM unnest($1::bigint[], $2::text[]) AS failed(id, error) WHERE outbox.id = failed.id",
                    [row["id"] for row, _ in failures],
                    [f"{type(error).__name__}: {error}"[:500] for _, error in failures],
                )
        published: Counter[tuple[str, str]] = Counter(
            (row["topic"], "failed" if isinstance(result, BaseException) else "confirmed")
            for row, result in zip(rows, results, strict=True)
        )
        for (topic, outcome), count in published.items():
            metrics.EVENTS_PUBLISHED.labels(topic, outcome).inc(count)
        if failures:
            row, error = failures[0]
            log.warning(
                "outbox: %d of %d records not confirmed by the broker (first: id %d to %s,"
                " attempt %d: %s); they stay and are retried",
                len(failures),
                len(rows),
                row["id"],
                row["topic"],
                row["attempts"] + 1,
                type(error).__name__,
            )
        else:
            self.last_success = time.monotonic()
        return len(confirmed), len(failures)


async def export_backlog(pool: asyncpg.Pool, interval: float = 2.0) -> None:
    """Keep the backlog gauges current for the ops dashboards and alerts."""
    while True:
        try:
            row = await pool.fetchrow(
                "SELECT count(*) AS backlog,"
                " coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS oldest"
                " FROM outbox"
            )
            metrics.OUTBOX_BACKLOG.set(row["backlog"])
            metrics.OUTBOX_OLDEST_AGE.set(float(row["oldest"]))
        except DATABASE_AWAY:
            pass  # the database is away; the relay logs it, the gauges keep their last value
        await asyncio.sleep(interval)
