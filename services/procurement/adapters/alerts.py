"""The risk alert registry's tables, and the live requests an alert may expose."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

import asyncpg

from services.procurement.domain.risk import (
    Alert,
    AlertChange,
    AlertSource,
    AlertStatus,
    Holding,
    RegisteredAlert,
    Scope,
)
from shared.contract import RiskKind, Severity

_ALERT_COLUMNS = (
    "alert_key, source, reporter, alert_id, supplier_id, sku, region, kind, severity, summary,"
    " valid_until, trusted, status, raised_at, ended_at"
)


def alert_from_row(row: asyncpg.Record) -> Alert:
    return Alert(
        source=AlertSource(row["source"]),
        reporter=row["reporter"],
        alert_id=row["alert_id"],
        scope=Scope(row["supplier_id"], row["sku"], row["region"]),
        kind=RiskKind(row["kind"]),
        severity=Severity(row["severity"]),
        summary=row["summary"],
        trusted=row["trusted"],
        status=AlertStatus(row["status"]),
        valid_until=row["valid_until"],
    )


def _registered(row: asyncpg.Record) -> RegisteredAlert:
    return RegisteredAlert(alert_from_row(row), row["raised_at"], row["ended_at"])


class AlertsRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, alert: Alert) -> None:
        await self._conn.execute(
            f"INSERT INTO risk_alerts ({_ALERT_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, now(), NULL)",
            alert.key,
            alert.source.value,
            alert.reporter,
            alert.alert_id,
            alert.scope.supplier_id,
            alert.scope.sku,
            alert.scope.region,
            alert.kind.value,
            alert.severity.value,
            alert.summary,
            alert.valid_until,
            alert.trusted,
            alert.status.value,
        )

    async def get(self, key: str) -> Alert | None:
        row = await self._conn.fetchrow(f"SELECT {_ALERT_COLUMNS} FROM risk_alerts WHERE alert_key = $1", key)
        return alert_from_row(row) if row else None

    async def active(self) -> list[Alert]:
        """Alerts neither resolved nor marked expired (some may be past valid_until already)."""
        rows = await self._conn.fetch(
            f"SELECT {_ALERT_COLUMNS} FROM risk_alerts WHERE status = 'active' ORDER BY raised_at, alert_key"
        )
        return [alert_from_row(r) for r in rows]

    async def end(self, key: str, status: AlertStatus) -> bool:
        """Resolve or expire an active alert; False when it had ended already."""
        ended = await self._conn.fetchval(
            "UPDATE risk_alerts SET status = $2, ended_at = now() WHERE alert_key = $1 AND status = 'active'"
            " RETURNING alert_key",
            key,
            status.value,
        )
        return ended is not None

    async def record(self, changes: Sequence[tuple[str, str, str]]) -> None:
        """History rows: (alert_key, change, detail)."""
        if changes:
            await self._conn.executemany(
                "INSERT INTO risk_alert_history (alert_key, change, detail) VALUES ($1, $2, $3)", list(changes)
            )

    async def listing(self, status: AlertStatus | None, limit: int) -> list[RegisteredAlert]:
        """Alerts as stored (newest first), for the admin API."""
        rows = await self._conn.fetch(
            f"SELECT {_ALERT_COLUMNS} FROM risk_alerts WHERE ($1::text IS NULL OR status = $1)"
            " ORDER BY raised_at DESC, alert_key LIMIT $2",
            status.value if status else None,
            limit,
        )
        return [_registered(row) for row in rows]

    async def find(self, reference: str) -> RegisteredAlert | None:
        """An alert by its key, or an ops alert by its alert_id."""
        row = await self._conn.fetchrow(
            f"SELECT {_ALERT_COLUMNS} FROM risk_alerts WHERE alert_key = $1"
            " OR (source = 'ops' AND alert_id = $1) ORDER BY alert_key = $1 DESC LIMIT 1",
            reference,
        )
        return _registered(row) if row else None

    async def history(self, keys: Sequence[str]) -> dict[str, list[AlertChange]]:
        rows = await self._conn.fetch(
            "SELECT alert_key, at, change, detail FROM risk_alert_history WHERE alert_key = ANY($1::text[])"
            " ORDER BY id",
            list(keys),
        )
        found: dict[str, list[AlertChange]] = {}
        for row in rows:
            found.setdefault(row["alert_key"], []).append(AlertChange(row["at"], row["change"], row["detail"]))
        return found

    async def exposed_counts(self, keys: Sequence[str]) -> dict[str, int]:
        rows = await self._conn.fetch(
            "SELECT alert_key, count(*) AS members FROM risk_alert_exposure"
            " WHERE alert_key = ANY($1::text[]) GROUP BY 1",
            list(keys),
        )
        return {r["alert_key"]: r["members"] for r in rows}

    async def save_exposure(self, key: str, exposed: Mapping[str, Sequence[str]]) -> None:
        await self._conn.executemany(
            "INSERT INTO risk_alert_exposure (alert_key, member_id, request_ids) VALUES ($1, $2, $3)",
            [(key, member, list(ids)) for member, ids in exposed.items()],
        )

    async def exposure(self, key: str) -> dict[str, tuple[str, ...]]:
        """Who was told when the alert was raised, with the request ids they were told of."""
        rows = await self._conn.fetch(
            "SELECT member_id, request_ids FROM risk_alert_exposure WHERE alert_key = $1 ORDER BY member_id", key
        )
        return {r["member_id"]: tuple(r["request_ids"]) for r in rows}

    async def holdings(self, scope: Scope, today: date, orders_only: bool = False) -> list[Holding]:
        """Live requests that may lie inside `scope` (`domain.risk.holding_in_scope` decides):
        open ones of its SKU and country that its supplier could take, and deliveries on orders
        of its supplier, SKU and country that are unconfirmed, or confirmed (in whole, or by an
        answer per line that serves the delivery) and not yet due (no delivery date, or one from
        `today` on)."""
        rows = await self._conn.fetch(
            "SELECT member_id, request_id, sku, country, NULL AS supplier_id, NULL AS order_id,"
            " false AS confirmed FROM purchase_requests p"
            " WHERE NOT $5 AND status = 'open' AND ($2::text IS NULL OR sku = $2)"
            " AND ($3::text IS NULL OR country = $3) AND ($1::text IS NULL OR EXISTS ("
            " SELECT 1 FROM catalog_items c JOIN suppliers s USING (supplier_id)"
            " WHERE c.supplier_id = $1 AND c.sku = p.sku AND p.country = ANY(s.regions)))"
            " UNION ALL"
            " SELECT p.member_id, p.request_id, l.sku, p.country, o.supplier_id, o.order_id,"
            " o.status <> 'placed' FROM deliveries d"
            " JOIN orders o ON o.order_id = d.order_id"
            " JOIN order_lines l ON l.order_id = d.order_id AND l.line_id = d.line_id"
            " JOIN purchase_requests p ON p.member_id = d.member_id AND p.request_id = d.request_id"
            " WHERE (o.status = 'placed' OR ((o.status = 'confirmed' OR (o.status = 'answered' AND EXISTS ("
            " SELECT 1 FROM commitments c WHERE c.order_id = d.order_id AND c.member_id = d.member_id"
            " AND c.request_id = d.request_id AND c.confirmed > 0)))"
            " AND (o.expected_delivery IS NULL OR o.expected_delivery >= $4)))"
            " AND ($1::text IS NULL OR o.supplier_id = $1) AND ($2::text IS NULL OR l.sku = $2)"
            " AND ($3::text IS NULL OR p.country = $3)",
            scope.supplier_id,
            scope.sku,
            scope.region,
            today,
            orders_only,
        )
        return [
            Holding(r["member_id"], r["request_id"], r["sku"], r["country"], r["supplier_id"], r["order_id"],
                    r["confirmed"])
            for r in rows
        ]

    async def categories(self, scope: Scope) -> tuple[str, ...]:
        """The catalog categories inside a scope: of its SKU, of what its supplier offers, of
        what is offered in its region."""
        rows = await self._conn.fetch(
            "SELECT DISTINCT c.category FROM catalog_items c JOIN suppliers s USING (supplier_id)"
            " WHERE ($1::text IS NULL OR c.supplier_id = $1) AND ($2::text IS NULL OR c.sku = $2)"
            " AND ($3::text IS NULL OR $3 = ANY(s.regions)) ORDER BY 1",
            scope.supplier_id,
            scope.sku,
            scope.region,
        )
        return tuple(r["category"] for r in rows)


class KnownMembersRepository:
    """The members' ids, projected from the members service's registry events."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, member_ids: Iterable[str]) -> None:
        await self._conn.execute(
            "INSERT INTO known_members (member_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
            list(set(member_ids)),
        )

    async def known(self, candidates: Iterable[str]) -> set[str]:
        rows = await self._conn.fetch(
            "SELECT member_id FROM known_members WHERE member_id = ANY($1::text[])", list(set(candidates))
        )
        return {r["member_id"] for r in rows}
