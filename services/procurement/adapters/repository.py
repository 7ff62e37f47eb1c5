"""Procurement's tables, read and written inside a unit of work's transaction.

Bulk paths (open demand, a cycle's orders and request updates) use one query or one COPY
each, so a close over 100k requests costs a handful of round trips.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime

import asyncpg

from services.procurement.domain.bundling import Tier
from services.procurement.domain.catalog import CatalogItem, Supplier
from services.procurement.domain.demand import OpenRequest, RequestStatus
from services.procurement.domain.orders import JointOrder, LineSummary, OrderLine, OrderRecord, OrderStatus
from services.procurement.domain.schedule import ClosedCycle
from shared.contract import ShipTo
from shared.documents.standards import Standard
from shared.events.members import PurchaseRequestAdmitted

_SUPPLIER_COLUMNS = (
    "supplier_id, name, regions, lead_time_days, secret, previous_secret,"
    " previous_secret_valid_until, documents, peppol_id, vat_id"
)
_ITEM_COLUMNS = (
    "supplier_id, sku, name, category, unit, capacity_per_cycle, min_order_quantity,"
    " tier_min_quantities, tier_unit_prices"
)
_REQUEST_COLUMNS = (
    "p.member_id, p.request_id, p.sku, p.quantity, p.needed_by, p.max_unit_price,"
    " p.ship_to::text AS ship_to, p.country"
)
_ORDER_COLUMNS = (
    "order_id, supplier_id, cycle_id, status, total, quantity, placed_at, replaces_order_id,"
    " answered_at, expected_delivery, rejection_reason, escalated_at, cancelled_at,"
    " cancellation_reason, risk_flagged_at, risk_flag"
)


def _item(row: asyncpg.Record) -> CatalogItem:
    return CatalogItem(
        sku=row["sku"],
        name=row["name"],
        category=row["category"],
        unit=row["unit"],
        capacity_per_cycle=row["capacity_per_cycle"],
        min_order_quantity=row["min_order_quantity"],
        tiers=tuple(
            Tier(q, p) for q, p in zip(row["tier_min_quantities"], row["tier_unit_prices"], strict=True)
        ),
    )


def _supplier(row: asyncpg.Record, items: Sequence[CatalogItem]) -> Supplier:
    return Supplier(
        supplier_id=row["supplier_id"],
        name=row["name"],
        regions=tuple(row["regions"]),
        lead_time_days=row["lead_time_days"],
        secret=row["secret"],
        previous_secret=row["previous_secret"],
        previous_secret_valid_until=row["previous_secret_valid_until"],
        catalog=tuple(sorted(items, key=lambda i: i.sku)),
        documents=Standard(row["documents"]),
        peppol_id=row["peppol_id"],
        vat_id=row["vat_id"],
    )


def _request(row: asyncpg.Record) -> OpenRequest:
    ship_to = row["ship_to"]
    return OpenRequest(
        member_id=row["member_id"],
        request_id=row["request_id"],
        sku=row["sku"],
        quantity=row["quantity"],
        needed_by=row["needed_by"],
        country=row["country"],
        max_unit_price=row["max_unit_price"],
        ship_to=ShipTo.model_validate_json(ship_to) if ship_to else None,
    )


def _order(row: asyncpg.Record) -> OrderRecord:
    return OrderRecord(
        order_id=row["order_id"],
        supplier_id=row["supplier_id"],
        cycle_id=row["cycle_id"],
        status=OrderStatus(row["status"]),
        total=row["total"],
        quantity=row["quantity"],
        placed_at=row["placed_at"],
        replaces_order_id=row["replaces_order_id"],
        answered_at=row["answered_at"],
        expected_delivery=row["expected_delivery"],
        rejection_reason=row["rejection_reason"],
        escalated_at=row["escalated_at"],
        cancelled_at=row["cancelled_at"],
        cancellation_reason=row["cancellation_reason"],
        risk_flagged_at=row["risk_flagged_at"],
        risk_flag=row["risk_flag"],
    )


class SuppliersRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def list(self) -> list[Supplier]:
        rows = await self._conn.fetch(f"SELECT {_SUPPLIER_COLUMNS} FROM suppliers ORDER BY supplier_id")
        items = await self._conn.fetch(f"SELECT {_ITEM_COLUMNS} FROM catalog_items")
        by_supplier: dict[str, list[CatalogItem]] = {}
        for item in items:
            by_supplier.setdefault(item["supplier_id"], []).append(_item(item))
        return [_supplier(r, by_supplier.get(r["supplier_id"], [])) for r in rows]

    async def get(self, supplier_id: str) -> Supplier | None:
        row = await self._conn.fetchrow(
            f"SELECT {_SUPPLIER_COLUMNS} FROM suppliers WHERE supplier_id = $1", supplier_id
        )
        if row is None:
            return None
        items = await self._conn.fetch(
            f"SELECT {_ITEM_COLUMNS} FROM catalog_items WHERE supplier_id = $1", supplier_id
        )
        return _supplier(row, [_item(i) for i in items])

    async def get_many(self, supplier_ids: Iterable[str], with_catalog: bool = True) -> dict[str, Supplier]:
        """The suppliers among `supplier_ids`, by id: records name their sender in the key.
        `with_catalog=False` leaves their catalogs empty, for what needs only who they are and
        their secrets (a batch of a large close's dispatches would otherwise read thousands of items)."""
        ids = list(set(supplier_ids))
        rows = await self._conn.fetch(
            f"SELECT {_SUPPLIER_COLUMNS} FROM suppliers WHERE supplier_id = ANY($1::text[])", ids
        )
        items = await self._conn.fetch(
            f"SELECT {_ITEM_COLUMNS} FROM catalog_items WHERE supplier_id = ANY($1::text[])", ids
        ) if with_catalog else []
        by_supplier: dict[str, list[CatalogItem]] = {}
        for item in items:
            by_supplier.setdefault(item["supplier_id"], []).append(_item(item))
        return {r["supplier_id"]: _supplier(r, by_supplier.get(r["supplier_id"], [])) for r in rows}

    async def save(self, supplier: Supplier) -> None:
        """Write the supplier and replace its catalog with `supplier.catalog`."""
        await self._conn.execute(
            f"INSERT INTO suppliers ({_SUPPLIER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            " ON CONFLICT (supplier_id) DO UPDATE SET name = $2, regions = $3, lead_time_days = $4,"
            " secret = $5, previous_secret = $6, previous_secret_valid_until = $7, documents = $8,"
            " peppol_id = $9, vat_id = $10, updated_at = now()",
            supplier.supplier_id,
            supplier.name,
            list(supplier.regions),
            supplier.lead_time_days,
            supplier.secret,
            supplier.previous_secret,
            supplier.previous_secret_valid_until,
            supplier.documents.value,
            supplier.peppol_id,
            supplier.vat_id,
        )
        await self._conn.execute(
            "DELETE FROM catalog_items WHERE supplier_id = $1 AND NOT sku = ANY($2::text[])",
            supplier.supplier_id,
            [item.sku for item in supplier.catalog],
        )
        await self._conn.executemany(
            f"INSERT INTO catalog_items ({_ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (supplier_id, sku) DO UPDATE SET name = $3, category = $4, unit = $5,"
            " capacity_per_cycle = $6, min_order_quantity = $7, tier_min_quantities = $8,"
            " tier_unit_prices = $9",
            [
                (
                    supplier.supplier_id,
                    item.sku,
                    item.name,
                    item.category,
                    item.unit,
                    item.capacity_per_cycle,
                    item.min_order_quantity,
                    [t.min_quantity for t in item.tiers],
                    [t.unit_price for t in item.tiers],
                )
                for item in supplier.catalog
            ],
        )


class RequestsRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, admitted: Sequence[PurchaseRequestAdmitted]) -> int:
        """Add requests to the open demand, each (member_id, request_id) once; returns how many
        were new."""
        if not admitted:
            return 0
        rows = await self._conn.fetch(
            "INSERT INTO purchase_requests"
            " (member_id, request_id, sku, quantity, needed_by, max_unit_price, ship_to, country)"
            " SELECT m, r, s, q, n, p, t::jsonb, c FROM unnest($1::text[], $2::text[], $3::text[],"
            " $4::integer[], $5::date[], $6::numeric[], $7::text[], $8::text[]) AS u(m, r, s, q, n, p, t, c)"
            " ON CONFLICT (member_id, request_id) DO NOTHING RETURNING request_id",
            [a.member_id for a in admitted],
            [a.request_id for a in admitted],
            [a.sku for a in admitted],
            [a.quantity for a in admitted],
            [a.needed_by for a in admitted],
            [a.max_unit_price for a in admitted],
            [a.ship_to.model_dump_json() if a.ship_to else None for a in admitted],
            [a.country for a in admitted],
        )
        return len(rows)

    async def status(self, member_id: str, request_id: str) -> RequestStatus | None:
        value = await self._conn.fetchval(
            "SELECT status FROM purchase_requests WHERE member_id = $1 AND request_id = $2",
            member_id,
            request_id,
        )
        return RequestStatus(value) if value else None

    async def set_status(self, member_id: str, request_id: str, status: RequestStatus) -> None:
        await self._conn.execute(
            "UPDATE purchase_requests SET status = $3, decided_at = now()"
            " WHERE member_id = $1 AND request_id = $2",
            member_id,
            request_id,
            status.value,
        )

    async def count_open(self) -> int:
        return await self._conn.fetchval("SELECT count(*) FROM purchase_requests WHERE status = 'open'")

    async def open_requests(self) -> list[OpenRequest]:
        """All open demand, in one query, in an order that depends only on the requests (not on
        when they were stored), so the same cycle contents always get the same decision."""
        rows = await self._conn.fetch(
            "SELECT member_id, request_id, sku, quantity, needed_by, country, max_unit_price, ship_to::text"
            " FROM purchase_requests WHERE status = 'open' ORDER BY member_id, request_id"
        )
        # 100k rows in a large close: positional, the field order of OpenRequest.
        return [
            OpenRequest(m, r, s, q, n, c, p, None if t is None else ShipTo.model_validate_json(t))
            for m, r, s, q, n, c, p, t in rows
        ]

    async def on_order(self, order_id: str) -> list[OpenRequest]:
        """The requests on an order, each with the quantity the order carries of it (a part, when
        the order re-sources part of a request)."""
        rows = await self._conn.fetch(
            f"SELECT {_REQUEST_COLUMNS.replace('p.quantity', 'd.quantity')} FROM deliveries d JOIN purchase_requests p"
            " USING (member_id, request_id) WHERE d.order_id = $1 ORDER BY p.sku, member_id, request_id",
            order_id,
        )
        return [_request(r) for r in rows]

    async def quantities(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """(member_id, request_id) -> the request's whole quantity."""
        rows = await self._conn.fetch(
            "SELECT p.member_id, p.request_id, p.quantity FROM purchase_requests p"
            " JOIN unnest($1::text[], $2::text[]) AS u(m, r) ON p.member_id = u.m AND p.request_id = u.r",
            [m for m, _ in keys], [r for _, r in keys],
        )
        return {(r["member_id"], r["request_id"]): r["quantity"] for r in rows}

    async def confirm(self, keys: Sequence[tuple[str, str]]) -> None:
        """(member_id, request_id)s a supplier's answer serves, in whole or in part."""
        await self._conn.execute(
            "UPDATE purchase_requests p SET status = 'confirmed', decided_at = now()"
            " FROM unnest($1::text[], $2::text[]) AS u(m, r) WHERE p.member_id = u.m AND p.request_id = u.r",
            [m for m, _ in keys], [r for _, r in keys],
        )

    async def exclude_supplier_for(self, keys: Sequence[tuple[str, str]], supplier_id: str) -> None:
        """What a supplier left unserved of these requests never goes back to it."""
        await self._conn.execute(
            "UPDATE purchase_requests p SET excluded_suppliers = array_append(p.excluded_suppliers, $3)"
            " FROM unnest($1::text[], $2::text[]) AS u(m, r) WHERE p.member_id = u.m AND p.request_id = u.r"
            " AND NOT $3 = ANY(p.excluded_suppliers)",
            [m for m, _ in keys], [r for _, r in keys], supplier_id,
        )

    async def excluded_suppliers(self, order_id: str) -> set[str]:
        """Every supplier that rejected any request now on `order_id`."""
        value = await self._conn.fetchval(
            "SELECT coalesce(array_agg(DISTINCT s), '{}') FROM deliveries d JOIN purchase_requests p"
            " USING (member_id, request_id), unnest(p.excluded_suppliers) AS s WHERE d.order_id = $1",
            order_id,
        )
        return set(value)

    async def mark_ordered(self, orders: Iterable[JointOrder]) -> None:
        keys = [(d.member_id, d.request_id) for o in orders for _, d in o.deliveries()]
        await self._conn.execute(
            "UPDATE purchase_requests p SET status = 'ordered', decided_at = now()"
            " FROM unnest($1::text[], $2::text[]) AS u(m, r)"
            " WHERE p.member_id = u.m AND p.request_id = u.r",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )

    async def record_decisions(
        self, ordered: Sequence[tuple[str, str]], unfulfillable: Sequence[tuple[OpenRequest, str]]
    ) -> None:
        """A close's request states: (member_id, request_id) placed on an order, and the
        requests it gave up on with their reason.

        Ids travel as one text each, joined with a separator no id contains, not as text[]:
        asyncpg checks every element of an array parameter for nesting, which for a close's
        100k ids cost more than the update itself."""
        if ordered:
            members, requests = _joined([m for m, _ in ordered]), _joined([r for _, r in ordered])
            if members is not None and requests is not None:
                await self._conn.execute(
                    "UPDATE purchase_requests p SET status = 'ordered', status_reason = NULL, decided_at = now()"
                    " FROM unnest(string_to_array($1, $3), string_to_array($2, $3)) AS u(m, r)"
                    " WHERE p.member_id = u.m AND p.request_id = u.r",
                    members, requests, _SEPARATOR,
                )
            else:
                await self._conn.execute(
                    "UPDATE purchase_requests p SET status = 'ordered', status_reason = NULL, decided_at = now()"
                    " FROM unnest($1::text[], $2::text[]) AS u(m, r)"
                    " WHERE p.member_id = u.m AND p.request_id = u.r",
                    [m for m, _ in ordered], [r for _, r in ordered],
                )
        if unfulfillable:
            await self.mark_decided(
                [r for r, _ in unfulfillable], RequestStatus.UNFULFILLABLE, [why for _, why in unfulfillable]
            )

    async def mark_decided(
        self, requests: Sequence[OpenRequest], status: RequestStatus, reasons: Sequence[str | None]
    ) -> None:
        """Set `status` (unfulfillable, confirmed...) with a reason per request."""
        if not requests:
            return
        await self._conn.execute(
            "UPDATE purchase_requests p SET status = $4, status_reason = u.why, decided_at = now()"
            " FROM unnest($1::text[], $2::text[], $3::text[]) AS u(m, r, why)"
            " WHERE p.member_id = u.m AND p.request_id = u.r",
            [r.member_id for r in requests],
            [r.request_id for r in requests],
            list(reasons),
            status.value,
        )

    async def open_demand_by_category(self) -> list[tuple[str, int, int]]:
        """(category, quantity, requests) of the open demand; unknown SKUs count as 'unlisted'."""
        rows = await self._conn.fetch(
            "SELECT coalesce(c.category, 'unlisted') AS category, sum(p.quantity) AS quantity,"
            " count(*) AS requests FROM purchase_requests p"
            " LEFT JOIN (SELECT DISTINCT ON (sku) sku, category FROM catalog_items) c USING (sku)"
            " WHERE p.status = 'open' GROUP BY 1"
        )
        return [(r["category"], r["quantity"], r["requests"]) for r in rows]


_SEPARATOR = "\x1f"


def _joined(texts: list[str]) -> str | None:
    """`texts` joined with `_SEPARATOR`, or None when one of them contains it (or is empty,
    which string_to_array would not give back)."""
    joined = _SEPARATOR.join(texts)
    if joined.count(_SEPARATOR) != len(texts) - 1 or not all(texts):
        return None
    return joined


class OrdersRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def allocate_ids(self, count: int) -> list[str]:
        if count == 0:
            return []
        rows = await self._conn.fetch(
            "SELECT 'ord-' || nextval('order_numbers') AS id FROM generate_series(1, $1)", count
        )
        return [r["id"] for r in rows]

    async def add(self, orders: Sequence[JointOrder], with_deliveries: bool = True) -> None:
        """Orders, their lines and (unless a close wrote them already with `add_deliveries`)
        their deliveries, one COPY each."""
        if not orders:
            return
        await self._conn.copy_records_to_table(
            "orders",
            records=[
                (o.order_id, o.supplier_id, o.cycle_id, OrderStatus.PLACED.value, o.total, o.quantity,
                 o.replaces_order_id)
                for o in orders
            ],
            columns=("order_id", "supplier_id", "cycle_id", "status", "total", "quantity",
                     "replaces_order_id"),
        )
        await self._conn.copy_records_to_table(
            "order_lines",
            records=[
                (o.order_id, line.line_id, line.sku, line.quantity, line.unit_price)
                for o in orders
                for line in o.lines
            ],
            columns=("order_id", "line_id", "sku", "quantity", "unit_price"),
        )
        if with_deliveries:
            await self.add_deliveries([(o.order_id, line) for o in orders for line in o.lines])

    async def add_deliveries(self, lines: Sequence[tuple[str, OrderLine]]) -> None:
        """The deliveries of these (order id, line)s, in one COPY: a close writes them as its
        decisions come, its orders and lines once they are complete (deliveries have no foreign
        key, see migration 0003). In CSV: Python's csv module writes 100k rows far faster than
        asyncpg encodes them as binary records (numerics above all)."""
        if not lines:
            return
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(
            (order_id, line.line_id, d.member_id, d.request_id, d.quantity, d.unit_price, d.standalone_unit_price)
            for order_id, line in lines
            for d in line.deliveries
        )
        await self._conn.copy_to_table(
            "deliveries",
            source=io.BytesIO(text.getvalue().encode()),
            columns=("order_id", "line_id", "member_id", "request_id", "quantity", "unit_price",
                     "standalone_unit_price"),
            format="csv",
        )

    async def get(self, order_id: str) -> OrderRecord | None:
        row = await self._conn.fetchrow(f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = $1", order_id)
        return _order(row) if row else None

    async def get_many(self, order_ids: Iterable[str]) -> dict[str, OrderRecord]:
        """The orders among `order_ids`, by id (a batch of answers and dispatches names them)."""
        rows = await self._conn.fetch(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = ANY($1::text[])", list(set(order_ids))
        )
        return {r["order_id"]: _order(r) for r in rows}

    async def lines(self, order_id: str) -> list[LineSummary]:
        rows = await self._conn.fetch(
            "SELECT line_id, sku, quantity, unit_price FROM order_lines WHERE order_id = $1"
            " ORDER BY line_id",
            order_id,
        )
        return [LineSummary(r["line_id"], r["sku"], r["quantity"], r["unit_price"]) for r in rows]

    async def skus(self, order_id: str) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT sku FROM order_lines WHERE order_id = $1 ORDER BY sku", order_id
        )
        return [r["sku"] for r in rows]

    async def record_answer(
        self,
        order_id: str,
        status: OrderStatus,
        expected_delivery: date | None = None,
        reason: str | None = None,
    ) -> None:
        await self._conn.execute(
            "UPDATE orders SET status = $2, answered_at = now(), expected_delivery = $3,"
            " rejection_reason = $4 WHERE order_id = $1",
            order_id,
            status.value,
            expected_delivery,
            reason,
        )

    async def ordered_this_cycle(self, cycle_id: str, sku: str) -> dict[str, int]:
        """Units of `sku` each supplier carries on this cycle's orders still standing (neither
        rejected nor cancelled): of an order answered per line, what the answer confirmed."""
        rows = await self._conn.fetch(
            "SELECT o.supplier_id, sum(CASE WHEN o.status = 'answered' THEN (SELECT coalesce(sum(c.confirmed), 0)"
            " FROM commitments c WHERE c.order_id = o.order_id AND c.line_id = l.line_id) ELSE l.quantity END)::bigint"
            " AS quantity FROM orders o JOIN order_lines l USING (order_id)"
            " WHERE o.cycle_id = $1 AND l.sku = $2 AND o.status NOT IN ('rejected', 'cancelled')"
            " GROUP BY 1",
            cycle_id,
            sku,
        )
        return {r["supplier_id"]: r["quantity"] for r in rows}

    async def cancel(self, order_id: str, reason: str) -> OrderRecord | None:
        """Cancel an order the supplier has not answered yet; None when it already has."""
        row = await self._conn.fetchrow(
            f"UPDATE orders SET status = 'cancelled', cancelled_at = now(), cancellation_reason = $2"
            f" WHERE order_id = $1 AND status = 'placed' RETURNING {_ORDER_COLUMNS}",
            order_id,
            reason,
        )
        return _order(row) if row else None

    async def flag_risk(self, order_ids: Sequence[str], flag: str) -> list[OrderRecord]:
        """Flag confirmed orders for ops, each once; returns those flagged now."""
        rows = await self._conn.fetch(
            f"UPDATE orders SET risk_flagged_at = now(), risk_flag = $2"
            f" WHERE order_id = ANY($1::text[]) AND risk_flagged_at IS NULL RETURNING {_ORDER_COLUMNS}",
            list(order_ids),
            flag,
        )
        return [_order(r) for r in rows]

    async def escalate_overdue(self, placed_before: datetime) -> list[OrderRecord]:
        """Mark placed orders unanswered since before `placed_before`, each once."""
        rows = await self._conn.fetch(
            f"UPDATE orders SET escalated_at = now() WHERE status = 'placed'"
            f" AND escalated_at IS NULL AND placed_at < $1 RETURNING {_ORDER_COLUMNS}",
            placed_before,
        )
        return [_order(r) for r in rows]

    async def answer_counts(self) -> tuple[int, int]:
        """(awaiting an answer, of which escalated)."""
        row = await self._conn.fetchrow(
            "SELECT count(*) AS awaiting, count(escalated_at) AS escalated FROM orders"
            " WHERE status = 'placed'"
        )
        return row["awaiting"], row["escalated"]

    async def list(
        self,
        status: OrderStatus | None = None,
        escalated: bool | None = None,
        limit: int = 100,
        risk_flagged: bool | None = None,
    ) -> list[OrderRecord]:
        rows = await self._conn.fetch(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE ($1::text IS NULL OR status = $1)"
            " AND ($2::boolean IS NULL OR (escalated_at IS NOT NULL) = $2)"
            " AND ($4::boolean IS NULL OR (risk_flagged_at IS NOT NULL) = $4)"
            " ORDER BY placed_at DESC, order_id DESC LIMIT $3",
            status.value if status else None,
            escalated,
            limit,
            risk_flagged,
        )
        return [_order(r) for r in rows]


class CyclesRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def slot_closed(self, slot: int) -> bool:
        return bool(await self._conn.fetchval("SELECT 1 FROM cycles WHERE schedule_slot = $1", slot))

    async def allocate(self) -> tuple[int, str]:
        """The number after the last closed cycle's, under the decision lock (closes are serial):
        a close that rolls back leaves no gap, so the next close is the one that ends a buffer's
        statement period (a sequence's number would be lost with it, and the statement skipped)."""
        number = await self._conn.fetchval("SELECT coalesce(max(cycle_no), 0) + 1 FROM cycles")
        return number, f"cycle-{number}"

    async def add(
        self,
        number: int,
        cycle_id: str,
        trigger: str,
        schedule_slot: int | None,
        order_date: date,
        counts: dict[str, int],
        solve_seconds: float,
    ) -> None:
        await self._conn.execute(
            "INSERT INTO cycles (cycle_no, cycle_id, trigger, schedule_slot, order_date,"
            " requests_considered, requests_placed, quantity_placed, orders, unfulfillable, solve_seconds)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            number,
            cycle_id,
            trigger,
            schedule_slot,
            order_date,
            counts["requests_considered"],
            counts["requests_placed"],
            counts["quantity_placed"],
            counts["orders"],
            counts["unfulfillable"],
            solve_seconds,
        )

    async def recent(self, limit: int = 20) -> list[ClosedCycle]:
        rows = await self._conn.fetch(
            "SELECT cycle_id, trigger, schedule_slot, order_date, closed_at, requests_considered,"
            " requests_placed, quantity_placed, orders, unfulfillable, solve_seconds FROM cycles"
            " ORDER BY cycle_no DESC LIMIT $1",
            limit,
        )
        return [ClosedCycle(**dict(row)) for row in rows]



DECISION_LOCK = 0x616C6370
"""Advisory lock id serialising decisions over the same requests and capacity: cycle closes
and re-sourcing take it exclusively, withdrawals shared. Taken per transaction, so it is
released by commit, rollback, or the connection's end when an instance dies mid-close."""


async def lock_decisions(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", DECISION_LOCK)


async def lock_decisions_shared(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1)", DECISION_LOCK)
