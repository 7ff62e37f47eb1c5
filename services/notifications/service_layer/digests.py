"""The daily digest: a member's held informational notices become one e-mail.

The digest is stored as a notice of its own (type `alliance.notice_digest`) carrying copies
of the held notices, so it is delivered, retried, logged and retried by admins like any other.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from services.notifications.adapters.repository import (
    DueDigestItem,
)
from services.notifications.domain.notices import DIGEST_TYPE, Notice
from services.notifications.service_layer.routing import RoutingPolicy, email_delivery
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared.messaging.notices import notice_id

DIGEST_BATCH = 5000


def digest_notice(member_id: str, items: list[DueDigestItem], now: datetime) -> Notice:
    """Its id derives from the notices it carries: taking the same ones again makes the same digest."""
    bundled = [item.notice for item in items]
    return Notice(
        notice_id=notice_id(member_id, DIGEST_TYPE, *sorted(n.notice_id for n in bundled)),
        member_id=member_id,
        notice_type=DIGEST_TYPE,
        data={
            "notices": [
                {
                    "notice_id": n.notice_id,
                    "notice_type": n.notice_type,
                    "data": n.data,
                    "occurred_at": n.occurred_at.isoformat(),
                }
                for n in bundled
            ]
        },
        occurred_at=now,
    )


def bundled_notices(digest: Notice) -> list[Notice]:
    return [
        Notice(
            notice_id=item["notice_id"],
            member_id=digest.member_id,
            notice_type=item["notice_type"],
            data=item["data"],
            occurred_at=datetime.fromisoformat(item["occurred_at"]),
        )
        for item in digest.data["notices"]
    ]


async def make_due_digests(uow: NotificationsUnitOfWork, policy: RoutingPolicy) -> int:
    """Bundle every held notice whose digest time has come; returns how many digests were made."""
    items = await uow.deliveries.take_due_digests(DIGEST_BATCH)
    by_member: dict[str, list[DueDigestItem]] = defaultdict(list)
    for item in items:
        by_member[item.member_id].append(item)
    now = datetime.now(UTC)
    digests = [
        digest_notice(member_id, member_items, now) for member_id, member_items in by_member.items()
    ]
    await uow.notices.add(digests)
    await uow.deliveries.add(
        [email_delivery(d) for d in digests],
        policy.horizon_s,
        routed=[(d.notice_id, None) for d in digests],
    )
    for digest, member_items in zip(digests, by_member.values(), strict=True):
        await uow.deliveries.mark_digested(
            [i.delivery_id for i in member_items], digest.notice_id
        )
    return len(digests)
