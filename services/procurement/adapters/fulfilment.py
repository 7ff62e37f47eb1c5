"""What happens to an order after it is placed (migration 0005), read and written inside a unit of
work's transaction, as the domain's objects (`domain/answers.py`, `domain/fulfilment.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from services.procurement.domain.answers import Commitment, LineDecision, OrderAnswer, Service
from services.procurement.domain.fulfilment import Dispatch, Escalation, EscalationKind, Receipt, RequestLedger
from services.procurement.domain.orders import Delivery, JointOrder, OrderLine
from services.procurement.domain.performance import AnsweredLine, Performance
from shared.contract import GoodsRejection, JointOrderDiscrepancy, LineStatus, ShipTo

_COMMITMENT_COLUMNS = (
    "order_id, supplier_id, line_id, sku, delivery_id, member_id, request_id, ordered, confirmed,"
    " expected_delivery, service"
)
_DISPATCH_COLUMNS = (
    "dispatch_id, order_id, supplier_id, shipped_on, expected_arrival, delivery_ids, quantities, carrier, tracking_id"
)
_RECEIPT_COLUMNS = "receipt_id, member_id, request_id, received_on, accepted, rejected, reason, note"


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    """An order with every delivery as placed, and what answering it needs of its requests."""

    order: JointOrder
    admitted_at: dict[str, datetime]
    """By request key: who was admitted first is served first among deliveries needed the same day."""
    requested: dict[str, int]
    """By request key: the request's whole quantity (a notice names a quantity only for a part)."""


def _commitment(row: asyncpg.Record) -> Commitment:
    return Commitment(
        row["order_id"], row["supplier_id"], row["line_id"], row["sku"], row["delivery_id"], row["member_id"],
        row["request_id"], row["ordered"], row["confirmed"], row["expected_delivery"], Service(row["service"]),
    )


def _dispatch(row: asyncpg.Record) -> Dispatch:
    return Dispatch(
        row["dispatch_id"], row["order_id"], row["supplier_id"], row["shipped_on"], row["expected_arrival"],
        tuple(zip(row["delivery_ids"], row["quantities"], strict=True)), row["carrier"], row["tracking_id"],
    )


def _receipt(row: asyncpg.Record) -> Receipt:
    reason = row["reason"]
    return Receipt(
        row["receipt_id"], row["member_id"], row["request_id"], row["received_on"], row["accepted"],
        row["rejected"], GoodsRejection(reason) if reason else None, row["note"],
    )


def _escalation(row: asyncpg.Record) -> Escalation:
    return Escalation(EscalationKind(row["kind"]), row["order_id"], row["supplier_id"], row["subject"],
                      row["quantity"], row["due_on"])


class FulfilmentRepository:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def placed_order(self, order_id: str) -> PlacedOrder | None:
        """The order as placed: its lines and each delivery with its request's date and ship-to."""
        head = await self._conn.fetchrow("SELECT supplier_id, cycle_id, replaces_order_id FROM orders"
                                         " WHERE order_id = $1", order_id)
        if head is None:
            return None
        lines = await self._conn.fetch(
            "SELECT line_id, sku, unit_price FROM order_lines WHERE order_id = $1", order_id
        )
        rows = await self._conn.fetch(
            "SELECT d.line_id, d.member_id, d.request_id, d.quantity, d.unit_price, d.standalone_unit_price,"
            " p.needed_by, p.ship_to::text AS ship_to, p.admitted_at, p.quantity AS requested"
            " FROM deliveries d JOIN purchase_requests p USING (member_id, request_id)"
            " WHERE d.order_id = $1 ORDER BY d.member_id, d.request_id",
            order_id,
        )
        by_line: dict[str, list[Delivery]] = {}
        admitted_at: dict[str, datetime] = {}
        requested: dict[str, int] = {}
        for row in rows:
            ship_to = row["ship_to"]
            delivery = Delivery(
                row["member_id"], row["request_id"], row["quantity"], row["needed_by"],
                ShipTo.model_validate_json(ship_to) if ship_to else None, row["unit_price"],
                row["standalone_unit_price"],
            )
            by_line.setdefault(row["line_id"], []).append(delivery)
            admitted_at[delivery.request_key] = row["admitted_at"]
            requested[delivery.request_key] = row["requested"]
        order_lines = tuple(
            OrderLine(line["line_id"], line["sku"], line["unit_price"], tuple(by_line.get(line["line_id"], ())))
            for line in sorted(lines, key=lambda line: _line_number(line["line_id"]))
        )
        order = JointOrder(order_id, head["supplier_id"], head["cycle_id"], order_lines, head["replaces_order_id"])
        return PlacedOrder(order, admitted_at, requested)

    async def answer(self, order_id: str) -> OrderAnswer | None:
        """The answer the order holds, in its line order; None while it has none."""
        rows = await self._conn.fetch(
            "SELECT o.supplier_id, a.line_id, a.status, a.quantity, a.expected_delivery, a.reason"
            " FROM line_answers a JOIN orders o USING (order_id) WHERE a.order_id = $1 ORDER BY a.position",
            order_id,
        )
        if not rows:
            return None
        return OrderAnswer(order_id, rows[0]["supplier_id"], tuple(
            LineDecision(r["line_id"], LineStatus(r["status"]), r["quantity"], r["expected_delivery"], r["reason"])
            for r in rows
        ))

    async def record_answer(self, answer: OrderAnswer, commitments: Sequence[Commitment]) -> None:
        """The answer and what it commits each delivery to, one COPY each."""
        await self._conn.copy_records_to_table(
            "line_answers",
            records=[
                (answer.order_id, line.line_id, line.status.value, line.quantity, line.expected_delivery,
                 line.reason, position)
                for position, line in enumerate(answer.lines)
            ],
            columns=("order_id", "line_id", "status", "quantity", "expected_delivery", "reason", "position"),
        )
        await self._conn.copy_records_to_table(
            "commitments",
            records=[
                (c.order_id, c.delivery_id, c.supplier_id, c.line_id, c.sku, c.member_id, c.request_id, c.ordered,
                 c.confirmed, c.expected_delivery, c.service.value, position)
                for position, c in enumerate(commitments)
            ],
            columns=("order_id", "delivery_id", "supplier_id", "line_id", "sku", "member_id", "request_id",
                     "ordered", "confirmed", "expected_delivery", "service", "position"),
        )

    async def commitments_of(self, deliveries: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Commitment]:
        """(order_id, delivery_id) -> what the answer committed the delivery to, for those answered."""
        pairs = list(set(deliveries))
        rows = await self._conn.fetch(
            f"SELECT {', '.join('c.' + c for c in _COMMITMENT_COLUMNS.split(', '))} FROM commitments c"
            " JOIN unnest($1::text[], $2::text[]) AS u(o, d) ON c.order_id = u.o AND c.delivery_id = u.d",
            [o for o, _ in pairs], [d for _, d in pairs],
        )
        return {(r["order_id"], r["delivery_id"]): _commitment(r) for r in rows}

    async def dispatches_of(self, deliveries: Iterable[tuple[str, str]]) -> list[Dispatch]:
        """The dispatches taken so far that ship any of these (order_id, delivery_id)s."""
        pairs = set(deliveries)
        rows = await self._conn.fetch(
            f"SELECT {_DISPATCH_COLUMNS} FROM dispatches WHERE delivery_ids && $1::text[]"
            " ORDER BY taken_at, dispatch_id",
            sorted({d for _, d in pairs}),
        )
        found = [_dispatch(r) for r in rows]
        return [d for d in found if any((d.order_id, delivery) in pairs for delivery, _ in d.quantities)]

    async def dispatches_named(self, ids: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Dispatch]:
        """(supplier_id, dispatch_id) -> the dispatch taken with that id, for those taken."""
        pairs = list(set(ids))
        rows = await self._conn.fetch(
            f"SELECT {', '.join('x.' + c for c in _DISPATCH_COLUMNS.split(', '))} FROM dispatches x"
            " JOIN unnest($1::text[], $2::text[]) AS u(s, i) ON x.supplier_id = u.s AND x.dispatch_id = u.i",
            [s for s, _ in pairs], [i for _, i in pairs],
        )
        return {(r["supplier_id"], r["dispatch_id"]): _dispatch(r) for r in rows}

    async def add_dispatches(self, dispatches: Sequence[Dispatch]) -> None:
        if not dispatches:
            return
        await self._conn.copy_records_to_table(
            "dispatches",
            records=[
                (d.supplier_id, d.dispatch_id, d.order_id, d.shipped_on, d.expected_arrival, d.carrier, d.tracking_id,
                 [i for i, _ in d.quantities], [q for _, q in d.quantities])
                for d in dispatches
            ],
            columns=("supplier_id", "dispatch_id", "order_id", "shipped_on", "expected_arrival", "carrier",
                     "tracking_id", "delivery_ids", "quantities"),
        )

    async def ledgers_on_order(self, order_id: str) -> list[RequestLedger]:
        """The ledger of every request with a delivery on `order_id`."""
        rows = await self._conn.fetch(
            "SELECT DISTINCT member_id, request_id FROM deliveries WHERE order_id = $1 ORDER BY 1, 2", order_id
        )
        return await self.ledgers([(r["member_id"], r["request_id"]) for r in rows])

    async def received_on_order(self, order_id: str) -> list[tuple[str, str]]:
        """(member_id, request_id) of the requests on `order_id` that have goods received already."""
        rows = await self._conn.fetch(
            "SELECT DISTINCT d.member_id, d.request_id FROM deliveries d JOIN receipts x"
            " ON x.member_id = d.member_id AND x.request_id = d.request_id WHERE d.order_id = $1 ORDER BY 1, 2",
            order_id,
        )
        return [(r["member_id"], r["request_id"]) for r in rows]

    async def ledgers(self, keys: Sequence[tuple[str, str]]) -> list[RequestLedger]:
        """The ledgers of these (member_id, request_id)s, in that order."""
        if not keys:
            return []
        rows = await self._conn.fetch(
            "SELECT DISTINCT d.member_id, d.request_id FROM orders o JOIN deliveries d USING (order_id)"
            " JOIN unnest($1::text[], $2::text[]) AS u(m, r) ON d.member_id = u.m AND d.request_id = u.r"
            " WHERE o.status = 'placed'",
            [m for m, _ in keys], [r for _, r in keys],
        )
        awaiting = {(r["member_id"], r["request_id"]): True for r in rows}
        return await self._ledgers(keys, awaiting)

    async def _ledgers(
        self, keys: Sequence[tuple[str, str]], awaiting: dict[tuple[str, str], bool]
    ) -> list[RequestLedger]:
        members, requests = [m for m, _ in keys], [r for _, r in keys]
        commitment_rows = await self._conn.fetch(
            f"SELECT {', '.join('c.' + c for c in _COMMITMENT_COLUMNS.split(', '))} FROM commitments c"
            " JOIN orders o USING (order_id) JOIN unnest($1::text[], $2::text[]) AS u(m, r)"
            " ON c.member_id = u.m AND c.request_id = u.r"
            " WHERE o.status <> 'cancelled' ORDER BY c.order_id, c.position",
            members, requests,
        )
        commitments: dict[tuple[str, str], list[Commitment]] = {}
        for row in commitment_rows:
            commitment = _commitment(row)
            commitments.setdefault((commitment.member_id, commitment.request_id), []).append(commitment)
        dispatches: dict[tuple[str, str], list[Dispatch]] = {}
        for dispatch in await self.dispatches_of((c.order_id, c.delivery_id) for f in commitments.values() for c in f):
            for delivery_id, _ in dispatch.quantities:
                dispatches.setdefault((dispatch.order_id, delivery_id), []).append(dispatch)
        receipt_rows = await self._conn.fetch(
            f"SELECT {', '.join('x.' + c for c in _RECEIPT_COLUMNS.split(', '))} FROM receipts x"
            " JOIN unnest($1::text[], $2::text[]) AS u(m, r) ON x.member_id = u.m AND x.request_id = u.r"
            " ORDER BY x.seq",
            members, requests,
        )
        receipts: dict[tuple[str, str], list[Receipt]] = {}
        for row in receipt_rows:
            receipts.setdefault((row["member_id"], row["request_id"]), []).append(_receipt(row))
        ledgers = []
        for key in keys:
            mine = commitments.get(key, [])
            shipping = dict.fromkeys(d for c in mine for d in dispatches.get((c.order_id, c.delivery_id), ()))
            ledgers.append(RequestLedger(
                key[0], key[1], tuple(mine), tuple(shipping),
                tuple(receipts.get(key, ())),
                awaiting.get(key, False),
            ))
        return ledgers

    async def receipts_named(self, ids: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Receipt]:
        """(member_id, receipt_id) -> the receipt taken with that id, for those taken."""
        pairs = list(set(ids))
        rows = await self._conn.fetch(
            f"SELECT {', '.join('x.' + c for c in _RECEIPT_COLUMNS.split(', '))} FROM receipts x"
            " JOIN unnest($1::text[], $2::text[]) AS u(m, i) ON x.member_id = u.m AND x.receipt_id = u.i",
            [m for m, _ in pairs], [i for _, i in pairs],
        )
        return {(r["member_id"], r["receipt_id"]): _receipt(r) for r in rows}

    async def add_receipts(self, receipts: Sequence[Receipt]) -> None:
        """Receipts in the order they were taken (the order they count in)."""
        if not receipts:
            return
        await self._conn.copy_records_to_table(
            "receipts",
            records=[(r.receipt_id, r.member_id, r.request_id, r.received_on, r.accepted, r.rejected,
                      r.reason.value if r.reason else None, r.note) for r in receipts],
            columns=tuple(_RECEIPT_COLUMNS.split(", ")),
        )

    async def reported_missing(self, member_id: str, request_id: str) -> dict[str, int]:
        """delivery_id -> units reported missing so far for this request."""
        rows = await self._conn.fetch(
            "SELECT delivery_id, sum(quantity_missing) AS missing FROM discrepancies"
            " WHERE member_id = $1 AND request_id = $2 GROUP BY 1",
            member_id, request_id,
        )
        return {r["delivery_id"]: r["missing"] for r in rows}

    async def add_discrepancies(
        self, reports: Sequence[tuple[str, str, str, JointOrderDiscrepancy]]
    ) -> set[str]:
        """Record (event_id, member_id, request_id, report)s; returns the event ids new here (a
        report already made is not made again)."""
        if not reports:
            return set()
        rows = await self._conn.fetch(
            "INSERT INTO discrepancies (event_id, order_id, supplier_id, delivery_id, member_id, request_id,"
            " quantity_rejected, quantity_missing, reason, note)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
            " $7::integer[], $8::integer[], $9::text[], $10::text[])"
            " ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
            [e for e, _, _, _ in reports], [d.order_id for *_, d in reports], [d.supplier_id for *_, d in reports],
            [d.delivery_id for *_, d in reports], [m for _, m, _, _ in reports], [r for _, _, r, _ in reports],
            [d.quantity_rejected for *_, d in reports], [d.quantity_missing for *_, d in reports],
            [d.reason for *_, d in reports], [d.note for *_, d in reports],
        )
        return {r["event_id"] for r in rows}

    async def complete(self, completed: Sequence[tuple[str, str, int]]) -> set[tuple[str, str]]:
        """Mark (member_id, request_id, quantity)s completed; returns those not completed before."""
        if not completed:
            return set()
        rows = await self._conn.fetch(
            "INSERT INTO completions (member_id, request_id, quantity)"
            " SELECT * FROM unnest($1::text[], $2::text[], $3::integer[]) ON CONFLICT DO NOTHING"
            " RETURNING member_id, request_id",
            [m for m, _, _ in completed], [r for _, r, _ in completed], [q for _, _, q in completed],
        )
        return {(r["member_id"], r["request_id"]) for r in rows}

    async def to_watch(self, today: date, grace_days: int, limit: int) -> list[tuple[str, str]]:
        """(member_id, request_id)s with something overdue and not yet accounted for: dispatched
        units due (expected arrival plus the grace has come) beyond what was received or reported
        missing, or confirmed units due before today beyond what was dispatched. Summed in the
        database, so a round reads only the requests that need it, however large the orders."""
        rows = await self._conn.fetch(
            "WITH shipped AS ("
            "  SELECT d.order_id, x.delivery_id, sum(x.units) AS units,"
            "   sum(x.units) FILTER (WHERE d.expected_arrival <= $1::date - $2::integer) AS due"
            "  FROM dispatches d, unnest(d.delivery_ids, d.quantities) AS x(delivery_id, units) GROUP BY 1, 2),"
            " per_request AS ("
            "  SELECT c.member_id, c.request_id, coalesce(sum(s.due), 0) AS due,"
            "   bool_or(c.confirmed > coalesce(s.units, 0) AND c.expected_delivery < $1::date) AS undispatched"
            "  FROM commitments c JOIN orders o USING (order_id)"
            "  LEFT JOIN shipped s ON s.order_id = c.order_id AND s.delivery_id = c.delivery_id"
            "  WHERE c.confirmed > 0 AND o.status <> 'cancelled' GROUP BY 1, 2)"
            " SELECT p.member_id, p.request_id FROM per_request p"
            " WHERE p.undispatched OR p.due > coalesce((SELECT sum(r.accepted + r.rejected) FROM receipts r"
            "  WHERE r.member_id = p.member_id AND r.request_id = p.request_id), 0)"
            "  + coalesce((SELECT sum(x.quantity_missing) FROM discrepancies x"
            "  WHERE x.member_id = p.member_id AND x.request_id = p.request_id), 0)"
            " ORDER BY 1, 2 LIMIT $3",
            today, grace_days, limit,
        )
        return [(r["member_id"], r["request_id"]) for r in rows]

    async def requests_behind(self, escalations: Iterable[Escalation]) -> list[tuple[str, str]]:
        """(member_id, request_id) of every request with units in these escalations' subjects: the
        delivery not dispatched, or every delivery of the dispatch not received."""
        found = list(escalations)
        undispatched = [(e.order_id, e.subject) for e in found if e.kind is EscalationKind.NOT_DISPATCHED]
        unreceived = [(e.supplier_id, e.subject) for e in found if e.kind is EscalationKind.NOT_RECEIVED]
        rows = await self._conn.fetch(
            "SELECT c.member_id, c.request_id FROM commitments c"
            " JOIN unnest($1::text[], $2::text[]) AS u(o, d) ON c.order_id = u.o AND c.delivery_id = u.d"
            " UNION SELECT c.member_id, c.request_id FROM dispatches x"
            " JOIN unnest($3::text[], $4::text[]) AS u(s, i) ON x.supplier_id = u.s AND x.dispatch_id = u.i"
            " CROSS JOIN unnest(x.delivery_ids) AS y(delivery_id)"
            " JOIN commitments c ON c.order_id = x.order_id AND c.delivery_id = y.delivery_id",
            [o for o, _ in undispatched], [d for _, d in undispatched],
            [s for s, _ in unreceived], [i for _, i in unreceived],
        )
        return sorted((r["member_id"], r["request_id"]) for r in rows)

    async def escalate(self, found: Sequence[Escalation]) -> list[Escalation]:
        """Keep the escalations open now (each once, its quantity as found now); returns the new ones."""
        if found:
            rows = await self._conn.fetch(
                "INSERT INTO delivery_escalations (kind, order_id, subject, supplier_id, quantity, due_on)"
                " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::date[])"
                " ON CONFLICT (kind, order_id, subject) DO UPDATE SET quantity = excluded.quantity,"
                " resolved_at = NULL WHERE delivery_escalations.resolved_at IS NOT NULL"
                " OR delivery_escalations.quantity <> excluded.quantity"
                " RETURNING kind, order_id, subject, supplier_id, quantity, due_on, (xmax = 0) AS new",
                [e.kind.value for e in found], [e.order_id for e in found], [e.subject for e in found],
                [e.supplier_id for e in found], [e.quantity for e in found], [e.due_on for e in found],
            )
            return [_escalation(r) for r in rows if r["new"]]
        return []

    async def resolve_escalations(self, resolved: Sequence[Escalation]) -> None:
        """Mark these open escalations resolved: what they were about is no longer overdue."""
        if resolved:
            await self._conn.execute(
                "UPDATE delivery_escalations e SET resolved_at = now() FROM unnest($1::text[], $2::text[],"
                " $3::text[]) AS u(k, o, s) WHERE e.kind = u.k AND e.order_id = u.o AND e.subject = u.s"
                " AND e.resolved_at IS NULL",
                [e.kind.value for e in resolved], [e.order_id for e in resolved], [e.subject for e in resolved],
            )

    async def open_escalations(self, kind: EscalationKind | None = None, limit: int = 100) -> list[Escalation]:
        rows = await self._conn.fetch(
            "SELECT kind, order_id, subject, supplier_id, quantity, due_on FROM delivery_escalations"
            " WHERE resolved_at IS NULL AND ($1::text IS NULL OR kind = $1) ORDER BY due_on, order_id, subject"
            " LIMIT $2",
            kind.value if kind else None, limit,
        )
        return [_escalation(r) for r in rows]

    async def escalation_counts(self) -> dict[str, int]:
        rows = await self._conn.fetch(
            "SELECT kind, count(*) AS n FROM delivery_escalations WHERE resolved_at IS NULL GROUP BY 1"
        )
        return {r["kind"]: r["n"] for r in rows}

    async def answered_lines(self, since: datetime) -> list[AnsweredLine]:
        """Lines answered since `since`, with their SKU's category, for supplier performance."""
        rows = await self._conn.fetch(
            "SELECT o.supplier_id, coalesce(c.category, 'unlisted') AS category, a.line_id, o.placed_at,"
            " o.answered_at, a.status FROM line_answers a JOIN orders o USING (order_id)"
            " JOIN order_lines l USING (order_id, line_id)"
            " LEFT JOIN catalog_items c ON c.supplier_id = o.supplier_id AND c.sku = l.sku"
            " WHERE o.answered_at > $1",
            since,
        )
        return [AnsweredLine(r["supplier_id"], r["category"], r["line_id"], r["placed_at"], r["answered_at"],
                             LineStatus(r["status"])) for r in rows]

    async def served_since(self, since: date) -> list[tuple[str, str, str, date]]:
        """(member_id, request_id, category, needed_by) of requests with a served delivery promised
        after `since`, for supplier performance."""
        rows = await self._conn.fetch(
            "SELECT DISTINCT c.member_id, c.request_id, coalesce(i.category, 'unlisted') AS category,"
            " p.needed_by FROM commitments c JOIN purchase_requests p USING (member_id, request_id)"
            " JOIN orders o ON o.order_id = c.order_id"
            " LEFT JOIN catalog_items i ON i.supplier_id = c.supplier_id AND i.sku = c.sku"
            " WHERE c.confirmed > 0 AND o.status <> 'cancelled' AND coalesce(c.expected_delivery, p.needed_by) > $1",
            since,
        )
        return [(r["member_id"], r["request_id"], r["category"], r["needed_by"]) for r in rows]


_PERFORMANCE_COUNTS = (
    "deliveries", "on_time_deliveries", "otif_deliveries", "confirmed_units", "accepted_units", "answered_lines",
    "rejected_lines", "answer_hours",
)


class PerformanceRepository:
    """Supplier performance as last computed (`service_layer/performance.py` refreshes it)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def replace(self, found: Iterable[Performance], computed_at: datetime) -> None:
        await self._conn.execute("DELETE FROM supplier_performance")
        await self._conn.executemany(
            f"INSERT INTO supplier_performance (supplier_id, category, {', '.join(_PERFORMANCE_COUNTS)}, computed_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            [(p.supplier_id, p.category, *(getattr(p, name) for name in _PERFORMANCE_COUNTS), computed_at)
             for p in found],
        )

    async def current(self) -> tuple[list[Performance], datetime | None]:
        """Every (supplier, category)'s performance and when it was computed (None: not yet)."""
        rows = await self._conn.fetch(
            f"SELECT supplier_id, category, {', '.join(_PERFORMANCE_COUNTS)}, computed_at FROM supplier_performance"
            " ORDER BY supplier_id, category"
        )
        found = [Performance(r["supplier_id"], r["category"], *(r[name] for name in _PERFORMANCE_COUNTS))
                 for r in rows]
        return found, max((r["computed_at"] for r in rows), default=None)


def _line_number(line_id: str) -> tuple[int, str]:
    """Lines in the order they were numbered (`<order_id>-<n>`), not as text sorts them."""
    _, _, number = line_id.rpartition("-")
    return (int(number), line_id) if number.isdigit() else (0, line_id)
