"""The risk alert registry's commands: raise, resolve, expire, and act on what becomes critical.

Every change takes the decision lock first, so registry changes, cycle closes and re-sourcing
happen one after the other: two members' reports arriving together still see each other (the
second completes the corroboration), and an order a concurrent close placed inside a new
critical scope is seen, and cancelled, by the raise that follows it.

Each alert's members are told once when it is raised (the exposure is computed then and
kept) and the same members once more when it ends, through `RiskExposureAssessed`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from services.procurement.adapters import metrics
from services.procurement.domain.catalog import Supplier
from services.procurement.domain.resourcing import RISK_ALERT
from services.procurement.domain.risk import (
    Alert,
    AlertSource,
    AlertStatus,
    Effect,
    alert_key,
    due_to_expire,
    effective_alerts,
    effects,
    exposure,
    is_trusted,
    newly_critical,
    orders_at_risk,
    scope_of,
    serving,
)
from services.procurement.service_layer.publishing import (
    cancelled_message,
    exposure_message,
    status_message,
    status_of,
)
from services.procurement.service_layer.resourcing import DecisionOptions, resource_order
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared.contract import RiskAlertRaised
from shared.reasons import DeadLetterReason

log = logging.getLogger(__name__)

CANCELLED_FOR_SUPPLIER = "cancelled by the alliance: a critical risk alert covers this order"
"""What the supplier reads in `joint_order.cancelled`: neither who raised the alert nor why."""


class AlertRefused(Exception):
    """The registry cannot take this change; `reason` is a stable code for dead letters."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


async def effects_in_force(uow: ProcurementUnitOfWork, now: datetime, corroboration: int) -> list[Effect]:
    """What the alerts in force do to decisions made now."""
    return effects(await uow.alerts.active(), now, corroboration)


async def raise_alert(
    uow: ProcurementUnitOfWork,
    options: DecisionOptions,
    source: AlertSource,
    reporter: str,
    raised: RiskAlertRaised,
    now: datetime,
) -> Alert | None:
    """Register an alert, tell the exposed members, and act on it if it is effective and critical.

    None when the same report was registered already (a redelivery). Raises AlertRefused when
    the reporter reused an alert id for a different report, or the alert has expired already.
    """
    await uow.lock_decisions()
    registry = uow.alerts
    key = alert_key(source, reporter, raised.alert_id)
    existing = await registry.get(key)
    if existing is not None:
        if existing.same_report(raised):
            return None
        detail = f"alert_id {raised.alert_id!r} was raised before with other content"
        raise AlertRefused(DeadLetterReason.ALERT_ID_REUSED, detail)
    if raised.valid_until is not None and raised.valid_until <= now:
        raise AlertRefused(DeadLetterReason.ALREADY_EXPIRED, f"valid_until {raised.valid_until.isoformat()} has passed")

    suppliers = await uow.suppliers.list()
    own_skus = {i.sku for s in suppliers if s.supplier_id == reporter for i in s.catalog}
    alert = Alert(
        source=source,
        reporter=reporter,
        alert_id=raised.alert_id,
        scope=scope_of(raised),
        kind=raised.kind,
        severity=raised.severity,
        summary=raised.summary,
        trusted=is_trusted(source, reporter, raised, own_skus),
        valid_until=raised.valid_until,
    )
    active = await registry.active()
    before = effects(active, now, options.corroboration)
    after = effects([*active, alert], now, options.corroboration)
    await registry.add(alert)
    trust = "trusted: acts at once" if alert.trusted else "warns; acts once corroborated by members"
    await registry.record([(key, "raised", trust), *_effectiveness_changes(before, after, ended=set())])

    holdings = await registry.holdings(alert.acting_scope, now.date())
    exposed = exposure(alert, holdings, serving(suppliers))
    await registry.save_exposure(key, exposed)
    categories = await registry.categories(alert.acting_scope)
    uow.publish(exposure_message(alert, "raised", categories, exposed))
    labels = (alert.kind.value, alert.severity.value, alert.source.value)
    uow.after_commit(lambda: metrics.RISK_ALERTS.labels(*labels).inc())
    log.info(
        "risk alert %s raised (%s, %s %s, %s): %d member(s) exposed",
        key, source.value, alert.severity.value, alert.kind.value, trust, len(exposed),
    )
    critical = newly_critical(before, after)
    if critical:
        await _act_on_critical(uow, options, critical, after, suppliers, now)
    return alert


async def resolve_alert(
    uow: ProcurementUnitOfWork, options: DecisionOptions, key: str, now: datetime
) -> Alert | None:
    """End an alert; None when it had ended already. Raises AlertRefused for an unknown key."""
    return await _end(uow, options, key, AlertStatus.RESOLVED, now)


async def expire_alerts(uow: ProcurementUnitOfWork, options: DecisionOptions, now: datetime) -> list[Alert]:
    """Mark alerts past their valid_until expired and tell their members it is over."""
    due = due_to_expire(await uow.alerts.active(), now)
    expired = []
    for alert in due:
        ended = await _end(uow, options, alert.key, AlertStatus.EXPIRED, now)
        if ended is not None:
            expired.append(ended)
    return expired


async def _end(
    uow: ProcurementUnitOfWork, options: DecisionOptions, key: str, status: AlertStatus, now: datetime
) -> Alert | None:
    await uow.lock_decisions()
    registry = uow.alerts
    alert = await registry.get(key)
    if alert is None:
        raise AlertRefused(DeadLetterReason.UNKNOWN_ALERT, "no such alert was raised by this reporter")
    if not await registry.end(key, status):
        return None
    others = await registry.active()
    # As if it were still in force, so that a group it corroborated is seen to stop acting.
    before = effects([*others, replace(alert, valid_until=None)], now, options.corroboration)
    after = effects(others, now, options.corroboration)
    await registry.record([(key, status.value, None), *_effectiveness_changes(before, after, ended={key})])
    ended = replace(alert, status=status)
    exposed = await registry.exposure(key)
    categories = await registry.categories(alert.acting_scope)
    uow.publish(exposure_message(ended, "resolved", categories, exposed))
    log.info("risk alert %s %s: %d member(s) told", key, status.value, len(exposed))
    return ended


def _effectiveness_changes(
    before: Sequence[Effect], after: Sequence[Effect], ended: set[str]
) -> list[tuple[str, str, str | None]]:
    """History rows for alerts that start or stop acting with this change."""
    was, now = effective_alerts(before), effective_alerts(after)
    changes: list[tuple[str, str, str | None]] = []
    for effect in after:
        detail = f"acts as {effect.severity.value}, backed by {len(effect.alert_keys)} alert(s)"
        changes += [(key, "effective", detail) for key in sorted(effect.alert_keys - was)]
    changes += [(key, "no_longer_effective", None) for key in sorted(was - now - ended)]
    return changes


async def _act_on_critical(
    uow: ProcurementUnitOfWork,
    options: DecisionOptions,
    critical: Sequence[Effect],
    in_force: Sequence[Effect],
    suppliers: Sequence[Supplier],
    now: datetime,
) -> None:
    """Cancel the unconfirmed orders inside newly critical scopes and re-source their requests
    at once; flag the confirmed ones for ops (their members were warned by the exposure)."""
    registry, orders = uow.alerts, uow.orders
    holdings = [h for effect in critical for h in await registry.holdings(effect.scope, now.date(), orders_only=True)]
    at_risk = orders_at_risk(critical, holdings)
    label = "critical risk alert " + ", ".join(sorted({k for e in critical for k in e.alert_keys}))
    secrets = {s.supplier_id: s.secret for s in suppliers}
    cancelled = 0
    for order_id in at_risk.to_cancel:
        order = await orders.cancel(order_id, label)
        if order is None:
            continue
        cancelled += 1
        uow.publish(cancelled_message(order, CANCELLED_FOR_SUPPLIER, secrets[order.supplier_id]))
        resourced = await resource_order(uow, order, RISK_ALERT, options, in_force, now)
        uow.publish(status_message(status_of(order, "cancelled", resourced.skus, reason=label)))
        log.warning(
            "order %s to %s cancelled (%s): %d new order(s), %d request(s) unfulfillable",
            order_id, order.supplier_id, label, len(resourced.new_orders), len(resourced.unplaced),
        )
    flagged = await orders.flag_risk(at_risk.to_flag, label)
    for order in flagged:
        log.warning(
            "confirmed order %s to %s lies inside a %s: flagged for ops (GET /admin/orders?risk_flagged=true)",
            order.order_id, order.supplier_id, label,
        )

    def record() -> None:
        metrics.ORDERS.labels("cancelled").inc(cancelled)
        metrics.ORDERS.labels("risk_flagged").inc(len(flagged))

    uow.after_commit(record)
