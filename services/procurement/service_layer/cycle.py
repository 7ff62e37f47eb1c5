"""Closing an order cycle: every open request decided in one transaction.

Under the decision lock the close reads the catalog, the risk alerts in force (they rate the
offers, see `domain/risk.py`) and all open demand, solves each SKU, and writes the cycle, its
orders, lines and deliveries, the requests' new states, the suppliers' `joint_order.placed`
records and one record per member with all its notices, then commits once. The requests' new
states are written batch by batch while the next SKUs are still being solved. A crash anywhere before the commit leaves no trace (the next close decides the same requests);
after it, the outbox publishes everything. So no request is ever placed twice, however many
instances close at once and whenever one of them dies.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from services.procurement.adapters import metrics
from services.procurement.adapters.repository import (
    CyclesRepository,
    OrdersRepository,
    RequestsRepository,
    SuppliersRepository,
    lock_decisions,
)
from services.procurement.adapters.solver import SkuProblem, decisions_as_solved
from services.procurement.domain.catalog import offers_by_sku
from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.optimizer import Decision
from services.procurement.domain.orders import (
    JointOrder,
    assemble_orders,
    placed_suppliers,
    sort_leftovers,
)
from services.procurement.domain.risk import offers_with_risk
from services.procurement.service_layer.publishing import placed_messages
from services.procurement.service_layer.risk import effects_in_force
from shared import topics
from shared.contract import EventType, PurchaseRequestUnfulfillable
from shared.events.procurement import CYCLE_CLOSED, SOURCE, CycleClosed
from shared.messaging.envelope import event_message, new_event
from shared.messaging.notices import member_notices
from shared.messaging.records import OutboundMessage
from shared.messaging.unit_of_work import UnitOfWork
from shared.settings import Settings

log = logging.getLogger(__name__)

Trigger = Literal["schedule", "admin"]

NOTICES_PER_RECORD = 1_000
"""A member's notices of one close go in records of at most this many (~300 kB), well under
the 1 MB a consumer accepts, however many requests one member has open."""


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
    topic_prefix: str
    max_supplier_share: float
    interval_seconds: int
    risk_corroboration_members: int = Settings.model_fields["risk_corroboration_members"].default
    """Distinct members whose alerts with one scope make those alerts act on the close."""
    pause_before_commit_s: float = 0.0
    """Test hook (ALLIANCE_TEST_CLOSE_DELAY_S): sleep with everything written, before the
    commit, so a test can kill the process in the middle of a close."""


async def close_cycle(
    uow: UnitOfWork,
    options: CloseOptions,
    next_close_at: datetime,
    trigger: Trigger,
    schedule_slot: int | None = None,
    now: datetime | None = None,
) -> CycleReport | None:
    """Close a cycle now; None when `schedule_slot` was already closed by another instance."""
    await lock_decisions(uow.conn)
    cycles = CyclesRepository(uow.conn)
    if schedule_slot is not None and await cycles.slot_closed(schedule_slot):
        return None
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    order_date = now.date()
    suppliers = await SuppliersRepository(uow.conn).list()
    open_requests = await RequestsRepository(uow.conn).open_requests()
    in_force = await effects_in_force(uow.conn, now, options.risk_corroboration_members)
    offers = offers_with_risk(offers_by_sku(suppliers), in_force)
    by_sku: dict[str, list[OpenRequest]] = {}
    for request in open_requests:
        by_sku.setdefault(request.sku, []).append(request)
    problems = [
        SkuProblem(sku, tuple(offers.get(sku, ())), tuple(r.demand() for r in requests))
        for sku, requests in by_sku.items()
    ]
    solve_started = time.perf_counter()
    solve_seconds = 0.0
    requests = RequestsRepository(uow.conn)
    decisions: dict[str, Decision] = {}
    waiting: list[OpenRequest] = []
    unfulfillable: list[tuple[OpenRequest, str]] = []
    async for batch in decisions_as_solved(problems, order_date, options.max_supplier_share):
        solve_seconds = time.perf_counter() - solve_started
        decisions.update(batch)
        placed: list[tuple[str, str]] = []
        decided_before = len(unfulfillable)
        for sku, decision in batch.items():
            placed += [(r.member_id, r.request_id) for r in by_sku[sku] if r.key in decision.placements]
            leftovers = sort_leftovers(decision, by_sku[sku], offers.get(sku, ()), next_close_at.date())
            waiting.extend(leftovers.waiting)
            unfulfillable.extend(leftovers.unfulfillable)
        await requests.record_decisions(placed, unfulfillable[decided_before:])

    number, cycle_id = await cycles.allocate()
    winners = placed_suppliers(decisions.values())
    order_ids = dict(zip(winners, await OrdersRepository(uow.conn).allocate_ids(len(winners)), strict=True))
    orders = assemble_orders(cycle_id, decisions, by_sku, order_ids)

    report = CycleReport(
        cycle_id=cycle_id,
        trigger=trigger,
        order_date=order_date,
        requests_considered=len(open_requests),
        requests_placed=sum(len(d.placements) for d in decisions.values()),
        quantity_placed=sum(o.quantity for o in orders),
        orders=len(orders),
        unfulfillable=len(unfulfillable),
        waiting=len(waiting),
        savings=sum((d.savings for o in orders for _, d in o.deliveries()), Decimal(0)),
        share_cap_relaxed=sum(d.share_cap_relaxed for d in decisions.values()),
        max_optimizer_gap=max((d.stats.gap for d in decisions.values()), default=0.0),
        solve_seconds=solve_seconds,
    )
    secrets = {s.supplier_id: s.secret for s in suppliers}
    # Rendering every order line and notice is CPU work; PostgreSQL writes the orders meanwhile.
    messages, _ = await asyncio.gather(
        asyncio.to_thread(_messages, options.topic_prefix, report, orders, unfulfillable, secrets),
        _write(uow, report, orders, number, schedule_slot),
    )
    for message in messages:
        uow.publish(message)
    _count(uow, report, orders, unfulfillable, list(decisions.values()), started)
    if options.pause_before_commit_s:
        log.warning("test hook: pausing %.1f s before committing %s", options.pause_before_commit_s, cycle_id)
        await asyncio.sleep(options.pause_before_commit_s)
    return report


def _counts(report: CycleReport) -> dict[str, int]:
    fields = asdict(report)
    return {
        name: fields[name]
        for name in ("requests_considered", "requests_placed", "quantity_placed", "orders", "unfulfillable")
    }


async def _write(
    uow: UnitOfWork,
    report: CycleReport,
    orders: Sequence[JointOrder],
    number: int,
    schedule_slot: int | None,
) -> None:
    await OrdersRepository(uow.conn).add(orders)
    await CyclesRepository(uow.conn).add(
        number, report.cycle_id, report.trigger, schedule_slot, report.order_date, _counts(report),
        report.solve_seconds,
    )


def _messages(
    topic_prefix: str,
    report: CycleReport,
    orders: Sequence[JointOrder],
    unfulfillable: Sequence[tuple[OpenRequest, str]],
    secrets: dict[str, str],
) -> list[OutboundMessage]:
    """The suppliers' signed orders, one record per member with all its notices of this close,
    and the cycle's own event. Each notice keeps its own deterministic id, so the cause is the
    same as when every notice was its own record."""
    messages: list[OutboundMessage] = []
    notices: dict[str, list[tuple[str, BaseModel, str]]] = {}
    for order in orders:
        messages += placed_messages(topic_prefix, order, secrets[order.supplier_id])
        for line, delivery, ordered in order.ordered_notices():
            notices.setdefault(delivery.member_id, []).append((
                EventType.PURCHASE_REQUEST_ORDERED, ordered, f"{line.line_id}:{delivery.request_id}"
            ))
    for request, reason in unfulfillable:
        notices.setdefault(request.member_id, []).append((
            EventType.PURCHASE_REQUEST_UNFULFILLABLE,
            PurchaseRequestUnfulfillable(request_id=request.request_id, reason=reason),
            f"{report.cycle_id}:{request.request_id}",
        ))
    messages += [
        member_notices(topic_prefix, SOURCE, member_id, told[start : start + NOTICES_PER_RECORD])
        for member_id, told in notices.items()
        for start in range(0, len(told), NOTICES_PER_RECORD)
    ]
    closed = CycleClosed(
        cycle_id=report.cycle_id,
        trigger=report.trigger,
        order_date=report.order_date,
        requests_considered=report.requests_considered,
        requests_placed=report.requests_placed,
        quantity_placed=report.quantity_placed,
        orders=report.orders,
        unfulfillable=report.unfulfillable,
        waiting=report.waiting,
    )
    event = new_event(CYCLE_CLOSED, SOURCE, closed, event_id=f"{report.cycle_id}.closed")
    messages.append(event_message(topic_prefix + topics.PROCUREMENT_EVENTS, report.cycle_id, event))
    return messages


def _count(
    uow: UnitOfWork,
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
