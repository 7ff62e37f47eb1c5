"""Batch consumers that commit offsets only after the database transaction.

FastStream's default policy commits before the handler runs (a crash loses the batch) and
`AckPolicy.ACK` commits even when the handler raises (faststream#2618). So subscribers here
use `AckPolicy.MANUAL` and commit a batch's offsets only once its unit of work has committed:
- an infrastructure failure (database or broker away) retries the same batch with backoff,
  so the partition waits rather than skipping anything;
- any other failure is a poison record or a bug: the batch is replayed one record at a time
  and each record that still fails goes to the dead-letter topic with its reason, so it never
  blocks its partition and is never silently dropped.
Redelivery (crash, rebalance) is expected; handlers make it harmless through the inbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream._internal.context import Context as ContextField  # what faststream.Context() builds
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage as ConsumedBatch
from pydantic import BaseModel

from shared import metrics
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork
from shared.reasons import DeadLetterReason

log = logging.getLogger(__name__)

BatchHandler = Callable[[UnitOfWork, Sequence[InboundRecord]], Awaitable[None]]
UnitOfWorkFactory = Callable[[], UnitOfWork]

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.InternalClientError,  # a connection whose server vanished mid-operation
)
"""Failures of the infrastructure, not of the record: retry, never dead-letter."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """A topic a service consumes and the handler of its batches."""

    topic: str
    handler: BatchHandler
    description: str


@dataclass(frozen=True, slots=True)
class Publication:
    """A topic a service publishes to (through its outbox), for its AsyncAPI document."""

    topic: str
    description: str
    schema: type[BaseModel]


def document_publications(broker: KafkaBroker, publications: Sequence[Publication]) -> None:
    """Declare what the outbox relay publishes, so the AsyncAPI document shows it."""
    for publication in publications:
        broker.publisher(
            publication.topic,
            title=f"{publication.topic}:publish",
            description=publication.description,
            schema=publication.schema,
        )


class _MessageInContext(ContextField):
    """FastStream's `Context("message")`, resolved on the event loop: fast_depends runs a
    synchronous `use` in a worker thread, a thread hop (and its latency) per consumed batch."""

    async def use(self, /, **kwargs: object) -> dict[str, object]:  # type: ignore[override]
        return super().use(**kwargs)


CurrentBatch = Annotated[ConsumedBatch, _MessageInContext("message")]


def to_inbound(record: ConsumerRecord) -> InboundRecord:
    return InboundRecord(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=tuple(record.headers or ()),
        timestamp_ms=record.timestamp,
    )


class BatchProcessor:
    """Runs a handler over a batch until it has committed, isolating poison records."""

    def __init__(
        self, uow_factory: UnitOfWorkFactory, handler: BatchHandler, max_backoff: float = 10.0
    ) -> None:
        self._uow_factory = uow_factory
        self._handler = handler
        self._max_backoff = max_backoff

    async def process(self, records: Sequence[InboundRecord]) -> None:
        backoff = 0.1
        while True:
            try:
                await self._process_once(records)
                return
            except TRANSIENT_ERRORS as exc:
                log.warning(
                    "batch of %d from %s not processed (%s); retrying in %.1fs",
                    len(records),
                    records[0].topic,
                    type(exc).__name__,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)

    async def _process_once(self, records: Sequence[InboundRecord]) -> None:
        try:
            async with self._uow_factory() as uow:
                await self._handler(uow, records)
            return
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            log.exception("batch from %s failed; replaying it record by record", records[0].topic)
        for record in records:
            try:
                async with self._uow_factory() as uow:
                    await self._handler(uow, [record])
            except TRANSIENT_ERRORS:
                raise
            except Exception as exc:
                log.error(
                    "record %s[%d]@%d fails its handler (%s); dead-lettered",
                    record.topic,
                    record.partition,
                    record.offset,
                    type(exc).__name__,
                )
                async with self._uow_factory() as uow:
                    uow.dead_letter(record, DeadLetterReason.HANDLER_ERROR, f"{type(exc).__name__}: {exc}"[:500])


def _next_offsets(records: Sequence[ConsumerRecord]) -> dict[TopicPartition, int]:
    """Per partition, the offset after the last of `records`: what committing them means."""
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
    return offsets


def _export_lag(consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
    for tp, offset in offsets.items():
        highwater = consumer.highwater(tp)
        if highwater is not None:
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(highwater - offset, 0))


class _OffsetCommitter:
    """Commits processed batches' offsets in the background, one commit at a time, so the next
    batch is not kept waiting for the broker's answer (a round trip per batch).

    Each commit names its offsets explicitly: the consumer's position may already be past
    records fetched but not yet processed, and those must not be committed. Offsets asked for
    while a commit is under way go in the next one. A commit that fails (a rebalance took the
    partition) is dropped: its records come again and the inbox makes that harmless.
    """

    def __init__(self) -> None:
        self._pending: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None

    def commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in offsets.items():
            self._pending[tp] = max(self._pending.get(tp, 0), offset)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(consumer), name="commit offsets")

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while self._pending:
            offsets, self._pending = self._pending, {}
            try:
                await consumer.commit(offsets)
            except Exception as exc:  # a rebalance, the consumer stopping: nothing to lose
                log.warning("offsets not committed (%s); those records will come again", type(exc).__name__)


def subscribe(
    broker: KafkaBroker,
    subscriptions: Sequence[Subscription],
    group_id: str,
    uow_factory: UnitOfWorkFactory,
    batch_size: int,
    fetch_max_wait_ms: int,
) -> None:
    """One batch consumer for all of a service's topics, acknowledging only committed work.

    One consumer group per service (not per topic): every group join costs about 5 s on
    Tansu, and a group spanning several consumers rebalances all of them on each join.
    Each topic's records go to its own handler, in partition order.
    """
    processors = {s.topic: BatchProcessor(uow_factory, s.handler) for s in subscriptions}
    committer = _OffsetCommitter()

    async def consume(msg: CurrentBatch) -> None:
        raw_records: tuple[ConsumerRecord, ...] = msg.raw_message  # type: ignore[assignment]
        if not raw_records:
            return
        by_topic: dict[str, list[InboundRecord]] = {}
        for record in raw_records:
            by_topic.setdefault(record.topic, []).append(to_inbound(record))
        for topic, records in by_topic.items():
            started = time.perf_counter()
            await processors[topic].process(records)
            metrics.HANDLER_DURATION.labels(topic).observe(time.perf_counter() - started)
        offsets = _next_offsets(raw_records)
        committer.commit(msg.consumer, offsets)  # type: ignore[arg-type]
        _export_lag(msg.consumer, offsets)  # type: ignore[arg-type]

    async def leave_undecoded(msg: ConsumedBatch) -> None:
        """Handlers read the raw records; FastStream's default would json-decode each one."""
        return None

    consume.__name__ = f"consume_{group_id.replace('.', '_').replace('-', '_')}"
    broker.subscriber(
        *processors,
        group_id=group_id,
        batch=True,
        max_records=batch_size,
        batch_timeout_ms=fetch_max_wait_ms,
        fetch_max_wait_ms=fetch_max_wait_ms,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        decoder=leave_undecoded,
        max_poll_interval_ms=600_000,
        title=group_id,
        description="; ".join(f"{s.topic}: {s.description}" for s in subscriptions),
    )(consume)
