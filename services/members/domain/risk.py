"""Members' risk alerts on `risk.alerts`: the checks before they go to procurement.

Pure: given one decoded record and the member its key names, decide. The order is the same as
for purchase requests: authentication first (a failure is quarantined), then what an
authenticated member may send. A risk alert has no notice to reject it with, so an
authenticated but unusable one is dead-lettered with its reason for ops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from services.members.domain.members import Member, MemberStatus
from shared.contract import EventType, RiskAlertRaised, RiskAlertResolved
from shared.messaging.envelope import validation_summary
from shared.reasons import QuarantineReason
from shared.signing import signed_by

RISK_ALERT_TYPES: dict[str, type[BaseModel]] = {
    EventType.RISK_ALERT_RAISED: RiskAlertRaised,
    EventType.RISK_ALERT_RESOLVED: RiskAlertResolved,
}


def authenticate_reporter(
    signature_header: bytes | None, body: bytes, member: Member, now: datetime
) -> QuarantineReason | None:
    """The member the key names signed these exact bytes (current ERP secret, or the previous
    one during its rotation grace, within 300 s). The data names no member to compare."""
    return signed_by(member, signature_header, body, now)


@dataclass(frozen=True, slots=True)
class AlertVerdict:
    """Either the validated alert (`data`) to forward, or why it is dead-lettered."""

    data: RiskAlertRaised | RiskAlertResolved | None = None
    reason: str = ""
    detail: str = ""


def assess_alert(event_type: str, data: dict[str, Any], member: Member) -> AlertVerdict:
    """Decide an authenticated member's `risk_alert.raised` or `.resolved` (a suspended member
    may still end its own alerts, but raises none)."""
    if member.status is MemberStatus.SUSPENDED and event_type == EventType.RISK_ALERT_RAISED:
        return AlertVerdict(reason="member_suspended", detail="the member is suspended; it raises no alerts")
    try:
        validated = RISK_ALERT_TYPES[event_type].model_validate(data)
    except ValidationError as error:
        return AlertVerdict(reason="invalid_payload", detail=validation_summary(error))
    assert isinstance(validated, RiskAlertRaised | RiskAlertResolved)
    return AlertVerdict(data=validated)
