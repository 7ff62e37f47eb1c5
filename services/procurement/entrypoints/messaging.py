"""What the procurement service consumes and publishes. Every instance joins the service's one
consumer group, which covers all of these topics."""

from __future__ import annotations

from collections.abc import Sequence

from services.procurement.service_layer.demand import take_demand
from services.procurement.service_layer.resourcing import DecisionOptions
from services.procurement.service_layer.responses import take_responses
from services.procurement.service_layer.risk_intake import learn_members, take_member_reports, take_supplier_alerts
from shared import topics
from shared.contract import JointOrderCancelled, JointOrderPlaced
from shared.events.notices import MemberNoticeRequested
from shared.events.procurement import JointOrderStatus, RiskExposureAssessed
from shared.messaging.consumer import Publication, Subscription
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork
from shared.seed import Cycle
from shared.settings import Settings

SEED_DEFAULT_SHARE: float = Cycle.model_fields["max_supplier_share"].default


def subscriptions(settings: Settings, max_supplier_share: float = SEED_DEFAULT_SHARE) -> list[Subscription]:
    """`max_supplier_share` is the seed's; re-sourcing an order applies it too."""
    prefix = settings.topic_prefix
    options = DecisionOptions(prefix, max_supplier_share, settings.risk_corroboration_members)

    async def demand(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
        await take_demand(uow, records, prefix)

    async def responses(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
        await take_responses(uow, records, options)

    async def supplier_alerts(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
        await take_supplier_alerts(uow, records, options)

    async def member_reports(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
        await take_member_reports(uow, records, options)

    return [
        Subscription(
            topic=settings.topic(topics.ADMITTED_REQUESTS),
            handler=demand,
            description="Admitted purchase requests and withdrawals from the members service",
        ),
        Subscription(
            topic=settings.topic(topics.SUPPLIER_RESPONSES),
            handler=responses,
            description="Signed confirmations and rejections of joint orders from suppliers (contract v1)",
        ),
        Subscription(
            topic=settings.topic(topics.RISK_ALERTS),
            handler=supplier_alerts,
            description="Suppliers' signed risk_alert.raised / .resolved (contract v1); records keyed by "
            "a member are the members service's, others are quarantined as unknown_reporter",
        ),
        Subscription(
            topic=settings.topic(topics.RISK_REPORTS),
            handler=member_reports,
            description="Members' authenticated risk alerts (alliance.risk_alert.reported / .withdrawn)",
        ),
        Subscription(
            topic=settings.topic(topics.MEMBER_EVENTS),
            handler=learn_members,
            description="The members' ids (alliance.member.registered / .updated), to tell reporters apart",
        ),
    ]


def publications(settings: Settings) -> list[Publication]:
    return [
        Publication(
            settings.topic(topics.supplier_orders("{supplier_id}")),
            "joint_order.placed to one supplier, and joint_order.cancelled when a critical risk alert "
            "covers an order it has not confirmed (contract v1), keyed by supplier_id, signed with the "
            "supplier's secret in the alliance-signature header (extension)",
            JointOrderPlaced | JointOrderCancelled,  # type: ignore[arg-type]
        ),
        Publication(
            settings.topic(topics.MEMBER_NOTICES),
            "What to tell a member about its own request (ordered, confirmed, resourced, "
            "unfulfillable, cancelled, rejected), keyed by member",
            MemberNoticeRequested,
        ),
        Publication(
            settings.topic(topics.PROCUREMENT_EVENTS),
            "alliance.joint_order.placed|confirmed|rejected|escalated|cancelled (keyed by supplier_id), "
            "alliance.risk_alert.exposure_assessed (keyed by the alert's key: the members exposed to a "
            "risk alert when it is raised and when it ends, never who raised it), "
            "alliance.catalog_item.listed (keyed by sku) and alliance.cycle.closed (keyed by cycle_id); "
            "models in shared/events/procurement.py",
            JointOrderStatus | RiskExposureAssessed,  # type: ignore[arg-type]
        ),
    ]
