"""The transactional outbox: rows written with the state change, published by a relay.

The relay sends a batch, waits for the broker's acknowledgement of each record and deletes
only the confirmed rows; a failed row stays, is counted, logged with its attempts, and sent
again with backoff until the broker takes it. One relay per database publishes at a time (an
advisory lock), so records leave in the order they were committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaProducer

from shared import metrics
from shared.messaging.records import OutboundMessage

log = logging.getLogger(__name__)

DATABASE_AWAY = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
"""What the database being stopped, restarted or unreachable raises: wait and try again."""
_RELAY_LOCK = 0x616C6F62  # advisory lock id: one publishing relay per database
_COLUMNS = ("topic", "key", "value", "header_names", "header_values")


async def add_to_outbox(conn: asyncpg.Connection, messages: Sequence[OutboundMessage]) -> None:
    """Write messages in the caller's transaction (COPY for batches, one round trip)."""
    if not messages:
        return
    rows = [
        (m.topic, m.key, m.value, [n for n, _ in m.headers], [v for _, v in m.headers])
        for m in messages
    ]
    if len(rows) == 1:
        await conn.execute(
            "INSERT INTO outbox (topic, key, value, header_names, header_values)"
            " VALUES ($1, $2, $3, $4, $5)",
            *rows[0],
        )
    else:
        await conn.copy_records_to_table("outbox", records=rows, columns=_COLUMNS)


class OutboxRelay:
    """Publishes the outbox until it is empty, then waits to be woken or for the next poll."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bootstrap: str,
        batch_size: int = 500,
        poll_interval: float = 0.05,
        max_backoff: float = 30.0,
    ) -> None:
        self._pool = pool
        self._bootstrap = bootstrap
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._producer: AIOKafkaProducer | None = None
        self.last_success = time.monotonic()

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows: publish now, not at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self._bootstrap,
            acks="all",
            enable_idempotence=False,  # Tansu has no idempotent producer; the inbox dedupes
            linger_ms=5,  # a few ms of batching: fewer, larger writes to the broker
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
            if failed:
                backoff = min(max(backoff * 2, 0.5), self._max_backoff)
                await asyncio.sleep(backoff)
                continue
            backoff = self._poll_interval
            if sent == self._batch_size:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll_interval)
            except TimeoutError:
                pass

    async def publish_batch(self) -> tuple[int, int]:
        """One batch: returns (confirmed, failed)."""
        assert self._producer is not None, "start() the relay first"
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RELAY_LOCK):
                return 0, 0
            rows = await conn.fetch(
                "SELECT id, topic, key, value, header_names, header_values, attempts"
                " FROM outbox ORDER BY id LIMIT $1",
                self._batch_size,
            )
            if not rows:
                self.last_success = time.monotonic()
                return 0, 0
            pending = []
            for row in rows:
                headers = list(zip(row["header_names"], row["header_values"], strict=True))
                pending.append(
                    await self._producer.send(
                        row["topic"], value=row["value"], key=row["key"], headers=headers or None
                    )
                )
            results = await asyncio.gather(*pending, return_exceptions=True)
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
            for row, error in failures:
                await conn.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                    row["id"],
                    f"{type(error).__name__}: {error}"[:500],
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
