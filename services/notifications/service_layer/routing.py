"""Turning stored notices into deliveries, by the member's channels and preferences.

A notice whose member is not known yet (its profile event not consumed yet) stays unrouted
and is routed as soon as the profile arrives; a background sweep catches any that a race
between the two consumers left behind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from services.notifications.adapters.repository import (
    DueDelivery,
    NewDelivery,
    endpoint_of,
)
from services.notifications.domain.notices import Channel, DeliveryStatus, Notice
from services.notifications.domain.preferences import DigestSchedule, Suppression, route
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork

SWEEP_BATCH = 1000

OfferDue = Callable[[Sequence[DueDelivery]], None]
"""Hands deliveries that are due now to this instance's dispatcher, once their transaction has
committed, so they go out without waiting for it to look in the database."""


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    horizon_s: float
    email_enabled: bool
    digest: DigestSchedule


async def route_notices(
    uow: NotificationsUnitOfWork, notices: Sequence[Notice], policy: RoutingPolicy
) -> list[DueDelivery]:
    """Create the deliveries of the notices whose member is known; returns those due now."""
    members = await uow.channels.get_many_with_preferences(
        n.member_id for n in notices
    )
    known = [n for n in notices if n.member_id in members]
    digest_at = policy.digest.next_after(datetime.now(UTC))
    deliveries: list[NewDelivery] = []
    outcomes: list[tuple[str, str | None]] = []
    for notice in known:
        member, preferences = members[notice.member_id]
        decision = route(
            notice.notice_type, notice.data, member, preferences, policy.email_enabled
        )
        if isinstance(decision, Suppression):
            outcomes.append((notice.notice_id, decision.value))
            continue
        outcomes.append((notice.notice_id, None))
        for choice in decision:
            held = choice.held_for_digest
            deliveries.append(
                NewDelivery(
                    notice_id=notice.notice_id,
                    member_id=notice.member_id,
                    channel=choice.channel,
                    status=DeliveryStatus.HELD if held else DeliveryStatus.PENDING,
                    not_before=digest_at if held else None,
                )
            )
    added = await uow.deliveries.add(deliveries, policy.horizon_s, outcomes)
    return [
        DueDelivery(added[key], endpoint_of(d.channel, members[d.member_id][0]))
        for d in deliveries
        if d.status is DeliveryStatus.PENDING and (key := (d.notice_id, d.channel)) in added
    ]


async def route_waiting(
    uow: NotificationsUnitOfWork, policy: RoutingPolicy, member_ids: Sequence[str] | None = None
) -> list[DueDelivery]:
    """Route notices that arrived before their member's profile (of `member_ids`, or of anyone)."""
    waiting = await uow.notices.unrouted(member_ids, SWEEP_BATCH)
    return await route_notices(uow, waiting, policy) if waiting else []


def email_delivery(notice: Notice) -> NewDelivery:
    """A digest is e-mail only and due at once: it was the held notices' scheduled time."""
    return NewDelivery(
        notice.notice_id, notice.member_id, Channel.EMAIL, DeliveryStatus.PENDING, None
    )
