"""Members' risk alerts from `risk.alerts`: authenticated here, forwarded to procurement.

The topic carries suppliers' alerts too (the key is the reporter): a record whose key is not a
member is procurement's to judge, and skipped here. A member's record is authenticated with its
ERP secret like a purchase request (failures quarantined), deduplicated with the inbox, checked
(dead-lettered when unusable), and forwarded on `alliance.members.risk-reports` keyed by the
member, as `RiskAlertReported` or `RiskAlertWithdrawn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from services.members.adapters.repository import MembersRepository
from services.members.domain.risk import RISK_ALERT_TYPES, assess_alert, authenticate_reporter
from shared import topics
from shared.contract import RiskAlertRaised
from shared.events.members import (
    RISK_ALERT_REPORTED,
    RISK_ALERT_WITHDRAWN,
    SOURCE,
    RiskAlertReported,
    RiskAlertWithdrawn,
)
from shared.messaging.envelope import event_record
from shared.messaging.notices import notice_id
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork
from shared.signing import SIGNATURE_HEADER

INBOX = "members.risk-alerts"


async def forward_member_alerts(
    uow: UnitOfWork, records: Sequence[InboundRecord], topic_prefix: str, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    members = await MembersRepository(uow.conn).get_many(r.key_text for r in records if r.key_text)
    for record in records:
        member = members.get(record.key_text or "")
        if member is None:
            uow.count_consumed(record.topic, "skipped")
            continue
        event = uow.decode(record, RISK_ALERT_TYPES)
        if event is None:
            continue
        failure = authenticate_reporter(record.header(SIGNATURE_HEADER), record.value or b"", member, now)
        if failure is not None:
            uow.quarantine(record, failure.value, f"event {event.id[:64]!r} failed authentication: {failure.value}")
            continue
        # Only authenticated events claim inbox ids, so a forgery can't pre-empt a genuine one.
        cause = f"{member.member_id}:{event.id}"
        if not await uow.claim(INBOX, [cause]):
            uow.count_consumed(record.topic, "duplicate")
            continue
        verdict = assess_alert(event.type, event.data, member)
        if verdict.data is None:
            uow.dead_letter(record, verdict.reason, verdict.detail)
            continue
        if isinstance(verdict.data, RiskAlertRaised):
            event_type = RISK_ALERT_REPORTED
            forwarded: RiskAlertReported | RiskAlertWithdrawn = RiskAlertReported(
                reporter_member_id=member.member_id, alert=verdict.data
            )
        else:
            event_type = RISK_ALERT_WITHDRAWN
            forwarded = RiskAlertWithdrawn(reporter_member_id=member.member_id, alert_id=verdict.data.alert_id)
        uow.publish(
            event_record(
                topic_prefix + topics.RISK_REPORTS,
                member.member_id,
                event_type,
                SOURCE,
                forwarded,
                event_id=notice_id(cause, "risk"),
            )
        )
        uow.count_consumed(record.topic, "processed")
