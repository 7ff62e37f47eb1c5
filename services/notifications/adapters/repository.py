"""The notifications service's tables, read and written inside a unit of work's transaction.

Delivery times are the database's clock (`clock_timestamp()`), so every instance of the
service schedules, claims and expires by the same clock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.notifications.domain.notices import Channel, DeliveryStatus, MemberChannels, Notice
from services.notifications.domain.preferences import Preferences
from services.notifications.domain.risk import Recipient
from shared.contract import Severity
from shared.events.members import MemberProfile

SMTP_ENDPOINT = "smtp"
"""The endpoint key every e-mail shares: they all go through the one SMTP server."""


def _channels(row: asyncpg.Record) -> MemberChannels:
    return MemberChannels(
        member_id=row["member_id"],
        name=row["name"],
        locale=row["locale"],
        email=row["email"],
        webhook_url=row["webhook_url"],
        webhook_secret=row["webhook_secret"],
        declared_min_risk_severity=Severity(row["min_risk_severity"]),
        interest_categories=frozenset(row["interest_categories"]),
        active=row["active"],
    )


def _preferences(row: asyncpg.Record) -> Preferences:
    return Preferences(
        disabled_types=frozenset(row["disabled_types"]),
        min_risk_severity=Severity(row["preferred_min_risk_severity"])
        if row["preferred_min_risk_severity"]
        else None,
        daily_digest=row["daily_digest"],
    )


def _notice(row: asyncpg.Record) -> Notice:
    return Notice(
        notice_id=row["notice_id"],
        member_id=row["member_id"],
        notice_type=row["notice_type"],
        data=json.loads(row["data"]),
        occurred_at=row["occurred_at"],
    )


class MemberChannelsRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def upsert(self, profiles: Sequence[tuple[MemberProfile, str | None, datetime]]) -> None:
        """Apply profiles (each with its opened webhook secret) as of their event time; an older
        profile never replaces a newer one."""
        await self._conn.executemany(
            "INSERT INTO member_channels (member_id, name, locale, email, webhook_url, webhook_secret,"
            " min_risk_severity, interest_categories, active, profile_time)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (member_id) DO UPDATE SET name = excluded.name, locale = excluded.locale,"
            " email = excluded.email, webhook_url = excluded.webhook_url,"
            " webhook_secret = excluded.webhook_secret, min_risk_severity = excluded.min_risk_severity,"
            " interest_categories = excluded.interest_categories, active = excluded.active,"
            " profile_time = excluded.profile_time, updated_at = now()"
            " WHERE member_channels.profile_time <= excluded.profile_time",
            [
                (
                    p.member_id,
                    p.name,
                    p.locale,
                    p.email,
                    p.webhook_url,
                    webhook_secret,
                    p.interests.min_risk_severity.value,
                    list(p.interests.categories),
                    p.status == "active",
                    at,
                )
                for p, webhook_secret, at in profiles
            ],
        )

    async def add_missing(self, members: Sequence[MemberChannels]) -> int:
        """Members no profile event has told us of yet (any event later replaces them); returns how many."""
        # unnest cannot take an array per member, so each member's categories travel as JSON.
        rows = await self._conn.fetch(
            "INSERT INTO member_channels (member_id, name, locale, email, webhook_url, webhook_secret,"
            " min_risk_severity, interest_categories, active, profile_time)"
            " SELECT i, n, l, e, u, s, r, ARRAY(SELECT jsonb_array_elements_text(c::jsonb)), a,"
            " '-infinity'::timestamptz FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
            " $5::text[], $6::text[], $7::text[], $8::text[], $9::boolean[]) AS m(i, n, l, e, u, s, r, c, a)"
            " ON CONFLICT (member_id) DO NOTHING RETURNING member_id",
            [m.member_id for m in members],
            [m.name for m in members],
            [m.locale for m in members],
            [m.email for m in members],
            [m.webhook_url for m in members],
            [m.webhook_secret for m in members],
            [m.declared_min_risk_severity.value for m in members],
            [json.dumps(sorted(m.interest_categories)) for m in members],
            [m.active for m in members],
        )
        return len(rows)

    async def get_many(self, member_ids: Iterable[str]) -> dict[str, MemberChannels]:
        rows = await self._conn.fetch(
            "SELECT * FROM member_channels WHERE member_id = ANY($1::text[])", list(set(member_ids))
        )
        return {r["member_id"]: _channels(r) for r in rows}

    async def get_many_with_preferences(
        self, member_ids: Iterable[str]
    ) -> dict[str, tuple[MemberChannels, Preferences]]:
        """The known ones among the members, each with its preferences (defaults where none
        were set): what routing a notice needs, in one query."""
        rows = await self._conn.fetch(
            "SELECT m.*, coalesce(p.disabled_types, '{}') AS disabled_types,"
            " p.min_risk_severity AS preferred_min_risk_severity,"
            " coalesce(p.daily_digest, false) AS daily_digest"
            " FROM member_channels m LEFT JOIN preferences p USING (member_id)"
            " WHERE m.member_id = ANY($1::text[])",
            list(set(member_ids)),
        )
        return {r["member_id"]: (_channels(r), _preferences(r)) for r in rows}

    async def list(self) -> list[MemberChannels]:
        return [
            _channels(r)
            for r in await self._conn.fetch("SELECT * FROM member_channels ORDER BY member_id")
        ]

    async def interested_in(self, categories: Iterable[str]) -> list[MemberChannels]:
        """Members whose declared interests include at least one of the categories."""
        rows = await self._conn.fetch(
            "SELECT * FROM member_channels WHERE interest_categories && $1::text[] ORDER BY member_id",
            list(set(categories)),
        )
        return [_channels(r) for r in rows]


class PreferencesRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def get_many(self, member_ids: Iterable[str]) -> dict[str, Preferences]:
        """Every asked member, with the defaults where nothing was set."""
        ids = list(set(member_ids))
        rows = await self._conn.fetch(
            "SELECT member_id, disabled_types, min_risk_severity AS preferred_min_risk_severity,"
            " daily_digest FROM preferences WHERE member_id = ANY($1::text[])",
            ids,
        )
        found = {r["member_id"]: _preferences(r) for r in rows}
        return {member_id: found.get(member_id, Preferences()) for member_id in ids}

    async def save(self, member_id: str, preferences: Preferences) -> None:
        await self._conn.execute(
            "INSERT INTO preferences (member_id, disabled_types, min_risk_severity, daily_digest)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (member_id) DO UPDATE SET"
            " disabled_types = excluded.disabled_types, min_risk_severity = excluded.min_risk_severity,"
            " daily_digest = excluded.daily_digest, updated_at = now()",
            member_id,
            sorted(preferences.disabled_types),
            preferences.min_risk_severity.value if preferences.min_risk_severity else None,
            preferences.daily_digest,
        )


@dataclass(frozen=True, slots=True)
class NewDelivery:
    notice_id: str
    member_id: str
    channel: Channel
    status: DeliveryStatus
    not_before: datetime | None
    """None: due now (by the database's clock)."""


class NoticesRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, notices: Sequence[Notice]) -> list[Notice]:
        """Store the notices not stored yet; returns those (a redelivered request adds nothing)."""
        unique = list({n.notice_id: n for n in notices}.values())
        if not unique:
            return []
        rows = await self._conn.fetch(
            "INSERT INTO notices (notice_id, member_id, notice_type, data, occurred_at)"
            " SELECT i, m, t, d::jsonb, o FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
            " $5::timestamptz[]) AS u(i, m, t, d, o) ON CONFLICT (notice_id) DO NOTHING RETURNING notice_id",
            [n.notice_id for n in unique],
            [n.member_id for n in unique],
            [n.notice_type for n in unique],
            [json.dumps(n.data) for n in unique],
            [n.occurred_at for n in unique],
        )
        stored = {r["notice_id"] for r in rows}
        return [n for n in unique if n.notice_id in stored]

    async def unrouted(self, member_ids: Iterable[str] | None, limit: int) -> list[Notice]:
        """Notices still waiting for their member's profile, of `member_ids` or of any known member."""
        rows = await self._conn.fetch(
            "SELECT n.* FROM notices n JOIN member_channels m USING (member_id)"
            " WHERE n.routed_at IS NULL AND ($1::text[] IS NULL OR n.member_id = ANY($1::text[]))"
            " ORDER BY n.stored_at LIMIT $2 FOR UPDATE OF n SKIP LOCKED",
            None if member_ids is None else list(set(member_ids)),
            limit,
        )
        return [_notice(r) for r in rows]

    async def get(self, notice_id: str) -> tuple[Notice, dict[str, Any]] | None:
        """The notice and its bookkeeping (stored_at, routed_at, suppressed)."""
        row = await self._conn.fetchrow("SELECT * FROM notices WHERE notice_id = $1", notice_id)
        if row is None:
            return None
        return _notice(row), {k: row[k] for k in ("stored_at", "routed_at", "suppressed")}


class RiskRecipientsRepository:
    """Who was told of each risk alert, for telling the same members of its resolution."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, alert_id: str, told: Sequence[tuple[Recipient, str]]) -> None:
        """(recipient, id of the notice that told it); a member already told keeps its first notice."""
        if told:
            await self._conn.executemany(
                "INSERT INTO risk_alert_recipients (alert_id, member_id, affected_request_ids, notice_id)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (alert_id, member_id) DO NOTHING",
                [
                    (alert_id, r.member_id, list(r.affected_request_ids), notice)
                    for r, notice in told
                ],
            )

    async def told_of(self, alert_id: str) -> list[Recipient]:
        """The members told the alert was raised: its notice reached, or will reach, a channel."""
        rows = await self._conn.fetch(
            "SELECT r.member_id, r.affected_request_ids FROM risk_alert_recipients r"
            " JOIN notices n USING (notice_id) WHERE r.alert_id = $1 AND n.suppressed IS NULL"
            " ORDER BY r.member_id",
            alert_id,
        )
        return [Recipient(r["member_id"], tuple(r["affected_request_ids"])) for r in rows]


def endpoint_of(channel: Channel, member: MemberChannels | None) -> str:
    """Where a delivery goes: the member's webhook URL, or the SMTP server all e-mail shares."""
    if channel is Channel.EMAIL:
        return SMTP_ENDPOINT
    return (member.webhook_url or "") if member else ""


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery that may be attempted now (not leased), and the endpoint it goes to."""

    delivery_id: int
    endpoint: str


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery leased to this instance for one attempt."""

    delivery_id: int
    lease_token: uuid.UUID
    channel: Channel
    attempts_before: int
    stored_at: datetime
    notice: Notice
    member: MemberChannels | None

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.channel, self.member)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A finished attempt of a claimed delivery, to be recorded."""

    claimed: ClaimedDelivery
    delivered: bool
    status_code: int | None
    error: str | None
    latency_ms: float
    retry_in_s: float = 0.0
    """When it failed: how long until the next attempt (past the deadline: it was the last)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    status: DeliveryStatus
    """delivered, pending (tried again later) or dead."""
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueDigestItem:
    delivery_id: int
    member_id: str
    notice: Notice


class DeliveriesRepository:
    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        """On a pool, each statement runs on its own (they are written to be atomic alone)."""
        self._conn = conn

    async def add(
        self,
        deliveries: Sequence[NewDelivery],
        horizon_s: float,
        routed: Sequence[tuple[str, str | None]],
    ) -> dict[tuple[str, Channel], int]:
        """Add the deliveries not there yet and mark the `routed` notices routed
        ((notice_id, suppression reason, or None when a channel carries it)), in one statement.

        Returns the new deliveries' ids by (notice, channel).
        """
        if not deliveries and not routed:
            return {}
        rows = await self._conn.fetch(
            "WITH routed AS (UPDATE notices SET routed_at = clock_timestamp(), suppressed = r.reason"
            " FROM unnest($7::text[], $8::text[]) AS r(id, reason) WHERE notice_id = r.id)"
            " INSERT INTO deliveries (notice_id, member_id, channel, status, next_attempt_at, deadline)"
            " SELECT i, m, c, s, coalesce(t, clock_timestamp()),"
            "  coalesce(t, clock_timestamp()) + make_interval(secs => $6)"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS u(i, m, c, s, t)"
            " ON CONFLICT (notice_id, channel) DO NOTHING RETURNING id, notice_id, channel",
            [d.notice_id for d in deliveries],
            [d.member_id for d in deliveries],
            [d.channel.value for d in deliveries],
            [d.status.value for d in deliveries],
            [d.not_before for d in deliveries],
            horizon_s,
            [notice_id for notice_id, _ in routed],
            [reason for _, reason in routed],
        )
        return {(r["notice_id"], Channel(r["channel"])): r["id"] for r in rows}

    async def due(
        self, limit: int, excluded_endpoints: Sequence[str], known_ids: Sequence[int]
    ) -> list[DueDelivery]:
        """Due deliveries no instance holds a lease on, oldest first, neither to the excluded
        endpoints nor among `known_ids` (those the caller has in hand already). Locks nothing:
        `claim` decides who gets each."""
        rows = await self._conn.fetch(
            """
            SELECT d.id, CASE WHEN d.channel = 'email' THEN $2 ELSE coalesce(m.webhook_url, '') END
                   AS endpoint
              FROM deliveries d LEFT JOIN member_channels m ON m.member_id = d.member_id
             WHERE d.status = 'pending' AND d.next_attempt_at <= clock_timestamp()
               AND (d.lease_until IS NULL OR d.lease_until < clock_timestamp())
               AND NOT (d.id = ANY($3::bigint[]))
               AND NOT (CASE WHEN d.channel = 'email' THEN $2 ELSE coalesce(m.webhook_url, '') END
                        = ANY($4::text[]))
             ORDER BY d.next_attempt_at
             LIMIT $1
            """,
            limit,
            SMTP_ENDPOINT,
            list(known_ids),
            list(excluded_endpoints),
        )
        return [DueDelivery(r["id"], r["endpoint"]) for r in rows]

    async def claim(
        self, delivery_ids: Sequence[int], webhook_lease_s: float, email_lease_s: float
    ) -> list[ClaimedDelivery]:
        """Lease those of the deliveries that are still due and free; the others are skipped.

        SKIP LOCKED lets instances claim side by side; the lease (not a held transaction)
        keeps a claimed delivery theirs while they send, and expires if they die.
        """
        token = uuid.uuid4()
        rows = await self._conn.fetch(
            """
            WITH picked AS (
                SELECT id FROM deliveries
                 WHERE id = ANY($1::bigint[]) AND status = 'pending'
                   AND next_attempt_at <= clock_timestamp()
                   AND (lease_until IS NULL OR lease_until < clock_timestamp())
                 FOR UPDATE SKIP LOCKED
            )
            UPDATE deliveries d
               SET lease_token = $2, lease_until = clock_timestamp()
                   + make_interval(secs => CASE WHEN d.channel = 'email' THEN $4::float8 ELSE $3::float8 END)
              FROM picked p, notices n LEFT JOIN member_channels m ON m.member_id = n.member_id
             WHERE d.id = p.id AND n.notice_id = d.notice_id
            RETURNING d.id AS delivery_id, d.channel, d.attempts, n.notice_id, n.member_id, n.notice_type,
                      n.data, n.occurred_at, n.stored_at, m.member_id AS known_member, m.name, m.locale,
                      m.email, m.webhook_url, m.webhook_secret, m.min_risk_severity,
                      m.interest_categories, m.active
            """,
            list(delivery_ids),
            token,
            webhook_lease_s,
            email_lease_s,
        )
        return [
            ClaimedDelivery(
                delivery_id=r["delivery_id"],
                lease_token=token,
                channel=Channel(r["channel"]),
                attempts_before=r["attempts"],
                stored_at=r["stored_at"],
                notice=_notice(r),
                member=_channels(r) if r["known_member"] else None,
            )
            for r in rows
        ]

    async def record(self, attempts: Sequence[Attempt]) -> dict[tuple[int, uuid.UUID], Recorded]:
        """Record finished attempts in one statement: each delivery whose lease is still the
        attempt's is marked delivered, scheduled again or dead; every attempt is logged.

        Returns what became of each by (delivery id, lease token); a missing one had lost its
        lease to another instance, and only its log row was written.
        """
        if not attempts:
            return {}
        rows = await self._conn.fetch(
            """
            WITH attempt AS (
                SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::boolean[], $4::int[], $5::text[],
                                     $6::float8[], $7::float8[], $8::int[], $9::text[], $10::text[],
                                     $11::text[])
                  AS a(id, token, delivered, status_code, error, retry_in_s, latency_ms, attempt,
                       notice_id, member_id, channel)
            ), delivered AS (
                UPDATE deliveries d
                   SET status = 'delivered', attempts = d.attempts + 1, delivered_at = clock_timestamp(),
                       last_status_code = a.status_code, last_error = NULL, lease_token = NULL,
                       lease_until = NULL
                  FROM attempt a
                 WHERE a.delivered AND d.id = a.id AND d.lease_token = a.token
                RETURNING d.id, a.token, d.status, d.delivered_at
            ), failed AS (
                UPDATE deliveries d
                   SET attempts = d.attempts + 1, last_status_code = a.status_code, last_error = a.error,
                       lease_token = NULL, lease_until = NULL,
                       status = CASE WHEN clock_timestamp() + make_interval(secs => a.retry_in_s)
                                          > d.deadline THEN 'dead' ELSE 'pending' END,
                       dead_at = CASE WHEN clock_timestamp() + make_interval(secs => a.retry_in_s)
                                           > d.deadline THEN clock_timestamp() END,
                       next_attempt_at = clock_timestamp() + make_interval(secs => a.retry_in_s)
                  FROM attempt a
                 WHERE NOT a.delivered AND d.id = a.id AND d.lease_token = a.token
                RETURNING d.id, a.token, d.status, NULL::timestamptz AS delivered_at
            ), recorded AS (
                SELECT * FROM delivered UNION ALL SELECT * FROM failed
            ), logged AS (
                INSERT INTO delivery_log (delivery_id, notice_id, member_id, channel, attempt, outcome,
                                          status_code, error, latency_ms)
                SELECT a.id, a.notice_id, a.member_id, a.channel, a.attempt,
                       CASE WHEN a.delivered THEN 'delivered' WHEN r.status = 'dead' THEN 'dead'
                            ELSE 'failed' END,
                       a.status_code, a.error, a.latency_ms
                  FROM attempt a LEFT JOIN recorded r ON r.id = a.id AND r.token = a.token
            )
            SELECT id, token, status, delivered_at FROM recorded
            """,
            [a.claimed.delivery_id for a in attempts],
            [a.claimed.lease_token for a in attempts],
            [a.delivered for a in attempts],
            [a.status_code for a in attempts],
            [a.error for a in attempts],
            [a.retry_in_s for a in attempts],
            [a.latency_ms for a in attempts],
            [a.claimed.attempts_before + 1 for a in attempts],
            [a.claimed.notice.notice_id for a in attempts],
            [a.claimed.notice.member_id for a in attempts],
            [a.claimed.channel.value for a in attempts],
        )
        return {
            (r["id"], r["token"]): Recorded(DeliveryStatus(r["status"]), r["delivered_at"])
            for r in rows
        }

    async def release(self, released: Sequence[tuple[ClaimedDelivery, float]]) -> None:
        """Give claimed deliveries back unattempted, each due again after its delay (their
        endpoint's circuit is open, or the service is stopping)."""
        if released:
            await self._conn.execute(
                "UPDATE deliveries d SET lease_token = NULL, lease_until = NULL,"
                " next_attempt_at = clock_timestamp() + make_interval(secs => u.retry_in_s)"
                " FROM unnest($1::bigint[], $2::uuid[], $3::float8[]) AS u(id, token, retry_in_s)"
                " WHERE d.id = u.id AND d.lease_token = u.token",
                [claimed.delivery_id for claimed, _ in released],
                [claimed.lease_token for claimed, _ in released],
                [retry_in_s for _, retry_in_s in released],
            )

    async def expire_overdue(self, limit: int = 1000) -> list[str]:
        """Pending deliveries past their deadline that no attempt is under way for: dead.

        They happen when an endpoint's circuit stayed open until the horizon. Returns their channels.
        """
        rows = await self._conn.fetch(
            """
            WITH expired AS (
                UPDATE deliveries SET status = 'dead', dead_at = clock_timestamp()
                 WHERE id IN (SELECT id FROM deliveries
                               WHERE status = 'pending' AND deadline < clock_timestamp()
                                 AND (lease_until IS NULL OR lease_until < clock_timestamp())
                               LIMIT $1 FOR UPDATE SKIP LOCKED)
                RETURNING id, notice_id, member_id, channel, attempts
            )
            INSERT INTO delivery_log (delivery_id, notice_id, member_id, channel, attempt, outcome, error)
            SELECT id, notice_id, member_id, channel, attempts, 'dead', 'retry horizon passed' FROM expired
            RETURNING channel
            """,
            limit,
        )
        return [r["channel"] for r in rows]

    async def requeue_dead(self, notice_id: str, horizon_s: float) -> int:
        """Send a dead notice again, with a fresh horizon; returns how many deliveries were dead."""
        rows = await self._conn.fetch(
            """
            WITH requeued AS (
                UPDATE deliveries SET status = 'pending', next_attempt_at = clock_timestamp(),
                       deadline = clock_timestamp() + make_interval(secs => $2), dead_at = NULL,
                       lease_token = NULL, lease_until = NULL
                 WHERE notice_id = $1 AND status = 'dead'
                RETURNING id, notice_id, member_id, channel, attempts
            )
            INSERT INTO delivery_log (delivery_id, notice_id, member_id, channel, attempt, outcome, error)
            SELECT id, notice_id, member_id, channel, attempts, 'requeued', 'sent again by an admin'
              FROM requeued
            RETURNING id
            """,
            notice_id,
            horizon_s,
        )
        return len(rows)

    async def discard_dead(self, notice_id: str) -> int:
        """Give up on a dead notice for good; returns how many deliveries were dead."""
        rows = await self._conn.fetch(
            """
            WITH discarded AS (
                UPDATE deliveries SET status = 'discarded' WHERE notice_id = $1 AND status = 'dead'
                RETURNING id, notice_id, member_id, channel, attempts
            )
            INSERT INTO delivery_log (delivery_id, notice_id, member_id, channel, attempt, outcome, error)
            SELECT id, notice_id, member_id, channel, attempts, 'discarded', 'discarded by an admin'
              FROM discarded
            RETURNING id
            """,
            notice_id,
        )
        return len(rows)

    async def take_due_digests(self, limit: int) -> list[DueDigestItem]:
        """Held deliveries whose digest time has come, locked for this transaction."""
        rows = await self._conn.fetch(
            "SELECT d.id, n.* FROM deliveries d JOIN notices n USING (notice_id)"
            " WHERE d.status = 'held' AND d.next_attempt_at <= clock_timestamp()"
            " ORDER BY d.member_id, n.stored_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED",
            limit,
        )
        return [
            DueDigestItem(delivery_id=r["id"], member_id=r["member_id"], notice=_notice(r))
            for r in rows
        ]

    async def mark_digested(self, delivery_ids: Sequence[int], digest_id: str) -> None:
        await self._conn.execute(
            "UPDATE deliveries SET status = 'digested', digest_id = $2 WHERE id = ANY($1::bigint[])",
            list(delivery_ids),
            digest_id,
        )

    async def counts(self) -> tuple[int, int]:
        """(dead, pending) across all instances."""
        row = await self._conn.fetchrow(
            "SELECT (SELECT count(*) FROM deliveries WHERE status = 'dead') AS dead,"
            " (SELECT count(*) FROM deliveries WHERE status = 'pending') AS pending"
        )
        assert row is not None
        return row["dead"], row["pending"]

    async def list(
        self, status: str | None, member_id: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            "SELECT d.id, d.notice_id, d.member_id, n.notice_type, d.channel, d.status, d.attempts,"
            " d.next_attempt_at, d.deadline, d.last_status_code, d.last_error, d.delivered_at, d.dead_at,"
            " n.stored_at FROM deliveries d JOIN notices n USING (notice_id)"
            " WHERE ($1::text IS NULL OR d.status = $1) AND ($2::text IS NULL OR d.member_id = $2)"
            " ORDER BY n.stored_at DESC, d.id DESC LIMIT $3",
            status,
            member_id,
            limit,
        )
        return [dict(r) for r in rows]

    async def of_notice(self, notice_id: str) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            "SELECT id, channel, status, attempts, next_attempt_at, deadline, last_status_code, last_error,"
            " delivered_at, dead_at, digest_id FROM deliveries WHERE notice_id = $1 ORDER BY channel",
            notice_id,
        )
        return [dict(r) for r in rows]

    async def log(self, member_id: str, limit: int) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            "SELECT l.id, l.notice_id, n.notice_type, l.channel, l.attempt, l.outcome, l.status_code, l.error,"
            " l.latency_ms, l.logged_at FROM delivery_log l JOIN notices n USING (notice_id)"
            " WHERE l.member_id = $1 ORDER BY l.id DESC LIMIT $2",
            member_id,
            limit,
        )
        return [dict(r) for r in rows]
