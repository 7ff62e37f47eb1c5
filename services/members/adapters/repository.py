"""The members service's tables, read and written inside a unit of work's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from services.members.domain.members import Member, MemberStatus
from shared.contract import Severity

_MEMBER_COLUMNS = (
    "member_id, name, status, region, erp_secret, previous_erp_secret, previous_secret_valid_until,"
    " email, locale, webhook_url, webhook_secret, interest_categories, min_risk_severity,"
    " peppol_id, vat_id"
)


def _member(row: asyncpg.Record) -> Member:
    return Member(
        member_id=row["member_id"],
        name=row["name"],
        status=MemberStatus(row["status"]),
        region=row["region"],
        erp_secret=row["erp_secret"],
        previous_erp_secret=row["previous_erp_secret"],
        previous_secret_valid_until=row["previous_secret_valid_until"],
        email=row["email"],
        locale=row["locale"],
        webhook_url=row["webhook_url"],
        webhook_secret=row["webhook_secret"],
        interest_categories=tuple(row["interest_categories"]),
        min_risk_severity=Severity(row["min_risk_severity"]),
        peppol_id=row["peppol_id"],
        vat_id=row["vat_id"],
    )


class MembersRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def get(self, member_id: str) -> Member | None:
        row = await self._conn.fetchrow(f"SELECT {_MEMBER_COLUMNS} FROM members WHERE member_id = $1", member_id)
        return _member(row) if row else None

    async def get_many(self, member_ids: Iterable[str]) -> dict[str, Member]:
        rows = await self._conn.fetch(
            f"SELECT {_MEMBER_COLUMNS} FROM members WHERE member_id = ANY($1::text[])", list(set(member_ids))
        )
        return {r["member_id"]: _member(r) for r in rows}

    async def list(self) -> list[Member]:
        rows = await self._conn.fetch(f"SELECT {_MEMBER_COLUMNS} FROM members ORDER BY member_id")
        return [_member(r) for r in rows]

    async def save(self, member: Member) -> None:
        await self._conn.execute(
            f"INSERT INTO members ({_MEMBER_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)"
            " ON CONFLICT (member_id) DO UPDATE SET name = $2, status = $3, region = $4, erp_secret = $5,"
            " previous_erp_secret = $6, previous_secret_valid_until = $7, email = $8, locale = $9,"
            " webhook_url = $10, webhook_secret = $11, interest_categories = $12, min_risk_severity = $13,"
            " peppol_id = $14, vat_id = $15, updated_at = now()",
            member.member_id, member.name, member.status.value, member.region, member.erp_secret,
            member.previous_erp_secret, member.previous_secret_valid_until, member.email, member.locale,
            member.webhook_url, member.webhook_secret, list(member.interest_categories),
            member.min_risk_severity.value, member.peppol_id, member.vat_id,
        )


class CatalogRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def skus(self, candidates: Iterable[str]) -> set[str]:
        """Which of `candidates` are in the catalog."""
        rows = await self._conn.fetch("SELECT sku FROM catalog_skus WHERE sku = ANY($1::text[])", list(set(candidates)))
        return {r["sku"] for r in rows}

    async def upsert(self, items: Iterable[tuple[str, str]]) -> None:
        await self._conn.executemany(
            "INSERT INTO catalog_skus (sku, category) VALUES ($1, $2)"
            " ON CONFLICT (sku) DO UPDATE SET category = excluded.category",
            list(items),
        )


class AdmittedRequests:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fingerprints(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[bytes, str]]:
        """(member_id, request_id) -> (fingerprint, sku) for those already admitted.

        One primary-key probe per key, whatever the planner believes: as a join, a plan made
        while the table was small hashed all of it for every batch once it had grown (in the
        platform bench this query held the database 64 % of the time at 800k rows). `LIMIT 1`
        keeps the correlated subquery from being flattened into that join."""
        pairs = list(set(keys))
        if not pairs:
            return {}
        rows = await self._conn.fetch(
            "SELECT a.member_id, a.request_id, a.fingerprint, a.sku"
            " FROM unnest($1::text[], $2::text[]) AS k(member_id, request_id), LATERAL ("
            "   SELECT * FROM admitted_requests a"
            "   WHERE a.member_id = k.member_id AND a.request_id = k.request_id LIMIT 1) AS a",
            [m for m, _ in pairs],
            [r for _, r in pairs],
        )
        return {(r["member_id"], r["request_id"]): (r["fingerprint"], r["sku"]) for r in rows}

    async def add(self, rows: Sequence[tuple[str, str, str, bytes]]) -> None:
        """(member_id, request_id, sku, fingerprint), new ones only (checked in the same transaction)."""
        if rows:
            await self._conn.copy_records_to_table(
                "admitted_requests", records=rows, columns=("member_id", "request_id", "sku", "fingerprint")
            )
