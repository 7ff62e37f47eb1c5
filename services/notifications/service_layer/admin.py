"""Admin commands: preferences, and sending a dead notice again or giving it up."""

from __future__ import annotations

from services.notifications.domain.preferences import Preferences
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork


class UnknownMember(Exception):
    pass


class UnknownNotice(Exception):
    pass


class NotDead(Exception):
    """The notice has no dead delivery: it was delivered, or is still being tried."""


async def set_preferences(uow: NotificationsUnitOfWork, member_id: str, preferences: Preferences) -> Preferences:
    if member_id not in await uow.channels.get_many([member_id]):
        raise UnknownMember(member_id)
    await uow.preferences.save(member_id, preferences)
    return preferences


async def retry_notice(uow: NotificationsUnitOfWork, notice_id: str, horizon_s: float) -> int:
    """Put the notice's dead deliveries back in line with a fresh retry horizon; returns how many."""
    if await uow.notices.get(notice_id) is None:
        raise UnknownNotice(notice_id)
    requeued = await uow.deliveries.requeue_dead(notice_id, horizon_s)
    if requeued == 0:
        raise NotDead(notice_id)
    return requeued


async def discard_notice(uow: NotificationsUnitOfWork, notice_id: str) -> int:
    """Stop counting a dead notice as owed, once the member has been told another way."""
    if await uow.notices.get(notice_id) is None:
        raise UnknownNotice(notice_id)
    discarded = await uow.deliveries.discard_dead(notice_id)
    if discarded == 0:
        raise NotDead(notice_id)
    return discarded
