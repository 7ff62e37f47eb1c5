"""PostgreSQL access: the pool and the migrations each service applies at start."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
DATABASE_AWAY = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)
"""What the database being stopped, restarted or unreachable raises: wait and try again."""
_MIGRATION_LOCK = 0x616C6C6D  # advisory lock id: one migrator at a time per database


class _SessionlessConnection(asyncpg.Connection):  # type: ignore[misc]
    """The services keep no session state (no LISTEN, SET or session advisory lock outlives
    its own `finally`), so a connection goes back to the pool without asyncpg's reset query:
    one round trip less per unit of work. An open transaction is still rolled back."""

    def get_reset_query(self) -> str:
        return ""


PLANNER_SETTINGS = {"random_page_cost": "1.1"}
"""Every service connection plans as for data in memory or on SSD, where a random read costs
about as much as a sequential one. At the default (4, a spinning disk) a batch of keys joined
against a table was answered by hashing the whole table, and the prepared statement kept that
plan as the table grew: members' duplicate check, written as such a join, went from 4 to 38 ms
per batch of 500 between 100k and 800k admitted requests (1.6-2.1 ms throughout at 1.1; it is
now a probe per key whatever the setting), and a cycle close hashed the whole requests table
for every batch of request states."""


async def create_pool(url: str, size: int) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        url, min_size=1, max_size=size, command_timeout=60, connection_class=_SessionlessConnection,
        server_settings=PLANNER_SETTINGS,
    )


async def apply_migrations(pool: asyncpg.Pool, *directories: Path) -> list[str]:
    """Apply the `NNNN_name.sql` files not applied yet, in order, each in its own transaction.

    Several instances of a service may start at once; an advisory lock makes them take turns.
    """
    applied_now: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
            for directory in directories:
                for path in sorted(directory.glob("*.sql")):
                    name = f"{directory.parent.name}/{path.name}"
                    if name in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(path.read_text())
                        await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", name)
                    log.info("applied migration %s", name)
                    applied_now.append(name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now
