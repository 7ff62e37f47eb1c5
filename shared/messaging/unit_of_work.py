"""The unit of work: one PostgreSQL transaction for state, outbox rows and inbox rows.

Each service's unit of work (`services/<name>/service_layer/unit_of_work.py`) opens its repositories
on the transaction's connection in `_open`; handlers read and write state through them
(`uow.orders`, `uow.requests`...) and ask for messages with `uow.publish(...)`, naming topics as
the contract does: the unit of work adds the deployment's prefix. The intake pipeline records
what they consumed with `uow.claim(...)`. Nothing is published and no metric moves unless the
transaction commits; after the commit the relay is woken to publish at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from types import TracebackType
from typing import Self

import asyncpg

from shared import metrics, topics
from shared.messaging import inbox
from shared.messaging.outbox import add_to_outbox
from shared.messaging.records import InboundRecord, OutboundMessage
from shared.reasons import DeadLetterReason, QuarantineReason

REASON_HEADER = "alliance-reason"
DETAIL_HEADER = "alliance-reason-detail"
SOURCE_TOPIC_HEADER = "alliance-source-topic"
SOURCE_PARTITION_HEADER = "alliance-source-partition"
SOURCE_OFFSET_HEADER = "alliance-source-offset"


def _set_aside(record: InboundRecord, topic: str, reason: str, detail: str) -> OutboundMessage:
    """The original bytes and headers, plus where they came from and why they were set aside."""
    return OutboundMessage(
        topic=topic,
        key=record.key,
        value=record.value or b"",
        headers=record.headers
        + (
            (REASON_HEADER, reason.encode()),
            (DETAIL_HEADER, detail.encode("utf-8", "replace")[:2000]),
            (SOURCE_TOPIC_HEADER, record.topic.encode()),
            (SOURCE_PARTITION_HEADER, str(record.partition).encode()),
            (SOURCE_OFFSET_HEADER, str(record.offset).encode()),
        ),
    )


BeforeCommit = Callable[["UnitOfWork"], Awaitable[None]]
"""Runs with everything written, just before the commit (a deployment's audit, a test's pause)."""


async def _nothing_before_commit(uow: UnitOfWork) -> None:
    return None


class UnitOfWork:
    def __init__(
        self,
        pool: asyncpg.Pool,
        topic_prefix: str = "",
        on_outbox_written: Callable[[], None] = lambda: None,
        before_commit: BeforeCommit = _nothing_before_commit,
    ) -> None:
        self._pool = pool
        self.topic_prefix = topic_prefix
        self._on_outbox_written = on_outbox_written
        self._before_commit = before_commit
        self._messages: list[OutboundMessage] = []
        self._after_commit: list[Callable[[], None]] = []
        self._conn: asyncpg.pool.PoolConnectionProxy | None = None
        self._transaction: asyncpg.transaction.Transaction | None = None

    def topic(self, name: str) -> str:
        """The deployment's name of a topic (its prefix applied)."""
        return f"{self.topic_prefix}{name}"

    @property
    def conn(self) -> asyncpg.Connection:
        """The transaction's connection, for repositories and the inbox; handlers use repositories."""
        assert self._conn is not None, "use the unit of work as `async with`"
        return self._conn  # type: ignore[return-value]

    def _open(self, conn: asyncpg.Connection) -> None:
        """Open the service's repositories on the transaction's connection."""

    async def __aenter__(self) -> Self:
        self._messages = []
        self._after_commit = []
        await self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            await self._rollback()
            return
        await self._commit(self._messages)
        for callback in self._after_commit:
            callback()
        if self._messages:
            self._on_outbox_written()

    async def _begin(self) -> None:
        self._conn = await self._pool.acquire()
        self._transaction = self._conn.transaction()
        await self._transaction.start()
        self._open(self._conn)  # type: ignore[arg-type]

    async def _commit(self, messages: list[OutboundMessage]) -> None:
        """Write the outbox rows and commit everything at once (rolled back if any of it fails)."""
        assert self._conn is not None and self._transaction is not None
        try:
            await add_to_outbox(self._conn, messages)
            await self._before_commit(self)
            await self._transaction.commit()
        except BaseException:
            if not self._conn.is_closed():
                await self._transaction.rollback()
            raise
        finally:
            await self._release()

    async def _rollback(self) -> None:
        assert self._conn is not None and self._transaction is not None
        try:
            await self._transaction.rollback()
        finally:
            await self._release()

    async def _release(self) -> None:
        assert self._conn is not None
        await self._pool.release(self._conn)
        self._conn = None

    def publish(self, message: OutboundMessage) -> None:
        """Publish on commit; the message names its topic as the contract does, the prefix is added here."""
        if self.topic_prefix:
            message = replace(message, topic=self.topic(message.topic))
        self._messages.append(message)

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def count_consumed(self, topic: str, outcome: str, amount: int = 1) -> None:
        self.after_commit(lambda: metrics.EVENTS_CONSUMED.labels(topic, outcome).inc(amount))

    async def claim(self, consumer: str, event_ids: Iterable[str]) -> set[str]:
        return await inbox.claim(self.conn, consumer, event_ids)

    def dead_letter(self, record: InboundRecord, reason: DeadLetterReason | str, detail: str) -> None:
        """A record no handler can use: kept with its reason, its partition moves on."""
        self.publish(_set_aside(record, topics.DEAD_LETTERS, reason, detail))
        self.count_consumed(record.topic, "dead_lettered")
        self.after_commit(lambda: metrics.DEAD_LETTERS.labels(reason).inc())

    def quarantine(self, record: InboundRecord, reason: QuarantineReason | str, detail: str) -> None:
        """A record that failed authentication: kept for ops, acknowledged to nobody."""
        self.publish(_set_aside(record, topics.QUARANTINE, reason, detail))
        self.count_consumed(record.topic, "quarantined")
        self.after_commit(lambda: metrics.QUARANTINED.labels(reason).inc())
