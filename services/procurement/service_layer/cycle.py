"""Closing an order cycle: every open request decided in one transaction.

Under the decision lock the close reads the catalog, the risk alerts in force (they rate the
offers, see `domain/risk.py`) and all open demand, solves each SKU, and writes the cycle, its
orders, lines and deliveries, the requests' new states, the suppliers' `joint_order.placed`
records and each member's notices, then commits once. A
crash anywhere before the commit leaves no trace (the next close decides the same requests);
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

from services.procurement.adapters import metrics
from services.procurement.adapters.repository import (
    CyclesRepository,
    OrdersRepository,
    RequestsRepository,
    SuppliersRepository,
    lock_decisions,
)
from services.procurement.adapters.solver import SkuProblem, solve_in_thread
from services.procurement.domain.catalog import offers_by_sku
from services.procurement.domain.demand import OpenRequest, RequestStatus
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
from shared.contract import EventType, PurchaseRequestOrdered, PurchaseRequestUnfulfillable
from shared.events.procurement import CYCLE_CLOSED, SOURCE, CycleClosed
from shared.messaging.envelope import event_message, new_event
from shared.messaging.notices import member_notice
from shared.messaging.records import OutboundMessage
from shared.messaging.unit_of_work import UnitOfWork
from shared.settings import Settings

log = logging.getLogger(__name__)

Trigger = Literal["schedule", "admin"]


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
    decisions = await solve_in_thread(problems, order_date, options.max_supplier_share)
    solve_seconds = time.perf_counter() - solve_started

    number, cycle_id = await cycles.allocate()
    winners = placed_suppliers(decisions.values())
    order_ids = dict(zip(winners, await OrdersRepository(uow.conn).allocate_ids(len(winners)), strict=True))
    orders = assemble_orders(cycle_id, decisions, by_sku, order_ids)
    waiting: list[OpenRequest] = []
    unfulfillable: list[tuple[OpenRequest, str]] = []
    for sku, decision in decisions.items():
        leftovers = sort_leftovers(decision, by_sku[sku], offers.get(sku, ()), next_close_at.date())
        waiting.extend(leftovers.waiting)
        unfulfillable.extend(leftovers.unfulfillable)

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
    # Building ~one message per request is CPU work; PostgreSQL does the writes meanwhile.
    messages, _ = await asyncio.gather(
        asyncio.to_thread(_messages, options.topic_prefix, report, orders, unfulfillable, secrets),
        _write(uow, report, orders, unfulfillable, number, schedule_slot),
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
    unfulfillable: Sequence[tuple[OpenRequest, str]],
    number: int,
    schedule_slot: int | None,
) -> None:
    await OrdersRepository(uow.conn).add(orders)
    requests = RequestsRepository(uow.conn)
    await requests.mark_ordered(orders)
    await requests.mark_decided(
        [r for r, _ in unfulfillable], RequestStatus.UNFULFILLABLE, [why for _, why in unfulfillable]
    )
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
    """The suppliers' signed orders, each member's notices and the cycle's own event."""
    messages: list[OutboundMessage] = []
    for order in orders:
        messages += placed_messages(topic_prefix, order, secrets[order.supplier_id])
        for line, delivery in order.deliveries():
            ordered = PurchaseRequestOrdered(
                request_id=delivery.request_id,
                order_id=order.order_id,
                supplier_id=order.supplier_id,
                quantity=delivery.quantity,
                unit_price=delivery.unit_price,
                standalone_unit_price=delivery.standalone_unit_price,
                savings=delivery.savings,
            )
            messages.append(
                member_notice(
                    topic_prefix,
                    SOURCE,
                    delivery.member_id,
                    EventType.PURCHASE_REQUEST_ORDERED,
                    ordered,
                    f"{line.line_id}:{delivery.request_id}",
                )
            )
    for request, reason in unfulfillable:
        messages.append(
            member_notice(
                topic_prefix,
                SOURCE,
                request.member_id,
                EventType.PURCHASE_REQUEST_UNFULFILLABLE,
                PurchaseRequestUnfulfillable(request_id=request.request_id, reason=reason),
                f"{report.cycle_id}:{request.request_id}",
            )
        )
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
