"""Members' risk alerts from `risk.alerts`: authenticated here, forwarded to procurement.

The topic carries suppliers' alerts too (the key is the reporter): a record whose key is not a
member is procurement's to judge, and skipped here. A member's record is authenticated with its
ERP secret like a purchase request (failures quarantined), deduplicated with the inbox, checked
(dead-lettered when unusable), and forwarded on `alliance.members.risk-reports` keyed by the
member, as `RiskAlertReported` or `RiskAlertWithdrawn`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from services.members.domain.members import Member
from services.members.domain.risk import assess_alert, authenticate_reporter
from services.members.service_layer.admission import members_by_key
from services.members.service_layer.unit_of_work import MembersUnitOfWork
from shared import topics
from shared.contract import CloudEvent, RiskAlertRaised
from shared.events.members import (
    RISK_ALERT_REPORTED,
    RISK_ALERT_WITHDRAWN,
    SOURCE,
    RiskAlertReported,
    RiskAlertWithdrawn,
)
from shared.messaging.envelope import event_record
from shared.messaging.intake import Command, Signed
from shared.messaging.notices import notice_id
from shared.messaging.records import InboundRecord
from shared.reasons import QuarantineReason
from shared.signing import SIGNATURE_HEADER

INBOX = "members.risk-alerts"


async def not_members(uow: MembersUnitOfWork, keys: set[str], members: Mapping[str, Member]) -> set[str]:
    """Keys naming no member: suppliers' records, procurement's to judge."""
    return keys - members.keys()


def _signed_by_its_member(record: InboundRecord, event: CloudEvent, member: Member | None, now: datetime) -> str | None:
    if member is None:
        return QuarantineReason.UNKNOWN_MEMBER
    return authenticate_reporter(record.header(SIGNATURE_HEADER), record.value or b"", member, now)


SIGNED_BY_REPORTING_MEMBERS = Signed(members_by_key, _signed_by_its_member, lambda m: m.member_id, not_members)


async def forward_member_alerts(uow: MembersUnitOfWork, commands: list[Command]) -> None:
    for command in commands:
        member: Member = command.sender
        verdict = assess_alert(command.event.type, command.data, member)
        if verdict.data is None:
            uow.dead_letter(command.record, verdict.reason, verdict.detail)
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
                topics.RISK_REPORTS,
                member.member_id,
                event_type,
                SOURCE,
                forwarded,
                event_id=notice_id(command.cause, "risk"),
            )
        )
        uow.count_consumed(command.record.topic, "processed")
