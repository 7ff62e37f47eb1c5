"""The risk buffers' tables (migration 0007), read and written inside a unit of work's transaction.

A buffer's stock on order is not stored: its lots are the alliance's deliveries of the SKU on
orders still standing (neither rejected nor cancelled), oldest first, each of what its supplier
committed to where it answered (`commitments`, a partial line's share), less the units booked
as received from it. A rejection, a cancellation or a re-sourcing of a replenishment so moves
the stock on order with no write here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg

from services.procurement.domain.buffers import (
    BufferSizing,
    BufferStock,
    DemandStats,
    Draw,
    MemberSizing,
    OpenLot,
    RiskBuffer,
)
from services.procurement.domain.demand import OpenRequest
from shared.contract import ALLIANCE_MEMBER_ID, ShipTo

_BUFFER_COLUMNS = (
    "b.sku, b.warehouse::text AS warehouse, b.service_level, b.holding_cost_per_unit_and_cycle,"
    " b.history_cycles, b.statement_every_cycles, b.on_hand, b.stock_value,"
    " coalesce((SELECT array_agg(s.member_id ORDER BY s.member_id) FROM risk_buffer_subscribers s"
    " WHERE s.sku = b.sku), '{}') AS subscribers"
)
SERVED_FROM_BUFFER = "served_from_buffer"
"""The `status_reason` of a request served in full from a buffer (its status is `confirmed`:
the alliance delivers it from its warehouse)."""


def lot_request(reference: str) -> tuple[str, str]:
    """(order_id, the alliance's request_id) of a lot's reference: order ids hold no '/'."""
    order_id, _, request_id = reference.partition("/")
    return order_id, request_id


def received_from_lots(lots: Sequence[OpenLot], quantity: int) -> dict[str, int]:
    """Units per lot reference when `quantity` are received, oldest lot first (as
    `BufferStock.received` values them)."""
    left, taken = quantity, {}
    for lot in lots:
        if left <= 0:
            break
        taken[lot.reference] = min(left, lot.quantity)
        left -= taken[lot.reference]
    return taken


def _sizing_json(sizing: BufferSizing) -> str:
    return json.dumps([
        {
            "member_id": m.member_id,
            "mean": str(m.stats.mean),
            "variance": str(m.stats.variance),
            "cycles": m.stats.cycles,
            "pooled": m.stats.pooled,
            "standalone_stock": str(m.standalone_stock),
            "cost_share": str(m.cost_share),
            "standalone_cost": str(m.standalone_cost),
        }
        for m in sizing.members
    ])


def _sizing(row: asyncpg.Record) -> BufferSizing:
    members = tuple(
        MemberSizing(
            member_id=m["member_id"],
            stats=DemandStats(Decimal(m["mean"]), Decimal(m["variance"]), m["cycles"], m["pooled"]),
            standalone_stock=Decimal(m["standalone_stock"]),
            cost_share=Decimal(m["cost_share"]),
            standalone_cost=Decimal(m["standalone_cost"]),
        )
        for m in json.loads(row["members"])
    )
    return BufferSizing(
        cycle_id=row["cycle_id"],
        sku=row["sku"],
        lead_time_cycles=row["lead_time_cycles"],
        service_factor=row["service_factor"],
        safety_stock=row["safety_stock"],
        target=row["target"],
        holding_cost=row["holding_cost"],
        members=members,
    )


class BuffersRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def list(self, skus: Iterable[str] | None = None) -> list[RiskBuffer]:
        """The buffers (of `skus`, or all) with their stock, in SKU order."""
        wanted = None if skus is None else list(skus)
        rows = await self._conn.fetch(
            f"SELECT {_BUFFER_COLUMNS} FROM risk_buffers b WHERE $1::text[] IS NULL OR b.sku = ANY($1::text[])"
            " ORDER BY b.sku",
            wanted,
        )
        if not rows:
            return []
        lots = await self._conn.fetch(
            "SELECT l.sku, l.reference, l.quantity - coalesce(r.quantity, 0) AS quantity, l.unit_price FROM ("
            " SELECT p.sku, d.order_id || '/' || d.request_id AS reference, coalesce(c.confirmed, d.quantity) AS quantity,"
            " d.unit_price, o.placed_at, d.order_id, d.line_id FROM deliveries d JOIN orders o USING (order_id)"
            " JOIN purchase_requests p ON p.member_id = d.member_id AND p.request_id = d.request_id"
            " LEFT JOIN commitments c ON c.order_id = d.order_id AND c.member_id = d.member_id"
            " AND c.request_id = d.request_id"
            " WHERE d.member_id = $1 AND o.status NOT IN ('rejected', 'cancelled') AND p.sku = ANY($2::text[])) l"
            " LEFT JOIN risk_buffer_lot_receipts r ON r.sku = l.sku AND r.reference = l.reference"
            " WHERE l.quantity > coalesce(r.quantity, 0) ORDER BY l.placed_at, l.order_id, l.line_id",
            ALLIANCE_MEMBER_ID,
            [r["sku"] for r in rows],
        )
        by_sku: dict[str, list[OpenLot]] = {}
        for lot in lots:
            by_sku.setdefault(lot["sku"], []).append(OpenLot(lot["reference"], lot["quantity"], lot["unit_price"]))
        return [
            RiskBuffer(
                sku=r["sku"],
                warehouse=ShipTo.model_validate_json(r["warehouse"]),
                service_level=r["service_level"],
                holding_cost_per_unit_and_cycle=r["holding_cost_per_unit_and_cycle"],
                history_cycles=r["history_cycles"],
                statement_every_cycles=r["statement_every_cycles"],
                subscribers=tuple(r["subscribers"]),
                stock=BufferStock(r["on_hand"], r["stock_value"], tuple(by_sku.get(r["sku"], []))),
            )
            for r in rows
        ]

    async def get(self, sku: str) -> RiskBuffer | None:
        found = await self.list([sku])
        return found[0] if found else None

    async def save(self, buffer: RiskBuffer, subscribe: bool) -> None:
        """Create or update the buffer's configuration; with `subscribe`, add its subscribers
        (never removes one: `unsubscribe` does). Its stock is the stock's own business."""
        await self._conn.execute(
            "INSERT INTO risk_buffers (sku, warehouse, service_level, holding_cost_per_unit_and_cycle,"
            " history_cycles, statement_every_cycles) VALUES ($1, $2::jsonb, $3, $4, $5, $6)"
            " ON CONFLICT (sku) DO UPDATE SET warehouse = $2::jsonb, service_level = $3,"
            " holding_cost_per_unit_and_cycle = $4, history_cycles = $5, statement_every_cycles = $6",
            buffer.sku,
            buffer.warehouse.model_dump_json(),
            buffer.service_level,
            buffer.holding_cost_per_unit_and_cycle,
            buffer.history_cycles,
            buffer.statement_every_cycles,
        )
        if subscribe:
            for member_id in buffer.subscribers:
                await self.subscribe(buffer.sku, member_id)

    async def exists(self, sku: str) -> bool:
        return bool(await self._conn.fetchval("SELECT 1 FROM risk_buffers WHERE sku = $1", sku))

    async def subscribe(self, sku: str, member_id: str) -> bool:
        """Whether it was not subscribed before."""
        status = await self._conn.execute(
            "INSERT INTO risk_buffer_subscribers (sku, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            sku,
            member_id,
        )
        return status.endswith(" 1")

    async def unsubscribe(self, sku: str, member_id: str) -> bool:
        status = await self._conn.execute(
            "DELETE FROM risk_buffer_subscribers WHERE sku = $1 AND member_id = $2", sku, member_id
        )
        return status.endswith(" 1")

    async def save_stock(self, sku: str, stock: BufferStock) -> None:
        """Units on hand and their value."""
        await self.save_stocks({sku: stock})

    async def save_stocks(self, stocks: Mapping[str, BufferStock]) -> None:
        await self._conn.execute(
            "UPDATE risk_buffers b SET on_hand = u.on_hand, stock_value = u.value"
            " FROM unnest($1::text[], $2::integer[], $3::numeric[]) AS u(sku, on_hand, value) WHERE b.sku = u.sku",
            list(stocks),
            [s.on_hand for s in stocks.values()],
            [s.value for s in stocks.values()],
        )

    async def count_closes_below_half(self, below: Mapping[str, bool]) -> None:
        """After a close: one more close below half the target, or the count back to 0."""
        await self._conn.execute(
            "UPDATE risk_buffers b SET closes_below_half = CASE WHEN u.below THEN b.closes_below_half + 1 ELSE 0 END"
            " FROM unnest($1::text[], $2::boolean[]) AS u(sku, below) WHERE b.sku = u.sku",
            list(below),
            list(below.values()),
        )

    async def closes_below_half(self) -> dict[str, int]:
        rows = await self._conn.fetch("SELECT sku, closes_below_half FROM risk_buffers")
        return {r["sku"]: r["closes_below_half"] for r in rows}

    async def record_receipt(self, sku: str, from_lots: Mapping[str, int], unit_cost: Decimal) -> int:
        """Units booked as arrived, taken from these lots (reference: units); the receipt's number."""
        await self._conn.executemany(
            "INSERT INTO risk_buffer_lot_receipts (sku, reference, quantity) VALUES ($1, $2, $3)"
            " ON CONFLICT (sku, reference) DO UPDATE SET quantity = risk_buffer_lot_receipts.quantity + $3",
            [(sku, reference, units) for reference, units in from_lots.items()],
        )
        return await self._conn.fetchval(
            "INSERT INTO risk_buffer_receipts (sku, quantity, unit_cost) VALUES ($1, $2, $3) RETURNING receipt_no",
            sku, sum(from_lots.values()), unit_cost,
        )

    async def counted_before(self, skus: Sequence[str]) -> set[tuple[str, str]]:
        """(member_id, request_id) of the open requests of `skus` a close counted before: they
        waited, and count in the cycle that first saw them only."""
        rows = await self._conn.fetch(
            "SELECT member_id, request_id FROM purchase_requests"
            " WHERE status = 'open' AND sku = ANY($1::text[]) AND buffer_cycle_no IS NOT NULL",
            list(skus),
        )
        return {(r["member_id"], r["request_id"]) for r in rows}

    async def admitted(
        self, skus: Sequence[str] = (), keys: Sequence[tuple[str, str]] = ()
    ) -> dict[tuple[str, str], datetime]:
        """When requests were admitted, by (member_id, request_id): the subscribers' open
        requests of `skus`, and the requests `keys`."""
        rows = []
        if skus:
            rows += await self._conn.fetch(
                "SELECT p.member_id, p.request_id, p.admitted_at FROM purchase_requests p"
                " JOIN risk_buffer_subscribers s ON s.sku = p.sku AND s.member_id = p.member_id"
                " WHERE p.status = 'open' AND p.sku = ANY($1::text[])",
                list(skus),
            )
        if keys:
            rows += await self._conn.fetch(
                "SELECT p.member_id, p.request_id, p.admitted_at FROM purchase_requests p"
                " JOIN unnest($1::text[], $2::text[]) AS u(m, r) ON p.member_id = u.m AND p.request_id = u.r",
                [m for m, _ in keys],
                [r for _, r in keys],
            )
        return {(r["member_id"], r["request_id"]): r["admitted_at"] for r in rows}

    async def record_demand(self, cycle_no: int, quantities: Mapping[tuple[str, str], int]) -> None:
        """Requested quantity per (sku, member) in cycle `cycle_no`."""
        await self._conn.copy_records_to_table(
            "risk_buffer_demand",
            records=[(sku, cycle_no, member_id, q) for (sku, member_id), q in quantities.items()],
            columns=("sku", "cycle_no", "member_id", "quantity"),
        )

    async def mark_counted(self, cycle_no: int, requests: Sequence[OpenRequest]) -> None:
        """Requests counted in cycle `cycle_no`'s demand that wait for a later close."""
        if not requests:
            return
        await self._conn.execute(
            "UPDATE purchase_requests p SET buffer_cycle_no = $1 FROM unnest($2::text[], $3::text[]) AS u(m, r)"
            " WHERE p.member_id = u.m AND p.request_id = u.r AND p.buffer_cycle_no IS NULL",
            cycle_no,
            [r.member_id for r in requests],
            [r.request_id for r in requests],
        )

    async def closed_cycles(self, limit: int) -> list[int]:
        """The numbers of the last `limit` closed cycles, oldest first."""
        rows = await self._conn.fetch("SELECT cycle_no FROM cycles ORDER BY cycle_no DESC LIMIT $1", limit)
        return [r["cycle_no"] for r in reversed(rows)]

    async def histories(self, skus: Sequence[str], cycles: Sequence[int]) -> dict[str, dict[str, list[int]]]:
        """Per SKU, per member that requested it: its quantity in each of `cycles` (ascending)
        since its first request of the SKU, 0 for a cycle without one."""
        if not skus or not cycles:
            return {}
        rows = await self._conn.fetch(
            "SELECT sku, member_id, cycle_no, quantity FROM risk_buffer_demand"
            " WHERE sku = ANY($1::text[]) AND cycle_no = ANY($2::bigint[])",
            list(skus),
            list(cycles),
        )
        firsts = await self._conn.fetch(
            "SELECT sku, member_id, min(cycle_no) AS first FROM risk_buffer_demand"
            " WHERE sku = ANY($1::text[]) GROUP BY sku, member_id",
            list(skus),
        )
        quantities = {(r["sku"], r["member_id"], r["cycle_no"]): r["quantity"] for r in rows}
        result: dict[str, dict[str, list[int]]] = {}
        for first in firsts:
            sku, member = first["sku"], first["member_id"]
            since = [c for c in cycles if c >= first["first"]]
            if since:
                result.setdefault(sku, {})[member] = [quantities.get((sku, member, c), 0) for c in since]
        return result

    async def record_sizings(self, cycle_no: int, sizings: Sequence[BufferSizing], on_hand: Mapping[str, int]) -> None:
        """The close's sizings, with the units on hand it left each buffer."""
        await self._conn.executemany(
            "INSERT INTO risk_buffer_sizings (sku, cycle_no, cycle_id, lead_time_cycles, service_factor,"
            " safety_stock, target, holding_cost, members, on_hand)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)",
            [
                (s.sku, cycle_no, s.cycle_id, s.lead_time_cycles, s.service_factor, s.safety_stock, s.target,
                 s.holding_cost, _sizing_json(s), on_hand[s.sku])
                for s in sizings
            ],
        )

    async def statement_period(self, sku: str, cycle_id: str | None) -> tuple[int, int, int] | None:
        """(first cycle number, last cycle number, on hand at its close) of the statement period
        that closed with `cycle_id`, or of the latest closed period; None when there is none."""
        row = await self._conn.fetchrow(
            "SELECT s.cycle_no, s.on_hand, b.statement_every_cycles FROM risk_buffer_sizings s"
            " JOIN risk_buffers b USING (sku) WHERE s.sku = $1 AND ($2::text IS NULL OR s.cycle_id = $2)"
            " AND s.cycle_no % b.statement_every_cycles = 0 ORDER BY s.cycle_no DESC LIMIT 1",
            sku,
            cycle_id,
        )
        if row is None:
            return None
        every = row["statement_every_cycles"]
        return row["cycle_no"] - every + 1, row["cycle_no"], row["on_hand"]

    async def periods(
        self, periods: Mapping[str, tuple[int, int]]
    ) -> tuple[dict[str, list[BufferSizing]], dict[str, dict[str, int]]]:
        """For each SKU's (first, last) cycle numbers: its sizings, oldest first, and the units
        each member was served from it in those cycles."""
        skus = list(periods)
        firsts = [first for first, _ in periods.values()]
        lasts = [last for _, last in periods.values()]
        rows = await self._conn.fetch(
            "SELECT s.* FROM risk_buffer_sizings s JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(sku, f, l)"
            " ON s.sku = u.sku AND s.cycle_no BETWEEN u.f AND u.l ORDER BY s.sku, s.cycle_no",
            skus, firsts, lasts,
        )
        draws = await self._conn.fetch(
            "SELECT d.sku, d.member_id, sum(d.quantity) AS quantity FROM risk_buffer_draws d"
            " JOIN unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(sku, f, l)"
            " ON d.sku = u.sku AND d.cycle_no BETWEEN u.f AND u.l GROUP BY d.sku, d.member_id",
            skus, firsts, lasts,
        )
        sizings: dict[str, list[BufferSizing]] = {sku: [] for sku in skus}
        for row in rows:
            sizings[row["sku"]].append(_sizing(row))
        drawn: dict[str, dict[str, int]] = {sku: {} for sku in skus}
        for row in draws:
            drawn[row["sku"]][row["member_id"]] = row["quantity"]
        return sizings, drawn

    async def latest_sizings(self, skus: Iterable[str]) -> dict[str, BufferSizing]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT ON (sku) * FROM risk_buffer_sizings WHERE sku = ANY($1::text[])"
            " ORDER BY sku, cycle_no DESC",
            list(skus),
        )
        return {r["sku"]: _sizing(r) for r in rows}

    async def current_cycle_no(self) -> int:
        """The number a draw between closes counts in: the cycle after the last closed one."""
        return await self._conn.fetchval("SELECT coalesce(max(cycle_no), 0) + 1 FROM cycles")

    async def record_draws(self, cycle_no: int, occasion: str, draws: Mapping[str, Sequence[Draw]]) -> None:
        """Draws per SKU on one occasion (a close's cycle id, or the order left without a
        supplier). Raises asyncpg.UniqueViolationError for a request drawn for on this occasion
        before: none is ever served twice."""
        await self._conn.copy_records_to_table(
            "risk_buffer_draws",
            records=[
                (d.member_id, d.request_id, occasion, sku, d.quantity, d.unit_price, cycle_no)
                for sku, of_sku in draws.items() for d in of_sku
            ],
            columns=("member_id", "request_id", "occasion", "sku", "quantity", "unit_price", "cycle_no"),
        )

    async def add_replenishments(self, requests: Sequence[OpenRequest]) -> None:
        """The alliance's own requests, stored like members' ones so that orders, re-sourcing and
        answers treat them alike; counted in no demand history."""
        await self._conn.executemany(
            "INSERT INTO purchase_requests (member_id, request_id, sku, quantity, needed_by, ship_to, country,"
            " buffer_cycle_no) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, 0)",
            [
                (r.member_id, r.request_id, r.sku, r.quantity, r.needed_by,
                 r.ship_to.model_dump_json() if r.ship_to else None, r.country)
                for r in requests
            ],
        )

    async def mark_served(self, requests: Mapping[str, Sequence[str]]) -> None:
        """Requests (request ids per member) served in full from a buffer."""
        pairs = [(m, r) for m, ids in requests.items() for r in ids]
        if not pairs:
            return
        await self._conn.execute(
            "UPDATE purchase_requests p SET status = 'confirmed', status_reason = $3, decided_at = now()"
            " FROM unnest($1::text[], $2::text[]) AS u(m, r) WHERE p.member_id = u.m AND p.request_id = u.r",
            [m for m, _ in pairs],
            [r for _, r in pairs],
            SERVED_FROM_BUFFER,
        )
