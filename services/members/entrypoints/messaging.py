"""What the members service consumes: decode nothing here, hand the batch to the handler."""

from __future__ import annotations

from services.members.service_layer.admission import admit_batch
from services.members.service_layer.catalog import learn_catalog_batch
from services.members.service_layer.risk import forward_member_alerts
from shared import topics
from shared.events.members import MemberProfile, PurchaseRequestAdmitted, RiskAlertReported
from shared.events.notices import MemberNoticeRequested
from shared.messaging.consumer import Publication, Subscription
from shared.settings import Settings



def subscriptions(settings: Settings) -> list[Subscription]:
    prefix = settings.topic_prefix

    async def admit(uow, records):  # type: ignore[no-untyped-def]
        await admit_batch(uow, records, prefix)

    async def risk_alerts(uow, records):  # type: ignore[no-untyped-def]
        await forward_member_alerts(uow, records, prefix)

    return [
        Subscription(
            topic=settings.topic(topics.PURCHASE_REQUESTS),
            handler=admit,
            description="Signed purchase requests and cancellations from member ERPs (contract v1)",
        ),
        Subscription(
            topic=settings.topic(topics.PROCUREMENT_EVENTS),
            handler=learn_catalog_batch,
            description="The catalog's SKUs (alliance.catalog_item.listed), so unknown SKUs are refused",
        ),
        Subscription(
            topic=settings.topic(topics.RISK_ALERTS),
            handler=risk_alerts,
            description="Members' signed risk_alert.raised / .resolved (contract v1); records keyed by "
            "anyone else are procurement's",
        ),
    ]


def publications(settings: Settings) -> list[Publication]:
    return [
        Publication(
            settings.topic(topics.ADMITTED_REQUESTS),
            "Admitted requests for procurement (alliance.purchase_request.admitted, keyed by SKU) and "
            "the command alliance.purchase_request.withdraw when a member cancels",
            PurchaseRequestAdmitted,
        ),
        Publication(
            settings.topic(topics.MEMBER_EVENTS),
            "The registry's changes (alliance.member.registered / .updated), keyed by member",
            MemberProfile,
        ),
        Publication(
            settings.topic(topics.MEMBER_NOTICES),
            "What to tell a member about its own request (accepted, rejected), keyed by member",
            MemberNoticeRequested,
        ),
        Publication(
            settings.topic(topics.RISK_REPORTS),
            "Members' authenticated risk alerts for procurement (alliance.risk_alert.reported, and "
            "alliance.risk_alert.withdrawn for a resolution), keyed by the reporting member",
            RiskAlertReported,
        ),
    ]
