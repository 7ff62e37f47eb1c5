"""Closing an order cycle: every open request decided in one transaction.

Under the decision lock the close reads the catalog, the risk alerts in force (they rate the
offers, see `domain/risk.py`), the suppliers below the on-time-in-full floor (a last resort, see
`domain/performance.py`) and all open demand, solves each SKU, and writes the cycle, its
orders, lines and deliveries, the requests' new states, the suppliers' `joint_order.placed`
records and one record per member with all its notices, then commits once. The SKUs are solved
off the event loop (`adapters/bundling_runner.py`), in SKU order; as their decisions come the close
builds the order lines, writes their deliveries and the requests' new states, and renders the
notices, while the next SKUs are being solved. A crash anywhere before the commit leaves no
trace (the next close decides the same requests); after it, the outbox publishes everything.
So no request is ever placed twice, however many instances close at once and whenever one of
them dies.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from services.procurement.adapters import metrics
from services.procurement.adapters.bundling_runner import CloseSolver, SkuRequests
from services.procurement.domain.bundling import Decision
from services.procurement.domain.catalog import offers_by_sku
from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.orders import (
    JointOrder,
    OrderBook,
    OrderLine,
    placed_suppliers,
    sort_leftovers,
)
from services.procurement.domain.performance import offers_with_performance
from services.procurement.domain.risk import offers_with_risk
from services.procurement.service_layer.buffers import BufferClose
from services.procurement.service_layer.documents import (
    close_document_settings,
    count_rendered,
)
from services.procurement.service_layer.order_records import CloseRecords
from services.procurement.service_layer.performance import categories, last_resorts
from services.procurement.service_layer.risk import effects_in_force
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared import gc_policy, topics
from shared.events.procurement import CYCLE_CLOSED, SOURCE, CycleClosed
from shared.messaging.envelope import event_record
from shared.messaging.records import OutboundMessage
from shared.settings import Settings

Trigger = Literal["schedule", "admin"]
T = TypeVar("T")

__all__ = ["CloseOptions", "CycleReport", "close_cycle"]


@dataclass(frozen=True, slots=True)
class CycleReport:
    cycle_id: str
    trigger: Trigger
    order_date: date
    requests_considered: int
    requests_placed: int
    quantity_placed: int
    orders: int
    unfulfillable: int
    waiting: int
    savings: Decimal
    share_cap_relaxed: int
    max_optimizer_gap: float
    solve_seconds: float


@dataclass(frozen=True, slots=True)
class CloseOptions:
    max_supplier_share: float
    interval_seconds: int
    risk_corroboration_members: int = Settings.model_fields["risk_corroboration_members"].default
    """Distinct members whose alerts with one scope make those alerts act on the close."""
    otif_floor: float = Settings.model_fields["supplier_otif_floor"].default
    """Below it a supplier is a last resort for the category (`domain/performance.py`)."""


async def close_cycle(
    uow: ProcurementUnitOfWork,
    options: CloseOptions,
    next_close_at: datetime,
    trigger: Trigger,
    schedule_slot: int | None = None,
    now: datetime | None = None,
) -> CycleReport | None:
    """Close a cycle now; None when `schedule_slot` was already closed by another instance."""
    with gc_policy.paused():
        return await _close(uow, options, next_close_at, trigger, schedule_slot, now)


async def _close(
    uow: ProcurementUnitOfWork,
    options: CloseOptions,
    next_close_at: datetime,
    trigger: Trigger,
    schedule_slot: int | None,
    now: datetime | None,
) -> CycleReport | None:
    await uow.lock_decisions()
    cycles = uow.cycles
    if schedule_slot is not None and await cycles.slot_closed(schedule_slot):
        return None
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    # The solver's process (for a large close) imports while the demand loads.
    solver = await CloseSolver.start(await uow.requests.count_open())
    try:
        return await _decide(uow, solver, options, next_close_at, trigger, schedule_slot, now, started)
    finally:
        await solver.stop()


async def _decide(
    uow: ProcurementUnitOfWork,
    solver: CloseSolver,
    options: CloseOptions,
    next_close_at: datetime,
    trigger: Trigger,
    schedule_slot: int | None,
    now: datetime,
    started: float,
) -> CycleReport:
    cycles = uow.cycles
    orders_store, requests_store = uow.orders, uow.requests
    order_date = now.date()
    suppliers = await uow.suppliers.list()
    open_requests = await requests_store.open_requests()
    in_force = await effects_in_force(uow, now, options.risk_corroboration_members)
    catalog_offers = offers_by_sku(suppliers)
    offers = offers_with_performance(
        offers_with_risk(catalog_offers, in_force), categories(suppliers),
        await last_resorts(uow, options.otif_floor),
    )
    by_sku: dict[str, list[OpenRequest]] = {}
    for request in open_requests:
        requests_of = by_sku.get(request.sku)
        if requests_of is None:
            requests_of = by_sku[request.sku] = []
        requests_of.append(request)
    number, cycle_id = await cycles.allocate()
    buffers = await BufferClose.plan(
        uow, number, cycle_id, by_sku, catalog_offers, options.interval_seconds, order_date
    )
    for replenishment in buffers.replenishments:
        by_sku.setdefault(replenishment.sku, []).append(replenishment)
    # SKUs in ascending order: each supplier's order lines are numbered in SKU order as they come.
    skus = [SkuRequests(sku, tuple(offers.get(sku, ())), by_sku[sku]) for sku in sorted(by_sku)]

    # The XML suppliers' parties before deciding: their documents are written line by line as
    # the decisions come, while the optimizer goes on.
    documents = await close_document_settings(
        uow, suppliers, {r.member_id for requests in by_sku.values() for r in requests}
    )
    writes = _Writes()
    order_ids: dict[str, str] = {}
    book = OrderBook(cycle_id, order_ids)
    records = CloseRecords(cycle_id, documents, order_date)
    next_order_date = next_close_at.date()
    stats: list[Decision] = []
    placed_count = 0
    savings = Decimal(0)
    waiting = 0
    unfulfillable: list[tuple[OpenRequest, str]] = []
    solve_started = time.perf_counter()
    solve_seconds = 0.0
    try:
        async for batch in solver.decide(skus, order_date, options.max_supplier_share):
            solve_seconds = time.perf_counter() - solve_started
            # Ids in the order suppliers first win, SKU by SKU: the same whatever the batches.
            new = list(dict.fromkeys(
                s for sku in sorted(batch) for s in placed_suppliers([batch[sku]]) if s not in order_ids
            ))
            if new:
                order_ids.update(zip(new, await writes.add(lambda n=len(new): orders_store.allocate_ids(n)), strict=True))
            lines: list[tuple[str, OrderLine]] = []
            placed: list[tuple[str, str]] = []
            given_up: list[tuple[OpenRequest, str]] = []
            for sku in sorted(batch):
                decision = batch[sku]
                stats.append(decision)
                requests = by_sku[sku]
                for supplier_id, order_id, line in book.add(sku, decision, requests):
                    lines.append((order_id, line))
                    placed += [(d.member_id, d.request_id) for d in line.deliveries]
                    savings += records.ordered(supplier_id, order_id, line)
                if decision.unplaced:
                    leftovers = sort_leftovers(decision, requests, offers.get(sku, ()), next_order_date)
                    settled = buffers.settle(sku, leftovers)
                    waiting += len(settled.waiting)
                    for request, reason in settled.told:
                        records.unfulfillable(request, reason)
                    unfulfillable += settled.told
                    given_up += settled.given_up
            placed_count += len(placed)
            writes.add(lambda lines=lines: orders_store.add_deliveries(lines))
            writes.add(lambda placed=placed, given_up=given_up: requests_store.record_decisions(placed, given_up))
            writes.raise_failure()

        orders = book.orders()
        report = CycleReport(
            cycle_id=cycle_id,
            trigger=trigger,
            order_date=order_date,
            requests_considered=len(open_requests),
            requests_placed=placed_count,
            quantity_placed=sum(o.quantity for o in orders),
            orders=len(orders),
            unfulfillable=len(unfulfillable),
            waiting=waiting,
            savings=savings,
            share_cap_relaxed=sum(d.share_cap_relaxed for d in stats),
            max_optimizer_gap=max((d.stats.gap for d in stats), default=0.0),
            solve_seconds=solve_seconds,
        )
        writes.add(lambda: buffers.write(uow))
        writes.add(lambda: orders_store.add(orders, with_deliveries=False))
        writes.add(lambda: cycles.add(
            number, cycle_id, trigger, schedule_slot, order_date, _counts(report), solve_seconds
        ))
        secrets = {s.supplier_id: s.secret for s in suppliers}
        for order in orders:
            for message in records.order_messages(order, secrets[order.supplier_id]):
                uow.publish(message)
        count_rendered(uow, orders, documents)
        for message in records.member_messages():
            uow.publish(message)
        uow.publish(_closed_message(report))
        await writes.done()
    finally:
        await writes.settle()
    _count(uow, report, orders, unfulfillable, stats, started)
    return report


class _Writes:
    """The close's writes, one after another on its connection, while the close goes on
    rendering the next decisions (a connection runs one query at a time)."""

    def __init__(self) -> None:
        self._last: asyncio.Future[Any] | None = None

    def add(self, write: Callable[[], Awaitable[T]]) -> asyncio.Future[T]:
        """Run `write` after every write added before; await the result to wait for it."""
        previous = self._last

        async def run() -> T:
            if previous is not None:
                await previous  # a failed write fails every later one, so none runs after it
            return await write()

        self._last = task = asyncio.ensure_future(run())
        return task

    def raise_failure(self) -> None:
        if self._last is not None and self._last.done():
            self._last.result()

    async def done(self) -> None:
        if self._last is not None:
            await self._last

    async def settle(self) -> None:
        """Wait for the writes under way to end, whatever happened (a failed close must not roll
        back with a query still running on the connection)."""
        if self._last is not None:
            await asyncio.wait([self._last])
            if not self._last.cancelled():
                self._last.exception()  # retrieved: the close's own error is the one raised


def _counts(report: CycleReport) -> dict[str, int]:
    fields = asdict(report)
    return {
        name: fields[name]
        for name in ("requests_considered", "requests_placed", "quantity_placed", "orders", "unfulfillable")
    }


def _closed_message(report: CycleReport) -> OutboundMessage:
    closed = CycleClosed.model_validate(report, from_attributes=True)
    return event_record(
        topics.PROCUREMENT_EVENTS, report.cycle_id, CYCLE_CLOSED, SOURCE, closed,
        event_id=f"{report.cycle_id}.closed",
    )


def _count(
    uow: ProcurementUnitOfWork,
    report: CycleReport,
    orders: Sequence[JointOrder],
    unfulfillable: Sequence[tuple[OpenRequest, str]],
    decisions: Sequence[Decision],
    started: float,
) -> None:
    """Metrics move only once the close has committed."""
    solve_times = [d.stats.wall_seconds for d in decisions]
    reasons = Counter(reason for _, reason in unfulfillable)

    def record() -> None:
        metrics.CYCLES_CLOSED.inc()
        metrics.CYCLE_DURATION.observe(time.perf_counter() - started)
        for seconds in solve_times:
            metrics.OPTIMIZER_DURATION.observe(seconds)
        metrics.OPTIMIZER_GAP.set(report.max_optimizer_gap)
        metrics.ORDERS.labels("placed").inc(len(orders))
        metrics.BUNDLED_QUANTITY.inc(report.quantity_placed)
        metrics.SAVINGS_EUR.inc(float(report.savings))
        metrics.SUPPLIER_SHARE_RELAXED.inc(report.share_cap_relaxed)
        for reason, count in reasons.items():
            metrics.UNFULFILLABLE_REQUESTS.labels(reason).inc(count)

    uow.after_commit(record)
