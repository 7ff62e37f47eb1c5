"""What the documents of XML suppliers need from procurement's tables: the alliance's own party
(from the seed) and the members as delivery parties (from the members service's profiles)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from shared.documents.parties import ALLIANCE_MEMBER_ID, Address, Party
from shared.events.members import MemberProfile


class PartiesRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def learn_members(self, profiles: Sequence[MemberProfile]) -> None:
        """Remember each announced member's id, name, region and document ids (the last wins)."""
        latest = {p.member_id: p for p in profiles}
        await self._conn.executemany(
            "INSERT INTO known_members (member_id, name, region, peppol_id, vat_id) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (member_id) DO UPDATE SET name = $2, region = $3, peppol_id = $4, vat_id = $5",
            [(p.member_id, p.name, p.region, p.peppol_id, p.vat_id) for p in latest.values()],
        )

    async def members(self, member_ids: Iterable[str]) -> dict[str, Party]:
        """The members as delivery parties. A member whose profile predates its name being kept
        here is named by its id, in the country of its requests."""
        rows = await self._conn.fetch(
            "SELECT k.member_id, k.name, coalesce(k.region, r.country, 'DE') AS region, k.peppol_id, k.vat_id"
            " FROM known_members k LEFT JOIN LATERAL (SELECT country FROM purchase_requests p"
            "  WHERE p.member_id = k.member_id LIMIT 1) r ON true"
            " WHERE k.member_id = ANY($1::text[])",
            list(set(member_ids)),
        )
        return {
            r["member_id"]: Party(r["member_id"], r["name"] or r["member_id"], Address(country=r["region"]),
                                  r["peppol_id"], r["vat_id"])
            for r in rows
        }

    async def alliance(self) -> Party | None:
        row = await self._conn.fetchrow("SELECT * FROM alliance_party")
        if row is None:
            return None
        address = Address(row["country"], row["street"], row["city"], row["postal_code"])
        return Party(ALLIANCE_MEMBER_ID, row["name"], address, row["peppol_id"], row["vat_id"])

    async def save_alliance(self, party: Party) -> None:
        address = party.address
        await self._conn.execute(
            "INSERT INTO alliance_party (name, peppol_id, vat_id, street, city, postal_code, country)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (singleton) DO UPDATE SET name = $1,"
            " peppol_id = $2, vat_id = $3, street = $4, city = $5, postal_code = $6, country = $7",
            party.name, party.peppol_id, party.vat_id, address.street, address.city, address.postal_code,
            address.country,
        )
