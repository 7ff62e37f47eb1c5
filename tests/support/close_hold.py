"""Holding procurement's cycle closes just before their commit, from outside the service, so a
harness can kill -9 a close in the middle (`tests/integration/test_procurement_crash.py`,
`make chaos`) or make closes overlap: nothing in the service knows.

The hold is a transaction on procurement's database holding its `cycles` table in EXCLUSIVE
mode. A close's last statement of its own is the INSERT of its cycle row (after the orders,
their lines and deliveries and the requests' new states; its outbox rows follow in the same
transaction, then the commit): that INSERT waits for the hold, with the close's decision lock
held and everything else written. SELECTs still pass (EXCLUSIVE only lets ACCESS SHARE through),
and nothing else writes `cycles`, so the rest of the service goes on. `wait_for_close` returns
once PostgreSQL shows a close's backend waiting on the hold, so a kill then lands in the middle
of the close for sure. (Not the outbox, though its rows come last: every handler writes it and
the relay deletes from it, so holding it would stall the whole service, and which backend waits
would be unclear.)

A backend waiting for a lock does not notice its client died: after a kill, release the hold
(leaving the block does) and the killed close's backend writes its cycle row, finds its client
gone and rolls back; it holds the decision lock until then, so the next close waits for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from types import TracebackType
from typing import Self

import asyncpg

HELD_TABLE = "cycles"
"""Written only by a close, by its last statement before the outbox rows and the commit."""

_WAITING = """
SELECT l.pid, (SELECT count(*) FROM pg_stat_activity b WHERE l.pid = ANY(pg_blocking_pids(b.pid))) AS behind
FROM pg_locks l
WHERE l.locktype = 'relation' AND NOT l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.relation = $1::regclass
  AND pg_backend_pid() = ANY(pg_blocking_pids(l.pid))
"""
"""The backends waiting for the hold, each with how many wait for it in turn (a backend can wait
for several; `pg_blocking_pids` names them all). pg_locks covers the whole server, hence the
database."""


class CloseHold:
    """`async with CloseHold(procurement_database_url) as hold:` closes wait before their commit
    until the block is left (or `release()`)."""

    def __init__(self, database_url: str, table: str = HELD_TABLE) -> None:
        """`table`: another table a close writes to hold it there instead (e.g. a risk buffer's
        draws, `risk_buffer_draws`, written before the cycle's row)."""
        self._database_url = database_url
        self._table = table
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> Self:
        self._conn = await asyncpg.connect(self._database_url)
        try:
            await self._conn.transaction().start()
            await self._conn.execute(f"LOCK TABLE {self._table} IN EXCLUSIVE MODE")
        except BaseException:
            await self.release()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.release()

    async def release(self) -> None:
        """Let the waiting closes go on (to their commit, or, if killed, to their rollback)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()  # ends the transaction, and the lock with it

    async def waiting(self) -> list[tuple[int, int]]:
        """(backend pid, backends waiting for it) of every close waiting for the hold."""
        assert self._conn is not None, "the hold was released"
        return [(r["pid"], r["behind"]) for r in await self._conn.fetch(_WAITING, self._table)]

    async def tables_written(self, pid: int) -> set[str]:
        """The tables the backend `pid` has written in its transaction so far (those it holds ROW
        EXCLUSIVE locks on): what a close waiting for the hold has done."""
        assert self._conn is not None, "the hold was released"
        rows = await self._conn.fetch(
            "SELECT c.relname FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE l.pid = $1 AND l.granted AND l.mode = 'RowExclusiveLock' AND c.relkind IN ('r', 'p')"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            pid,
        )
        return {r["relname"] for r in rows}

    async def wait_for_close(
        self, closing: Awaitable[object] | None = None, behind: int = 0, timeout: float = 60.0
    ) -> int:
        """Wait until a close waits for the hold (and `behind` more closes wait for its decision
        lock); its backend's pid. `closing`, the request that started the close: if it ends first,
        whatever it ended with is raised."""
        watched = asyncio.ensure_future(closing) if closing is not None else None
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for pid, waiting_behind in await self.waiting():
                if waiting_behind >= behind:
                    return pid
            if watched is not None and watched.done():
                raise RuntimeError(f"the close ended without waiting for the hold: {watched.result()!r}")
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"no close waiting for the hold (with {behind} behind) within {timeout:.0f} s")
            await asyncio.sleep(0.05)
