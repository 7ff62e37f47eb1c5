"""PostgreSQL going away in the middle of an operation is an outage to wait out, never a poison
record nor a reason to stop.

When the server shuts down while a pooled connection is busy, asyncpg may raise
`InternalClientError` ("cannot switch to state 15; another operation (2) is in progress"),
which derives from neither `PostgresError` nor `InterfaceError`. `make chaos` (PostgreSQL
stopped for 4 s while the services write) met it in procurement's outbox relay: the task died,
the service stopped with exit code 0 and only the supervisor's restart brought it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType

from asyncpg.exceptions import InternalClientError

from shared.messaging.consumer import BatchProcessor
from shared.messaging.outbox import OutboxRelay
from shared.messaging.records import InboundRecord


def broken_connection() -> InternalClientError:
    return InternalClientError("cannot switch to state 15; another operation (2) is in progress")


async def test_the_outbox_relay_keeps_running_when_a_connection_breaks_mid_operation() -> None:
    relay = OutboxRelay(pool=None, bootstrap="127.0.0.1:9", poll_interval=0.01)  # type: ignore[arg-type]
    attempts = 0

    async def publish_batch() -> tuple[int, int]:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise broken_connection()
        return 0, 0

    relay.publish_batch = publish_batch  # type: ignore[method-assign]
    running = asyncio.create_task(relay.run())
    await asyncio.sleep(1.5)
    try:
        assert not running.done(), f"the relay stopped: {running.exception()!r}"
        assert attempts > 1
    finally:
        running.cancel()


class UnitOfWorkStandIn:
    """What the batch processor uses of a unit of work: a context, and the dead-letter topic."""

    def __init__(self, dead_letters: list[str]) -> None:
        self._dead_letters = dead_letters

    async def __aenter__(self) -> UnitOfWorkStandIn:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        return None

    def dead_letter(self, record: InboundRecord, reason: str, detail: str) -> None:
        self._dead_letters.append(reason)


async def test_a_batch_whose_connection_broke_is_retried_not_dead_lettered() -> None:
    record = InboundRecord("erp.purchase-requests", 0, 7, b"m-huber", b"{}")
    dead_letters: list[str] = []
    handled: list[InboundRecord] = []
    failures = [broken_connection(), broken_connection()]

    async def handler(uow: object, records: Sequence[InboundRecord]) -> None:
        if failures:
            raise failures.pop()
        handled.extend(records)

    processor = BatchProcessor(lambda: UnitOfWorkStandIn(dead_letters), handler)  # type: ignore[arg-type,return-value]
    await asyncio.wait_for(processor.process([record]), 10)
    assert dead_letters == [], "an outage of the database dead-lettered a good record: its effect is lost"
    assert handled == [record]
