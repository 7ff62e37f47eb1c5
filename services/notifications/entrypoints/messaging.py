"""What the notifications service consumes: members' profiles, notices to deliver, and
procurement's risk exposure assessments."""

from __future__ import annotations

from collections.abc import Sequence

from services.notifications.service_layer.intake import (
    project_member_profiles,
    store_notice_requests,
)
from services.notifications.service_layer.risk import route_risk_exposures
from services.notifications.service_layer.routing import OfferDue, RoutingPolicy
from shared import topics
from shared.messaging.consumer import Publication, Subscription
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork
from shared.sealing import SecretBox
from shared.settings import Settings


def subscriptions(
    settings: Settings, policy: RoutingPolicy, offer: OfferDue, box: SecretBox
) -> list[Subscription]:
    async def profiles(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
        await project_member_profiles(uow, records, policy, offer, box)

    async def notices(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
        await store_notice_requests(uow, records, policy, offer)

    async def risk_exposures(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
        await route_risk_exposures(uow, records, policy, offer)

    return [
        Subscription(
            topic=settings.topic(topics.MEMBER_EVENTS),
            handler=profiles,
            description="Members' profiles: where and how to reach them (webhook, e-mail, locale)",
        ),
        Subscription(
            topic=settings.topic(topics.MEMBER_NOTICES),
            handler=notices,
            description="What to tell one member: a contract webhook event, stored once and delivered",
        ),
        Subscription(
            topic=settings.topic(topics.PROCUREMENT_EVENTS),
            handler=risk_exposures,
            description="Risk exposure assessments: each alert told once to the exposed and the "
            "interested members, and once more when it is resolved (other events skipped)",
        ),
    ]


def publications(settings: Settings) -> list[Publication]:
    """Notifications publishes no events of its own: members hear from it by webhook and e-mail
    (docs/notifications.md); only unusable records leave it, for the dead-letter topic."""
    return []
