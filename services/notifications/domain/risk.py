"""Who hears of a risk alert, and what each one is told.

When an alert is raised, every exposed member is told, with its own affected requests only,
and so is every active member whose interests include one of the alert's categories and whose
minimum risk severity the alert reaches (with no request ids). Nobody else: a suspended member
hears of an alert only when its own requests are exposed. When it is
resolved, the members told of it are told once more.

A notice is built field by field from the alert's own description, so whatever else an
exposure event might carry (who reported it, other members) cannot reach a member. Its id
derives from (member, alert, status): a repeated exposure event stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from services.notifications.domain.notices import MemberChannels, Notice
from services.notifications.domain.preferences import Preferences, reaches, risk_threshold
from shared.contract import EventType, RiskAlertNotice
from shared.events.procurement import RiskExposureAssessed
from shared.messaging.notices import notice_id


@dataclass(frozen=True, slots=True)
class Recipient:
    member_id: str
    affected_request_ids: tuple[str, ...]
    """The member's own requests inside the alert's scope; none when told out of interest."""


def exposed_members(exposure: RiskExposureAssessed) -> list[Recipient]:
    """Each exposed member once, with all its listed requests (a member listed twice is merged)."""
    requests: dict[str, dict[str, None]] = {}
    for member in exposure.exposed:
        requests.setdefault(member.member_id, {}).update(
            dict.fromkeys(member.affected_request_ids)
        )
    return [Recipient(member_id, tuple(ids)) for member_id, ids in requests.items()]


def raised_audience(
    exposure: RiskExposureAssessed,
    interested: Iterable[tuple[MemberChannels, Preferences]],
) -> list[Recipient]:
    """The exposed members, then the interested ones the alert is severe enough for."""
    exposed = exposed_members(exposure)
    already = {recipient.member_id for recipient in exposed}
    categories = set(exposure.categories)
    return exposed + [
        Recipient(member.member_id, ())
        for member, preferences in interested
        if member.member_id not in already
        and member.active
        and member.interest_categories & categories
        and reaches(exposure.severity, risk_threshold(member, preferences))
    ]


def risk_notice(
    exposure: RiskExposureAssessed, recipient: Recipient, occurred_at: datetime
) -> Notice:
    """The `risk_alert.notice` for one member, naming only that member's own requests."""
    data = RiskAlertNotice(
        alert_id=exposure.alert_id,
        kind=exposure.kind,
        severity=exposure.severity,
        supplier_id=exposure.supplier_id,
        sku=exposure.sku,
        region=exposure.region,
        summary=exposure.summary,
        affected_request_ids=list(recipient.affected_request_ids),
        status=exposure.status,
    )
    return Notice(
        notice_id=notice_id(
            recipient.member_id, EventType.RISK_ALERT_NOTICE, exposure.alert_id, exposure.status
        ),
        member_id=recipient.member_id,
        notice_type=EventType.RISK_ALERT_NOTICE,
        data=data.model_dump(mode="json"),
        occurred_at=occurred_at,
    )
