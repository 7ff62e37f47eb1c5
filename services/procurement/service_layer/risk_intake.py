"""Where alerts come in: suppliers' signed records on `risk.alerts`, members' reports forwarded
by the members service, and the member ids that tell the two apart.

A record on `risk.alerts` keyed by a member is the members service's (it authenticates it
with the member's ERP secret and forwards it); procurement skips it. One keyed by a supplier is
checked here with the supplier's secret; one keyed by neither is quarantined as
`unknown_reporter`. Authentication failures are quarantined, undecodable or invalid records
dead-lettered, and a redelivered event has no second effect (the inbox).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel

from services.procurement.domain.catalog import Supplier
from services.procurement.domain.risk import AlertSource, alert_key, authenticate_supplier_alert
from services.procurement.service_layer.resourcing import DecisionOptions
from services.procurement.service_layer.responses import suppliers_by_key
from services.procurement.service_layer.risk import AlertRefused, raise_alert, resolve_alert
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared.contract import CloudEvent, RiskAlertRaised, RiskAlertResolved
from shared.events.members import RiskAlertReported, RiskAlertWithdrawn
from shared.messaging.intake import Command, Signed
from shared.messaging.records import InboundRecord
from shared.reasons import QuarantineReason
from shared.signing import SIGNATURE_HEADER

SUPPLIER_INBOX = "procurement.risk-alerts"
MEMBER_INBOX = "procurement.risk-reports"


async def known_members(uow: ProcurementUnitOfWork, keys: set[str], suppliers: Mapping[str, Supplier]) -> set[str]:
    """Keys naming a member: the members service authenticates and forwards those records."""
    return await uow.known_members.known(keys)


def _signed_by_its_supplier(
    record: InboundRecord, event: CloudEvent, supplier: Supplier | None, now: datetime
) -> str | None:
    if supplier is None:
        return QuarantineReason.UNKNOWN_REPORTER
    return authenticate_supplier_alert(record.header(SIGNATURE_HEADER), record.value or b"", supplier, now)


SIGNED_BY_REPORTING_SUPPLIERS = Signed(
    suppliers_by_key, _signed_by_its_supplier, lambda supplier: supplier.supplier_id, known_members
)
"""A supplier's alert on `risk.alerts`: keyed by the supplier and signed with its secret."""


async def take_supplier_alerts(
    uow: ProcurementUnitOfWork, commands: list[Command], options: DecisionOptions, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    for command in commands:
        await _apply(uow, command.record, options, AlertSource.SUPPLIER, command.sender.supplier_id, command.data, now)


async def take_member_reports(
    uow: ProcurementUnitOfWork, commands: list[Command], options: DecisionOptions, now: datetime | None = None
) -> None:
    """Members' alerts, authenticated and validated by the members service."""
    now = now or datetime.now(UTC)
    for command in commands:
        report = command.data
        if isinstance(report, RiskAlertReported):
            alert: RiskAlertRaised | RiskAlertResolved = report.alert
        else:
            assert isinstance(report, RiskAlertWithdrawn)
            alert = RiskAlertResolved(alert_id=report.alert_id)
        await _apply(uow, command.record, options, AlertSource.MEMBER, report.reporter_member_id, alert, now)


async def learn_members(uow: ProcurementUnitOfWork, commands: list[Command]) -> None:
    """Remember every member the registry announces, as a delivery party too (idempotent, so no inbox)."""
    await uow.parties.learn_members([command.data for command in commands])
    uow.count_consumed(commands[0].record.topic, "processed", len(commands))


async def _apply(
    uow: ProcurementUnitOfWork,
    record: InboundRecord,
    options: DecisionOptions,
    source: AlertSource,
    reporter: str,
    data: BaseModel,
    now: datetime,
) -> None:
    try:
        if isinstance(data, RiskAlertRaised):
            changed = await raise_alert(uow, options, source, reporter, data, now)
        else:
            assert isinstance(data, RiskAlertResolved)
            changed = await resolve_alert(uow, options, alert_key(source, reporter, data.alert_id), now)
    except AlertRefused as refused:
        uow.dead_letter(record, refused.reason, refused.detail)
        return
    uow.count_consumed(record.topic, "processed" if changed is not None else "duplicate")
