"""Session-wide test backends: one Kafka broker and one PostgreSQL server for all tests.

They start only when a test asks for them (unit tests never do); tests/support/backends.py
says which servers are used. Each test that needs a database gets its own (`fresh_database`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """host:port of the session's Kafka broker."""
    from tests.support.backends import kafka_backend

    with kafka_backend() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """postgresql://… of the session's PostgreSQL server (create databases on it, not tables)."""
    from tests.support.backends import postgres_backend

    with postgres_backend() as url:
        yield url


@pytest.fixture
async def fresh_database(postgres_server_url: str) -> AsyncIterator[str]:
    """The URL of a new, uniquely named, empty database, dropped after the test."""
    from shared.runtime.embedded_postgres import create_database
    from shared.settings import database_url_for
    from tests.support.backends import drop_database

    name = f"test_{uuid.uuid4().hex[:16]}"
    await create_database(postgres_server_url, name)
    try:
        yield database_url_for(postgres_server_url, name)
    finally:
        await drop_database(postgres_server_url, name)


@pytest.fixture
async def procurement_pool(fresh_database: str) -> AsyncIterator[Any]:
    """A connection pool on a fresh database holding procurement's tables."""
    import asyncpg

    from services.procurement.main import MIGRATIONS
    from shared.db import SHARED_MIGRATIONS, apply_migrations

    pool = await asyncpg.create_pool(fresh_database, min_size=1, max_size=4)
    await apply_migrations(pool, SHARED_MIGRATIONS, MIGRATIONS)
    try:
        yield pool
    finally:
        await pool.close()
