"""Where alerts come in: suppliers' signed records on `risk.alerts`, members' reports forwarded
by the members service, and the member ids that tell the two apart.

A record on `risk.alerts` keyed by a member is the members service's (it authenticates it
with the member's ERP secret and forwards it); procurement skips it. One keyed by a supplier is
checked here with the supplier's secret; one keyed by neither is quarantined as
`unknown_reporter`. Authentication failures are quarantined, undecodable or invalid records
dead-lettered, and a redelivered event has no second effect (the inbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError

from services.procurement.adapters.alerts import KnownMembersRepository
from services.procurement.adapters.repository import SuppliersRepository
from services.procurement.domain.catalog import Supplier
from services.procurement.domain.risk import AlertQuarantine, AlertSource, alert_key, authenticate_supplier_alert
from services.procurement.service_layer.resourcing import DecisionOptions
from services.procurement.service_layer.risk import AlertRefused, raise_alert, resolve_alert
from shared.contract import EventType, RiskAlertRaised, RiskAlertResolved
from shared.events.members import (
    MEMBER_REGISTERED,
    MEMBER_UPDATED,
    RISK_ALERT_REPORTED,
    RISK_ALERT_WITHDRAWN,
    MemberProfile,
    RiskAlertReported,
    RiskAlertWithdrawn,
)
from shared.messaging.envelope import Undecodable, decode, validation_summary
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork
from shared.signing import SIGNATURE_HEADER

SUPPLIER_INBOX = "procurement.risk-alerts"
MEMBER_INBOX = "procurement.risk-reports"
_ALERT_MODELS: dict[str, type[BaseModel]] = {
    EventType.RISK_ALERT_RAISED: RiskAlertRaised,
    EventType.RISK_ALERT_RESOLVED: RiskAlertResolved,
}
_REPORT_MODELS: dict[str, type[BaseModel]] = {
    RISK_ALERT_REPORTED: RiskAlertReported,
    RISK_ALERT_WITHDRAWN: RiskAlertWithdrawn,
}


async def take_supplier_alerts(
    uow: UnitOfWork, records: Sequence[InboundRecord], options: DecisionOptions, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    members = await KnownMembersRepository(uow.conn).known(r.key_text for r in records if r.key_text)
    suppliers: dict[str, Supplier | None] = {}
    for record in records:
        key = record.key_text
        if key in members:
            uow.count_consumed(record.topic, "skipped")
            continue
        if key is not None and key not in suppliers:
            suppliers[key] = await SuppliersRepository(uow.conn).get(key)
        supplier = suppliers.get(key) if key is not None else None
        if supplier is None:
            detail = f"key {key!r} is neither a member nor a supplier"
            uow.quarantine(record, AlertQuarantine.UNKNOWN_REPORTER, detail)
            continue
        event = uow.decode(record, _ALERT_MODELS)
        if event is None:
            continue
        failure = authenticate_supplier_alert(record.header(SIGNATURE_HEADER), record.value or b"", supplier, now)
        if failure is not None:
            uow.quarantine(record, failure.value, f"event {event.id[:64]!r} refused: {failure.value}")
            continue
        model = _ALERT_MODELS[event.type]
        if not await uow.claim(SUPPLIER_INBOX, [f"{supplier.supplier_id}:{event.id}"]):
            uow.count_consumed(record.topic, "duplicate")
            continue
        try:
            data = model.model_validate(event.data)
        except ValidationError as error:
            uow.dead_letter(record, "invalid_payload", validation_summary(error))
            continue
        await _apply(uow, record, options, AlertSource.SUPPLIER, supplier.supplier_id, data, now)


async def take_member_reports(
    uow: UnitOfWork, records: Sequence[InboundRecord], options: DecisionOptions, now: datetime | None = None
) -> None:
    """Members' alerts, authenticated and validated by the members service."""
    now = now or datetime.now(UTC)
    for record in records:
        event = uow.decode(record, _REPORT_MODELS)
        if event is None:
            continue
        model = _REPORT_MODELS[event.type]
        try:
            report = model.model_validate(event.data)
        except ValidationError as error:
            uow.dead_letter(record, "invalid_event", validation_summary(error))
            continue
        if not await uow.claim(MEMBER_INBOX, [event.id]):
            uow.count_consumed(record.topic, "duplicate")
            continue
        if isinstance(report, RiskAlertReported):
            await _apply(uow, record, options, AlertSource.MEMBER, report.reporter_member_id, report.alert, now)
        else:
            assert isinstance(report, RiskAlertWithdrawn)
            resolved = RiskAlertResolved(alert_id=report.alert_id)
            await _apply(uow, record, options, AlertSource.MEMBER, report.reporter_member_id, resolved, now)


async def learn_members(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
    """Remember every member id the registry announces (idempotent, so no inbox)."""
    member_ids = []
    for record in records:
        try:
            event = decode(record.value)
            if event.type not in (MEMBER_REGISTERED, MEMBER_UPDATED):
                uow.count_consumed(record.topic, "skipped")
                continue
            member_ids.append(MemberProfile.model_validate(event.data).member_id)
        except Undecodable as error:
            uow.dead_letter(record, error.reason, error.detail)
            continue
        except ValidationError as error:
            uow.dead_letter(record, "invalid_event", validation_summary(error))
            continue
        uow.count_consumed(record.topic, "processed")
    await KnownMembersRepository(uow.conn).add(member_ids)


async def _apply(
    uow: UnitOfWork,
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
