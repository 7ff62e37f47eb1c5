"""What the notifications service consumes: members' profiles, notices to deliver, and
procurement's risk exposure assessments."""

from __future__ import annotations

from functools import partial

from services.notifications.service_layer.intake import project_member_profiles, store_notice_requests
from services.notifications.service_layer.risk import route_risk_exposures
from services.notifications.service_layer.routing import OfferDue, RoutingPolicy
from shared import topics
from shared.events.members import MEMBER_REGISTERED, MEMBER_UPDATED, MemberProfile
from shared.events.notices import (
    MEMBER_NOTICE_REQUESTED,
    MEMBER_NOTICES_REQUESTED,
    MemberNoticeRequested,
    MemberNoticesRequested,
)
from shared.events.procurement import RISK_EXPOSURE_ASSESSED, RiskExposureAssessed
from shared.messaging.consumer import Publication, Subscription
from shared.messaging.intake import Accept, Intake, OtherTypes
from shared.sealing import SecretBox
from shared.settings import Settings


def subscriptions(settings: Settings, policy: RoutingPolicy, offer: OfferDue, box: SecretBox) -> list[Subscription]:
    intakes = [
        Intake(
            topic=settings.topic(topics.MEMBER_EVENTS),
            description="Members' profiles: where and how to reach them (webhook, e-mail, locale)",
            accepts={
                MEMBER_REGISTERED: Accept(MemberProfile, once=False),
                MEMBER_UPDATED: Accept(MemberProfile, once=False),
            },
            handler=partial(project_member_profiles, policy=policy, offer=offer, box=box),
            other_types=OtherTypes.SKIP,
        ),
        Intake(
            topic=settings.topic(topics.MEMBER_NOTICES),
            description="What to tell one member: a contract webhook event, stored once and delivered",
            accepts={
                MEMBER_NOTICE_REQUESTED: Accept(MemberNoticeRequested, once=False),
                MEMBER_NOTICES_REQUESTED: Accept(MemberNoticesRequested, once=False),
            },
            handler=partial(store_notice_requests, policy=policy, offer=offer),
        ),
        Intake(
            topic=settings.topic(topics.PROCUREMENT_EVENTS),
            description="Risk exposure assessments: each alert told once to the exposed and the "
            "interested members, and once more when it is resolved (other events skipped)",
            accepts={RISK_EXPOSURE_ASSESSED: Accept(RiskExposureAssessed, once=False)},
            handler=partial(route_risk_exposures, policy=policy, offer=offer),
            other_types=OtherTypes.SKIP,
        ),
    ]
    return [intake.subscription() for intake in intakes]


def publications(settings: Settings) -> list[Publication]:
    """Notifications publishes no events of its own: members hear from it by webhook and e-mail
    (docs/notifications.md); only unusable records leave it, for the dead-letter topic."""
    return []
