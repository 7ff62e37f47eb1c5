"""Turning procurement's risk exposure assessments into `risk_alert.notice`s.

Procurement publishes, per alert, who is exposed when it is raised and when it is resolved.
Notifications adds who is interested, stores one notice per member and status, remembers who
was told, and routes the notices like any other (preferences, channels, delivery).
Procurement's other events on the topic are not for notifications.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.notifications.adapters.repository import (
    DueDelivery,
)
from services.notifications.domain.notices import MemberChannels, Notice
from services.notifications.domain.preferences import Preferences
from services.notifications.domain.risk import raised_audience, risk_notice
from services.notifications.service_layer.routing import OfferDue, RoutingPolicy, route_notices
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared.events.procurement import RiskExposureAssessed
from shared.messaging.intake import Command


async def route_risk_exposures(
    uow: NotificationsUnitOfWork, commands: list[Command], policy: RoutingPolicy, offer: OfferDue
) -> None:
    """One assessment at a time, so a resolution finds who its alert's raising told."""
    due: list[DueDelivery] = []
    for command in commands:
        concerned, stored = await tell(uow, command.data, command.event.time)
        uow.count_consumed(command.record.topic, "duplicate" if concerned and not stored else "processed")
        if stored:
            due += await route_notices(uow, stored, policy)
    if due:
        uow.after_commit(lambda: offer(due))


async def tell(
    uow: NotificationsUnitOfWork, exposure: RiskExposureAssessed, occurred_at: datetime
) -> tuple[int, list[Notice]]:
    """Store the assessment's notices that were not stored before.

    Returns how many members it concerns and the newly stored notices (none when it came before).
    """
    recipients = uow.risk_recipients
    if exposure.status == "resolved":
        audience = await recipients.told_of(exposure.alert_id)
    else:
        audience = raised_audience(exposure, await _interested(uow, exposure.categories))
    stored = await uow.notices.add(
        [risk_notice(exposure, recipient, occurred_at) for recipient in audience]
    )
    if exposure.status == "raised":
        told = {notice.member_id: notice.notice_id for notice in stored}
        await recipients.add(
            exposure.alert_id, [(r, told[r.member_id]) for r in audience if r.member_id in told]
        )
    return len(audience), stored


async def _interested(
    uow: NotificationsUnitOfWork, categories: Iterable[str]
) -> list[tuple[MemberChannels, Preferences]]:
    members = await uow.channels.interested_in(categories)
    preferences = await uow.preferences.get_many(m.member_id for m in members)
    return [(member, preferences[member.member_id]) for member in members]
