"""The notifications database for tests that call its handlers and repositories directly:
import the fixtures (`from tests.support.notifications_store import pool, uow`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest

from services.notifications.main import MIGRATIONS
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared.db import SHARED_MIGRATIONS, apply_migrations

UnitOfWorkFactory = Callable[[], NotificationsUnitOfWork]


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A fresh database with notifications' schema (room for the dispatcher's concurrency)."""
    created = await asyncpg.create_pool(fresh_database, min_size=1, max_size=8)
    await apply_migrations(created, SHARED_MIGRATIONS, MIGRATIONS)
    yield created
    await created.close()


@pytest.fixture
def uow(pool: asyncpg.Pool) -> UnitOfWorkFactory:
    return lambda: NotificationsUnitOfWork(pool)
