"""What the members service consumes: decode nothing here, hand the batch to the handler."""

from __future__ import annotations

from services.members.service_layer.admission import admit_batch
from shared import topics
from shared.messaging.consumer import Subscription
from shared.settings import Settings

GROUP = "alliance-members"


def subscriptions(settings: Settings) -> list[Subscription]:
    prefix = settings.topic_prefix

    async def admit(uow, records):  # type: ignore[no-untyped-def]
        await admit_batch(uow, records, prefix)

    return [
        Subscription(
            topic=settings.topic(topics.PURCHASE_REQUESTS),
            group_id=GROUP,
            handler=admit,
            description="Signed purchase requests and cancellations from member ERPs (contract v1)",
        )
    ]
