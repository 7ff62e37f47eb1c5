"""Procurement's unit of work in memory: its tables as Python collections, and the repository
methods that supplier answers, re-sourcing and the risk registry use, with the semantics of
`services/procurement/adapters/repository.py` and `alerts.py` (same names, same domain objects).

What it leaves out: `now()` is the wall clock of each call rather than the transaction's, so
alerts raised in one transaction come back from `active()` in the order they were added, not by
key; the order number sequence rolls back with a transaction (PostgreSQL's does not).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.procurement.adapters.fulfilment import PlacedOrder
from services.procurement.domain.answers import Commitment, OrderAnswer
from services.procurement.domain.buffers import BufferSizing, BufferStock, Draw, RiskBuffer
from services.procurement.domain.catalog import Supplier
from services.procurement.domain.demand import OpenRequest, RequestStatus
from services.procurement.domain.fulfilment import Dispatch, Receipt, RequestLedger
from services.procurement.domain.orders import (
    Delivery,
    JointOrder,
    OrderLine,
    OrderRecord,
    OrderStatus,
)
from services.procurement.domain.performance import AnsweredLine, Performance
from services.procurement.domain.risk import Alert, AlertStatus, Holding, Scope
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared.contract import JointOrderDiscrepancy
from shared.documents.parties import Address, Party
from shared.events.members import MemberProfile, PurchaseRequestAdmitted
from tests.support.fake_unit_of_work import FakeUnitOfWork


@dataclass(slots=True)
class StoredRequest:
    """A row of `purchase_requests`."""

    request: OpenRequest
    status: RequestStatus = RequestStatus.OPEN
    status_reason: str | None = None
    excluded_suppliers: list[str] = field(default_factory=list)
    admitted_at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class StoredLine:
    """A row of `order_lines`."""

    line_id: str
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A row of `deliveries`: which order (and line) a request is on."""

    order_id: str
    line_id: str
    member_id: str
    request_id: str
    quantity: int
    unit_price: Decimal
    standalone_unit_price: Decimal | None


@dataclass(slots=True)
class ProcurementTables:
    suppliers: dict[str, Supplier] = field(default_factory=dict)
    requests: dict[tuple[str, str], StoredRequest] = field(default_factory=dict)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    lines: dict[str, list[StoredLine]] = field(default_factory=dict)
    deliveries: list[StoredDelivery] = field(default_factory=list)
    order_numbers: int = 0
    alerts: dict[str, Alert] = field(default_factory=dict)
    """In the order they were raised."""
    history: list[tuple[str, str, str | None]] = field(default_factory=list)
    exposure: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    known_members: set[str] = field(default_factory=set)
    buffers: dict[str, RiskBuffer] = field(default_factory=dict)
    """Their stock as `BufferStock` keeps it (the adapter derives what is on order from deliveries)."""
    buffer_sizings: dict[str, BufferSizing] = field(default_factory=dict)
    """The latest per SKU."""
    buffer_draws: dict[tuple[str, str, str], tuple[str, Draw, int]] = field(default_factory=dict)
    """(member_id, request_id, occasion) -> (sku, draw, cycle number)."""
    cycle_no: int = 1
    answers: dict[str, OrderAnswer] = field(default_factory=dict)
    commitments: dict[str, list[Commitment]] = field(default_factory=dict)
    dispatches: list[Dispatch] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    discrepancies: dict[str, tuple[str, str, JointOrderDiscrepancy]] = field(default_factory=dict)
    completions: dict[tuple[str, str], int] = field(default_factory=dict)
    performance: tuple[list[Performance], datetime | None] = ([], None)

    def requests_on(self, order_id: str) -> list[StoredRequest]:
        return [self.requests[(d.member_id, d.request_id)] for d in self.deliveries if d.order_id == order_id]


class FakeSuppliersRepository:
    def __init__(self, tables: ProcurementTables) -> None:
        self._tables = tables

    async def list(self) -> list[Supplier]:
        return [self._tables.suppliers[i] for i in sorted(self._tables.suppliers)]

    async def save(self, supplier: Supplier) -> None:
        self._tables.suppliers[supplier.supplier_id] = supplier

    async def get_many(self, supplier_ids: Iterable[str], with_catalog: bool = True) -> dict[str, Supplier]:
        found = {i: self._tables.suppliers[i] for i in set(supplier_ids) if i in self._tables.suppliers}
        return found if with_catalog else {i: replace(s, catalog=()) for i, s in found.items()}


class FakeRequestsRepository:
    def __init__(self, tables: ProcurementTables) -> None:
        self._tables = tables

    async def add(self, admitted: Sequence[PurchaseRequestAdmitted]) -> int:
        new = 0
        for a in admitted:
            if (a.member_id, a.request_id) not in self._tables.requests:
                request = OpenRequest(a.member_id, a.request_id, a.sku, a.quantity, a.needed_by, a.country,
                                      a.max_unit_price, a.ship_to)
                self._tables.requests[(a.member_id, a.request_id)] = StoredRequest(request)
                new += 1
        return new

    async def status(self, member_id: str, request_id: str) -> RequestStatus | None:
        stored = self._tables.requests.get((member_id, request_id))
        return stored.status if stored else None

    async def on_order(self, order_id: str) -> list[OpenRequest]:
        requests = [replace(self._tables.requests[(d.member_id, d.request_id)].request, quantity=d.quantity)
                    for d in self._tables.deliveries if d.order_id == order_id]
        return sorted(requests, key=lambda r: (r.sku, r.member_id, r.request_id))

    async def quantities(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        return {k: self._tables.requests[k].request.quantity for k in keys if k in self._tables.requests}

    async def confirm(self, keys: Sequence[tuple[str, str]]) -> None:
        for key in keys:
            self._tables.requests[key].status = RequestStatus.CONFIRMED

    async def exclude_supplier_for(self, keys: Sequence[tuple[str, str]], supplier_id: str) -> None:
        for key in keys:
            stored = self._tables.requests[key]
            if supplier_id not in stored.excluded_suppliers:
                stored.excluded_suppliers.append(supplier_id)

    async def excluded_suppliers(self, order_id: str) -> set[str]:
        return {s for stored in self._tables.requests_on(order_id) for s in stored.excluded_suppliers}

    async def mark_ordered(self, orders: Iterable[JointOrder]) -> None:
        for order in orders:
            for _, delivery in order.deliveries():
                stored = self._tables.requests.get((delivery.member_id, delivery.request_id))
                if stored is not None:
                    stored.status = RequestStatus.ORDERED

    async def mark_decided(
        self, requests: Sequence[OpenRequest], status: RequestStatus, reasons: Sequence[str | None]
    ) -> None:
        for request, reason in zip(requests, reasons, strict=True):
            stored = self._tables.requests.get((request.member_id, request.request_id))
            if stored is not None:
                stored.status, stored.status_reason = status, reason


class FakeOrdersRepository:
    def __init__(self, tables: ProcurementTables) -> None:
        self._tables = tables

    async def allocate_ids(self, count: int) -> list[str]:
        first = self._tables.order_numbers + 1
        self._tables.order_numbers += count
        return [f"ord-{n}" for n in range(first, first + count)]

    async def add(self, orders: Sequence[JointOrder], with_deliveries: bool = True) -> None:
        """Orders with their lines and deliveries (a close's `add_deliveries` path is not faked)."""
        assert with_deliveries, "add_deliveries is not part of the fake"
        for o in orders:
            if o.order_id in self._tables.orders:
                raise AssertionError(f"orders: {o.order_id} exists already")
            self._tables.orders[o.order_id] = OrderRecord(
                o.order_id, o.supplier_id, o.cycle_id, OrderStatus.PLACED, o.total, o.quantity, datetime.now(UTC),
                replaces_order_id=o.replaces_order_id,
            )
            self._tables.lines[o.order_id] = [StoredLine(ln.line_id, ln.sku, ln.quantity, ln.unit_price)
                                              for ln in o.lines]
            self._tables.deliveries += [
                StoredDelivery(o.order_id, line.line_id, d.member_id, d.request_id, d.quantity, d.unit_price,
                               d.standalone_unit_price)
                for line, d in o.deliveries()
            ]

    async def get(self, order_id: str) -> OrderRecord | None:
        return self._tables.orders.get(order_id)

    async def get_many(self, order_ids: Iterable[str]) -> dict[str, OrderRecord]:
        return {i: self._tables.orders[i] for i in set(order_ids) if i in self._tables.orders}

    async def skus(self, order_id: str) -> list[str]:
        return sorted(line.sku for line in self._tables.lines.get(order_id, []))

    async def record_answer(
        self, order_id: str, status: OrderStatus, expected_delivery: date | None = None, reason: str | None = None
    ) -> None:
        order = self._tables.orders.get(order_id)
        if order is not None:
            self._tables.orders[order_id] = replace(
                order, status=status, answered_at=datetime.now(UTC), expected_delivery=expected_delivery,
                rejection_reason=reason,
            )

    async def ordered_this_cycle(self, cycle_id: str, sku: str) -> dict[str, int]:
        ordered: dict[str, int] = {}
        for order in self._tables.orders.values():
            if order.cycle_id != cycle_id or order.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
                continue
            for line in self._tables.lines[order.order_id]:
                if line.sku == sku:
                    quantity = line.quantity if order.status is not OrderStatus.ANSWERED else sum(
                        c.confirmed for c in self._tables.commitments[order.order_id] if c.line_id == line.line_id)
                    ordered[order.supplier_id] = ordered.get(order.supplier_id, 0) + quantity
        return ordered

    async def cancel(self, order_id: str, reason: str) -> OrderRecord | None:
        order = self._tables.orders.get(order_id)
        if order is None or order.status is not OrderStatus.PLACED:
            return None
        cancelled = replace(order, status=OrderStatus.CANCELLED, cancelled_at=datetime.now(UTC),
                            cancellation_reason=reason)
        self._tables.orders[order_id] = cancelled
        return cancelled

    async def flag_risk(self, order_ids: Sequence[str], flag: str) -> list[OrderRecord]:
        flagged = []
        for order_id in dict.fromkeys(order_ids):
            order = self._tables.orders.get(order_id)
            if order is not None and order.risk_flagged_at is None:
                flagged.append(replace(order, risk_flagged_at=datetime.now(UTC), risk_flag=flag))
                self._tables.orders[order_id] = flagged[-1]
        return flagged


class FakeAlertsRepository:
    def __init__(self, tables: ProcurementTables) -> None:
        self._tables = tables

    async def add(self, alert: Alert) -> None:
        if alert.key in self._tables.alerts:
            raise AssertionError(f"risk_alerts: {alert.key} exists already")
        self._tables.alerts[alert.key] = alert

    async def get(self, key: str) -> Alert | None:
        return self._tables.alerts.get(key)

    async def active(self) -> list[Alert]:
        return [a for a in self._tables.alerts.values() if a.status is AlertStatus.ACTIVE]

    async def end(self, key: str, status: AlertStatus) -> bool:
        alert = self._tables.alerts.get(key)
        if alert is None or alert.status is not AlertStatus.ACTIVE:
            return False
        self._tables.alerts[key] = replace(alert, status=status)
        return True

    async def record(self, changes: Sequence[tuple[str, str, str | None]]) -> None:
        self._tables.history += changes

    async def save_exposure(self, key: str, exposed: Mapping[str, Sequence[str]]) -> None:
        saved = self._tables.exposure.setdefault(key, {})
        for member, ids in exposed.items():
            if member in saved:
                raise AssertionError(f"risk_alert_exposure: ({key}, {member}) exists already")
            saved[member] = tuple(ids)

    async def exposure(self, key: str) -> dict[str, tuple[str, ...]]:
        return dict(sorted(self._tables.exposure.get(key, {}).items()))

    async def holdings(self, scope: Scope, today: date, orders_only: bool = False) -> list[Holding]:
        """The query's two halves: open requests the scope may cover, then deliveries on orders
        that are placed, or confirmed and not yet due."""
        tables = self._tables
        found = []
        if not orders_only:
            for stored in tables.requests.values():
                r = stored.request
                if stored.status is not RequestStatus.OPEN or scope.sku not in (None, r.sku):
                    continue
                if scope.region not in (None, r.country):
                    continue
                supplier = tables.suppliers.get(scope.supplier_id) if scope.supplier_id is not None else None
                if scope.supplier_id is not None and (
                    supplier is None or supplier.item(r.sku) is None or r.country not in supplier.regions
                ):
                    continue
                found.append(Holding(r.member_id, r.request_id, r.sku, r.country))
        for d in tables.deliveries:
            order = tables.orders[d.order_id]
            confirmed = order.status is OrderStatus.CONFIRMED or (order.status is OrderStatus.ANSWERED and any(
                c.confirmed for c in tables.commitments.get(d.order_id, [])
                if (c.member_id, c.request_id) == (d.member_id, d.request_id)))
            if not (order.status is OrderStatus.PLACED or (
                confirmed and (order.expected_delivery is None or order.expected_delivery >= today)
            )):
                continue
            [line] = [line for line in tables.lines[d.order_id] if line.line_id == d.line_id]
            country = tables.requests[(d.member_id, d.request_id)].request.country
            if scope.covers(order.supplier_id, line.sku, country):
                found.append(Holding(d.member_id, d.request_id, line.sku, country, order.supplier_id, order.order_id,
                                     confirmed))
        return found

    async def categories(self, scope: Scope) -> tuple[str, ...]:
        return tuple(sorted({
            item.category
            for supplier in self._tables.suppliers.values()
            if scope.supplier_id in (None, supplier.supplier_id) and scope.region in (None, *supplier.regions)
            for item in supplier.catalog
            if scope.sku in (None, item.sku)
        }))


class FakeKnownMembersRepository:
    def __init__(self, tables: ProcurementTables) -> None:
        self._tables = tables

    async def known(self, candidates: Iterable[str]) -> set[str]:
        return set(candidates) & self._tables.known_members


class FakePartiesRepository:
    """`adapters/parties.py` in memory."""

    def __init__(self, tables: ProcurementTables) -> None:
        self._tables = tables
        self.known: dict[str, Party] = {}
        self.alliance_party: Party | None = None

    async def learn_members(self, profiles: Sequence[MemberProfile]) -> None:
        for p in profiles:
            self._tables.known_members.add(p.member_id)
            self.known[p.member_id] = Party(p.member_id, p.name, Address(p.region), p.peppol_id, p.vat_id)

    async def members(self, member_ids: Iterable[str]) -> dict[str, Party]:
        return {m: self.known[m] for m in member_ids if m in self.known}

    async def alliance(self) -> Party | None:
        return self.alliance_party

    async def save_alliance(self, party: Party) -> None:
        self.alliance_party = party


class FakeFulfilmentRepository:
    """`adapters/fulfilment.py` over the in-memory tables (the watch's queries are not faked)."""

    def __init__(self, tables: ProcurementTables) -> None:
        self._tables = tables

    async def placed_order(self, order_id: str) -> PlacedOrder | None:
        tables = self._tables
        record = tables.orders.get(order_id)
        if record is None:
            return None
        lines = []
        admitted_at: dict[str, datetime] = {}
        requested: dict[str, int] = {}
        for stored_line in tables.lines[order_id]:
            deliveries = []
            for d in tables.deliveries:
                if d.order_id == order_id and d.line_id == stored_line.line_id:
                    stored = tables.requests[(d.member_id, d.request_id)]
                    request = stored.request
                    delivery = Delivery(d.member_id, d.request_id, d.quantity, request.needed_by, request.ship_to,
                                        d.unit_price, d.standalone_unit_price)
                    deliveries.append(delivery)
                    admitted_at[delivery.request_key] = stored.admitted_at
                    requested[delivery.request_key] = request.quantity
            lines.append(OrderLine(stored_line.line_id, stored_line.sku, stored_line.unit_price, tuple(deliveries)))
        order = JointOrder(order_id, record.supplier_id, record.cycle_id, tuple(lines), record.replaces_order_id)
        return PlacedOrder(order, admitted_at, requested)

    async def answer(self, order_id: str) -> OrderAnswer | None:
        return self._tables.answers.get(order_id)

    async def record_answer(self, answer: OrderAnswer, commitments: Sequence[Commitment]) -> None:
        if answer.order_id in self._tables.answers:
            raise AssertionError(f"line_answers: {answer.order_id} exists already")
        self._tables.answers[answer.order_id] = answer
        self._tables.commitments[answer.order_id] = list(commitments)

    async def commitments_of(self, deliveries: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Commitment]:
        wanted = set(deliveries)
        return {(c.order_id, c.delivery_id): c for found in self._tables.commitments.values() for c in found
                if (c.order_id, c.delivery_id) in wanted}

    async def dispatches_of(self, deliveries: Iterable[tuple[str, str]]) -> list[Dispatch]:
        wanted = set(deliveries)
        return [d for d in self._tables.dispatches if any((d.order_id, i) in wanted for i, _ in d.quantities)]

    async def dispatches_named(self, ids: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Dispatch]:
        wanted = set(ids)
        return {(d.supplier_id, d.dispatch_id): d for d in self._tables.dispatches
                if (d.supplier_id, d.dispatch_id) in wanted}

    async def add_dispatches(self, dispatches: Sequence[Dispatch]) -> None:
        for dispatch in dispatches:
            if await self.dispatches_named([(dispatch.supplier_id, dispatch.dispatch_id)]):
                raise AssertionError(f"dispatches: {dispatch.dispatch_id} exists already")
            self._tables.dispatches.append(dispatch)

    async def ledgers_on_order(self, order_id: str) -> list[RequestLedger]:
        keys = sorted({(d.member_id, d.request_id) for d in self._tables.deliveries if d.order_id == order_id})
        return await self.ledgers(keys)

    async def received_on_order(self, order_id: str) -> list[tuple[str, str]]:
        received = {(r.member_id, r.request_id) for r in self._tables.receipts}
        return sorted({(d.member_id, d.request_id) for d in self._tables.deliveries if d.order_id == order_id} & received)

    async def ledgers(self, keys: Sequence[tuple[str, str]]) -> list[RequestLedger]:
        tables = self._tables
        found = []
        for member_id, request_id in keys:
            live = [o for o in tables.orders.values() if o.status is not OrderStatus.CANCELLED]
            mine = tuple(c for o in live for c in tables.commitments.get(o.order_id, [])
                         if (c.member_id, c.request_id) == (member_id, request_id))
            orders = dict.fromkeys(c.order_id for c in mine)
            awaiting = any(tables.orders[d.order_id].status is OrderStatus.PLACED for d in tables.deliveries
                           if (d.member_id, d.request_id) == (member_id, request_id))
            found.append(RequestLedger(
                member_id, request_id, mine, tuple(d for d in tables.dispatches if d.order_id in orders),
                tuple(r for r in tables.receipts if (r.member_id, r.request_id) == (member_id, request_id)), awaiting,
            ))
        return found

    async def receipts_named(self, ids: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Receipt]:
        wanted = set(ids)
        return {(r.member_id, r.receipt_id): r for r in self._tables.receipts if (r.member_id, r.receipt_id) in wanted}

    async def add_receipts(self, receipts: Sequence[Receipt]) -> None:
        for receipt in receipts:
            if await self.receipts_named([(receipt.member_id, receipt.receipt_id)]):
                raise AssertionError(f"receipts: {receipt.receipt_id} exists already")
            self._tables.receipts.append(receipt)

    async def reported_missing(self, member_id: str, request_id: str) -> dict[str, int]:
        missing: dict[str, int] = {}
        for m, r, report in self._tables.discrepancies.values():
            if (m, r) == (member_id, request_id):
                missing[report.delivery_id] = missing.get(report.delivery_id, 0) + report.quantity_missing
        return missing

    async def add_discrepancies(self, reports: Sequence[tuple[str, str, str, JointOrderDiscrepancy]]) -> set[str]:
        new = set()
        for event_id, member_id, request_id, report in reports:
            if event_id not in self._tables.discrepancies:
                self._tables.discrepancies[event_id] = (member_id, request_id, report)
                new.add(event_id)
        return new

    async def complete(self, completed: Sequence[tuple[str, str, int]]) -> set[tuple[str, str]]:
        new = set()
        for member_id, request_id, quantity in completed:
            if (member_id, request_id) not in self._tables.completions:
                self._tables.completions[(member_id, request_id)] = quantity
                new.add((member_id, request_id))
        return new

    async def answered_lines(self, since: datetime) -> list[AnsweredLine]:
        tables = self._tables
        found = []
        for order_id, answer in tables.answers.items():
            order = tables.orders[order_id]
            assert order.answered_at is not None
            if order.answered_at <= since:
                continue
            skus = {line.line_id: line.sku for line in tables.lines[order_id]}
            supplier = tables.suppliers.get(order.supplier_id)
            for line in answer.lines:
                item = supplier.item(skus[line.line_id]) if supplier else None
                found.append(AnsweredLine(order.supplier_id, item.category if item else "unlisted", line.line_id,
                                          order.placed_at, order.answered_at, line.status))
        return found

    async def served_since(self, since: date) -> list[tuple[str, str, str, date]]:
        tables = self._tables
        found = {}
        for order_id, commitments in tables.commitments.items():
            if tables.orders[order_id].status is OrderStatus.CANCELLED:
                continue
            for c in commitments:
                request = tables.requests[(c.member_id, c.request_id)].request
                if c.confirmed and (c.expected_delivery or request.needed_by) > since:
                    supplier = tables.suppliers.get(c.supplier_id)
                    item = supplier.item(c.sku) if supplier else None
                    found[(c.member_id, c.request_id)] = (item.category if item else "unlisted", request.needed_by)
        return [(m, r, category, needed_by) for (m, r), (category, needed_by) in sorted(found.items())]


class FakePerformanceRepository:
    def __init__(self, tables: ProcurementTables) -> None:
        self._tables = tables

    async def replace(self, found: Iterable[Performance], computed_at: datetime) -> None:
        self._tables.performance = (list(found), computed_at)

    async def current(self) -> tuple[list[Performance], datetime | None]:
        return self._tables.performance


class FakeBuffersRepository:
    """What re-sourcing's draws use of `adapters/buffers.py`."""

    def __init__(self, tables: ProcurementTables) -> None:
        self._tables = tables

    async def list(self, skus: Iterable[str] | None = None) -> list[RiskBuffer]:
        wanted = set(self._tables.buffers) if skus is None else set(skus)
        return [b for sku, b in sorted(self._tables.buffers.items()) if sku in wanted]

    async def admitted(
        self, skus: Sequence[str] = (), keys: Sequence[tuple[str, str]] = ()
    ) -> dict[tuple[str, str], datetime]:
        """In the order the requests were added (the fake keeps no admission time)."""
        order = {key: n for n, key in enumerate(self._tables.requests)}
        start = datetime(2026, 1, 1, tzinfo=UTC)
        return {k: start + timedelta(seconds=order[k]) for k in keys if k in order}

    async def latest_sizings(self, skus: Iterable[str]) -> dict[str, BufferSizing]:
        return {sku: self._tables.buffer_sizings[sku] for sku in skus if sku in self._tables.buffer_sizings}

    async def current_cycle_no(self) -> int:
        return self._tables.cycle_no

    async def record_draws(self, cycle_no: int, occasion: str, draws: Mapping[str, Sequence[Draw]]) -> None:
        for sku, of_sku in draws.items():
            for d in of_sku:
                if (d.member_id, d.request_id, occasion) in self._tables.buffer_draws:
                    raise AssertionError(f"request {d.request_id} of {d.member_id} drawn twice for {occasion}")
                self._tables.buffer_draws[(d.member_id, d.request_id, occasion)] = (sku, d, cycle_no)

    async def save_stocks(self, stocks: Mapping[str, BufferStock]) -> None:
        for sku, stock in stocks.items():
            buffer = self._tables.buffers[sku]
            self._tables.buffers[sku] = replace(buffer, stock=replace(stock, on_order=buffer.stock.on_order))

    async def mark_served(self, requests: Mapping[str, Sequence[str]]) -> None:
        for member_id, request_ids in requests.items():
            for request_id in request_ids:
                stored = self._tables.requests[(member_id, request_id)]
                stored.status, stored.status_reason = RequestStatus.CONFIRMED, "served_from_buffer"


class FakeProcurementUnitOfWork(FakeUnitOfWork, ProcurementUnitOfWork):
    """Repositories over one set of in-memory tables; `decision_locks` counts `lock_decisions()`."""

    stores = ("tables", "suppliers", "requests", "orders", "alerts", "known_members", "parties", "fulfilment", "buffers")

    def __init__(
        self, suppliers: Iterable[Supplier] = (), known_members: Iterable[str] = (), topic_prefix: str = ""
    ) -> None:
        super().__init__(topic_prefix)
        self.tables = ProcurementTables({s.supplier_id: s for s in suppliers}, known_members=set(known_members))
        self.suppliers = FakeSuppliersRepository(self.tables)  # type: ignore[assignment]
        self.requests = FakeRequestsRepository(self.tables)  # type: ignore[assignment]
        self.orders = FakeOrdersRepository(self.tables)  # type: ignore[assignment]
        self.alerts = FakeAlertsRepository(self.tables)  # type: ignore[assignment]
        self.known_members = FakeKnownMembersRepository(self.tables)  # type: ignore[assignment]
        self.buffers = FakeBuffersRepository(self.tables)  # type: ignore[assignment]
        self.parties = FakePartiesRepository(self.tables)  # type: ignore[assignment]
        self.fulfilment = FakeFulfilmentRepository(self.tables)  # type: ignore[assignment]
        self.performance = FakePerformanceRepository(self.tables)  # type: ignore[assignment]
        self.decision_locks = 0

    async def lock_decisions(self) -> None:
        """One transaction at a time runs here: the lock only needs to be seen taken."""
        self.decision_locks += 1


async def place_order(
    uow: FakeProcurementUnitOfWork, supplier_id: str, requests: Sequence[PurchaseRequestAdmitted], unit_price: Decimal,
    cycle_id: str = "cycle-1",
) -> JointOrder:
    """Admit `requests` and place them on one order of `supplier_id` (one line per SKU), written
    through the repositories as a cycle close would leave them."""
    async with uow:
        await uow.requests.add(requests)
        [order_id] = await uow.orders.allocate_ids(1)
        by_sku: dict[str, list[PurchaseRequestAdmitted]] = {}
        for request in requests:
            by_sku.setdefault(request.sku, []).append(request)
        lines = tuple(
            OrderLine(f"{order_id}-{n}", sku, unit_price, tuple(
                Delivery(r.member_id, r.request_id, r.quantity, r.needed_by, r.ship_to, unit_price, None)
                for r in sku_requests
            ))
            for n, (sku, sku_requests) in enumerate(sorted(by_sku.items()), start=1)
        )
        order = JointOrder(order_id, supplier_id, cycle_id, lines)
        await uow.orders.add([order])
        await uow.requests.mark_ordered([order])
    return order
