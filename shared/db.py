"""PostgreSQL access: the pool and the migrations each service applies at start."""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_LOCK = 0x616C6C6D  # advisory lock id: one migrator at a time per database


class _SessionlessConnection(asyncpg.Connection):  # type: ignore[misc]
    """The services keep no session state (no LISTEN, SET or session advisory lock outlives
    its own `finally`), so a connection goes back to the pool without asyncpg's reset query:
    one round trip less per unit of work. An open transaction is still rolled back."""

    def get_reset_query(self) -> str:
        return ""


async def create_pool(url: str, size: int) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        url, min_size=1, max_size=size, command_timeout=60, connection_class=_SessionlessConnection
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
