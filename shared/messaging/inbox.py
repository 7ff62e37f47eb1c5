"""The idempotent inbox: which events a consumer has already had its effect for."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg


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
