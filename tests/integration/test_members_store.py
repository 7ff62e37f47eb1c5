"""Members' store against a real PostgreSQL: the duplicate check of an admission batch stays
a probe per key however large the history of admitted requests grows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.members.adapters.repository import AdmittedRequests
from services.members.main import MIGRATIONS
from shared.db import SHARED_MIGRATIONS, apply_migrations

pytestmark = pytest.mark.integration

HISTORY = 60_000


@pytest.fixture
async def conn(fresh_database: str) -> AsyncIterator[asyncpg.Connection]:
    # A plain pool, not shared.db's: the check must probe per key at PostgreSQL's default
    # planner costs too, without the services' random_page_cost.
    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=1)
    await apply_migrations(pool, SHARED_MIGRATIONS, MIGRATIONS)
    try:
        async with pool.acquire() as connection:
            yield connection
    finally:
        await pool.close()


async def _sequential_scans(conn: asyncpg.Connection) -> int:
    await conn.execute("SELECT pg_stat_force_next_flush()")
    await conn.execute("SELECT pg_stat_clear_snapshot()")
    return await conn.fetchval("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'admitted_requests'")


async def test_the_duplicate_check_probes_each_key_instead_of_scanning_the_history(conn: asyncpg.Connection) -> None:
    admitted = AdmittedRequests(conn)
    await admitted.add([(f"m-{n % 20}", f"r-{n}", "SKU-1", b"%d" % n) for n in range(HISTORY)])
    await conn.execute("ANALYZE admitted_requests")
    batch = [(f"m-{n % 20}", f"r-{n}") for n in range(HISTORY - 250, HISTORY + 250)]
    before = await _sequential_scans(conn)

    known = await admitted.fingerprints(batch)

    assert known == {(f"m-{n % 20}", f"r-{n}"): (b"%d" % n, "SKU-1") for n in range(HISTORY - 250, HISTORY)}
    assert await _sequential_scans(conn) == before
