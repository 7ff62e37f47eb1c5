"""What the members service consumes, declared: each topic's event types, senders and handler."""

from __future__ import annotations

from services.members.service_layer import admission, risk
from services.members.service_layer.admission import admit
from services.members.service_layer.catalog import learn_catalog
from services.members.service_layer.risk import forward_member_alerts
from shared import topics
from shared.contract import EventType
from shared.events.members import MemberProfile, PurchaseRequestAdmitted, RiskAlertReported
from shared.events.notices import MemberNoticeRequested
from shared.events.procurement import CATALOG_ITEM_LISTED, CatalogItemListed
from shared.messaging.consumer import Publication, Subscription
from shared.messaging.intake import Accept, Intake, OtherTypes
from shared.settings import Settings


def subscriptions(settings: Settings) -> list[Subscription]:
    intakes = [
        Intake(
            topic=settings.topic(topics.PURCHASE_REQUESTS),
            description="Signed purchase requests and cancellations (contract v1) and goods receipts "
            "(purchase_request.received, v1.1) from member ERPs",
            accepts={
                EventType.PURCHASE_REQUEST_SUBMITTED: Accept(None),
                EventType.PURCHASE_REQUEST_CANCELLED: Accept(None),
                EventType.PURCHASE_REQUEST_RECEIVED: Accept(None),
            },
            handler=admit,
            inbox=admission.INBOX,
            signed=admission.SIGNED_BY_MEMBERS,
        ),
        Intake(
            topic=settings.topic(topics.PROCUREMENT_EVENTS),
            description="The catalog's SKUs (alliance.catalog_item.listed), so unknown SKUs are refused",
            accepts={CATALOG_ITEM_LISTED: Accept(CatalogItemListed, once=False)},
            handler=learn_catalog,
            other_types=OtherTypes.SKIP,
        ),
        Intake(
            topic=settings.topic(topics.RISK_ALERTS),
            description="Members' signed risk_alert.raised / .resolved (contract v1); records keyed by "
            "anyone else are procurement's",
            accepts={EventType.RISK_ALERT_RAISED: Accept(None), EventType.RISK_ALERT_RESOLVED: Accept(None)},
            handler=forward_member_alerts,
            inbox=risk.INBOX,
            signed=risk.SIGNED_BY_REPORTING_MEMBERS,
        ),
    ]
    return [intake.subscription() for intake in intakes]


def publications(settings: Settings) -> list[Publication]:
    return [
        Publication(
            settings.topic(topics.ADMITTED_REQUESTS),
            "Admitted requests for procurement (alliance.purchase_request.admitted, keyed by SKU), "
            "the command alliance.purchase_request.withdraw when a member cancels, and members' "
            "authenticated goods receipts (alliance.purchase_request.received, keyed by the request's SKU)",
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
