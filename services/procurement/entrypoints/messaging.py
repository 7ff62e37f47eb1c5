"""What the procurement service consumes and publishes. Every instance joins the same consumer
group per subscription (one group per topic: a group spanning two topics rebalances both on
every join)."""

from __future__ import annotations

from collections.abc import Sequence

from services.procurement.service_layer.demand import take_demand
from services.procurement.service_layer.responses import take_responses
from shared import topics
from shared.contract import JointOrderPlaced
from shared.events.notices import MemberNoticeRequested
from shared.events.procurement import JointOrderStatus
from shared.messaging.consumer import Publication, Subscription
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork
from shared.seed import Cycle
from shared.settings import Settings

GROUP = "alliance-procurement"
SEED_DEFAULT_SHARE: float = Cycle.model_fields["max_supplier_share"].default


def subscriptions(settings: Settings, max_supplier_share: float = SEED_DEFAULT_SHARE) -> list[Subscription]:
    """`max_supplier_share` is the seed's; re-sourcing a rejected order applies it too."""
    prefix = settings.topic_prefix

    async def demand(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
        await take_demand(uow, records, prefix)

    async def responses(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
        await take_responses(uow, records, prefix, max_supplier_share)

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
    ]


def publications(settings: Settings) -> list[Publication]:
    return [
        Publication(
            settings.topic(topics.supplier_orders("{supplier_id}")),
            "joint_order.placed to one supplier (contract v1), keyed by supplier_id, signed with the "
            "supplier's secret in the alliance-signature header (extension)",
            JointOrderPlaced,
        ),
        Publication(
            settings.topic(topics.MEMBER_NOTICES),
            "What to tell a member about its own request (ordered, confirmed, resourced, "
            "unfulfillable, cancelled, rejected), keyed by member",
            MemberNoticeRequested,
        ),
        Publication(
            settings.topic(topics.PROCUREMENT_EVENTS),
            "alliance.joint_order.placed|confirmed|rejected|escalated (this schema, keyed by "
            "supplier_id), alliance.catalog_item.listed (keyed by sku) and alliance.cycle.closed "
            "(keyed by cycle_id); models in shared/events/procurement.py",
            JointOrderStatus,
        ),
    ]
