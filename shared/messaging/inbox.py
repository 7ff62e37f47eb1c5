"""The idempotent inbox: which events a consumer has already had its effect for, and for how
long it remembers them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import timedelta

import asyncpg

from shared import metrics
from shared.db import DATABASE_AWAY

log = logging.getLogger(__name__)

FORGET_CHUNK = 10_000
"""Rows deleted per transaction: short locks and small bursts of WAL beside the consumers."""
FORGET_EVERY_S = 3600.0


async def claim(conn: asyncpg.Connection, consumer: str, event_ids: Iterable[str]) -> set[str]:
    """Record the ids in the caller's transaction; returns those seen for the first time.

    Because the row commits with the effect, a redelivered event finds its id and is skipped.
    """
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return set()
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id) SELECT $1, unnest($2::text[])"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        ids,
    )
    return {r["event_id"] for r in rows}


async def forget_older_than(
    pool: asyncpg.Pool, retention: timedelta, chunk: int = FORGET_CHUNK
) -> int:
    """Delete the rows received longer than `retention` ago, a chunk per transaction; returns
    how many. Past the topics' retention no copy of their events can come again."""
    forgotten = 0
    while True:
        deleted = await pool.fetchval(
            "WITH gone AS (DELETE FROM inbox WHERE ctid = ANY(ARRAY("
            "  SELECT ctid FROM inbox WHERE received_at < now() - $1::interval"
            "  ORDER BY received_at LIMIT $2)) RETURNING 1)"
            " SELECT count(*) FROM gone",
            retention,
            chunk,
        )
        forgotten += deleted
        metrics.INBOX_FORGOTTEN.inc(deleted)
        if deleted < chunk:
            return forgotten


async def forget_periodically(
    pool: asyncpg.Pool, retention: timedelta, interval_s: float = FORGET_EVERY_S
) -> None:
    """Keep the inbox to its retention for as long as the service runs."""
    while True:
        try:
            forgotten = await forget_older_than(pool, retention)
            if forgotten:
                log.info("inbox: forgot %d event ids older than %s", forgotten, retention)
        except DATABASE_AWAY as exc:
            log.warning("inbox: forgetting old event ids failed (%s); next round", type(exc).__name__)
        await asyncio.sleep(interval_s)
