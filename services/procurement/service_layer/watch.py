"""Keeping watch: orders unanswered too long are escalated, and the gauges follow the database
(goods overdue after the answer are watched by `receipts.watch_deliveries`).

Every instance runs this; escalation is an UPDATE that marks each order once, so N instances
escalate an order once, and the gauges read the same rows on each instance. (Expiring risk
alerts is part of the same watch: `service_layer.risk.expire_alerts`.)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from services.procurement.adapters import metrics
from services.procurement.domain.fulfilment import EscalationKind
from services.procurement.domain.orders import OrderRecord
from services.procurement.domain.risk import effective_alerts, effects, excluded_suppliers
from services.procurement.service_layer.buffers import refresh_buffer_gauges
from services.procurement.service_layer.performance import refresh_performance
from services.procurement.service_layer.publishing import status_message, status_of
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared.contract import Severity

log = logging.getLogger(__name__)

_shown_categories: set[str] = set()


async def escalate_overdue(
    uow: ProcurementUnitOfWork, answer_timeout: timedelta, now: datetime | None = None
) -> list[OrderRecord]:
    """Escalate placed orders unanswered for longer than `answer_timeout` (each once)."""
    now = now or datetime.now(UTC)
    orders = uow.orders
    overdue = await orders.escalate_overdue(now - answer_timeout)
    for order in overdue:
        log.warning(
            "order %s to supplier %s unanswered since %s: escalated",
            order.order_id, order.supplier_id, order.placed_at.isoformat(),
        )
        reason = f"unanswered for more than {int(answer_timeout.total_seconds())} s"
        status = status_of(order, "escalated", tuple(await orders.skus(order.order_id)), reason=reason)
        uow.publish(status_message(status))
    if overdue:
        uow.after_commit(lambda: metrics.ORDERS.labels("escalated").inc(len(overdue)))
    return overdue


async def refresh_gauges(uow: ProcurementUnitOfWork, corroboration: int, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    demand = await uow.requests.open_demand_by_category()
    awaiting, escalated = await uow.orders.answer_counts()
    current = {category for category, _, _ in demand}
    for category in _shown_categories - current:
        metrics.OPEN_DEMAND_QUANTITY.labels(category).set(0)
        metrics.OPEN_DEMAND_REQUESTS.labels(category).set(0)
    for category, quantity, requests in demand:
        metrics.OPEN_DEMAND_QUANTITY.labels(category).set(quantity)
        metrics.OPEN_DEMAND_REQUESTS.labels(category).set(requests)
    _shown_categories.update(current)
    metrics.ORDERS_AWAITING_ANSWER.set(awaiting)
    metrics.ORDERS_UNANSWERED.set(escalated)
    alerts = await uow.alerts.active()
    in_force = effects(alerts, now, corroboration)
    acting = effective_alerts(in_force)
    for severity in Severity:
        metrics.ACTIVE_ALERTS.labels(severity.value).set(
            sum(1 for a in alerts if a.key in acting and a.severity is severity)
        )
    metrics.EXCLUDED_SUPPLIERS.set(len(excluded_suppliers(in_force)))
    await refresh_buffer_gauges(uow)
    overdue = await uow.fulfilment.escalation_counts()
    for kind in EscalationKind:
        metrics.DELIVERIES_OVERDUE.labels(kind.value).set(overdue.get(kind.value, 0))


_shown_performance: set[tuple[str, str]] = set()


async def refresh_performance_gauges(uow: ProcurementUnitOfWork, floor: float, now: datetime | None = None) -> None:
    """Recompute supplier performance (decisions read what this keeps) and show each supplier's
    on-time-in-full per category, and whether it is below the floor."""
    found = await refresh_performance(uow, now or datetime.now(UTC))
    measured = {key for key, p in found.items() if p.otif is not None}
    for key in _shown_performance - measured:
        metrics.SUPPLIER_OTIF.remove(*key)
        metrics.SUPPLIER_BELOW_FLOOR.remove(*key)
    for key in measured:
        otif = found[key].otif
        assert otif is not None
        metrics.SUPPLIER_OTIF.labels(*key).set(otif)
        metrics.SUPPLIER_BELOW_FLOOR.labels(*key).set(int(otif < floor))
    _shown_performance.clear()
    _shown_performance.update(measured)
