"""Admin commands: preferences, and sending a dead notice again or giving it up."""

from __future__ import annotations

from services.notifications.adapters.repository import (
    DeliveriesRepository,
    MemberChannelsRepository,
    NoticesRepository,
    PreferencesRepository,
)
from services.notifications.domain.preferences import Preferences
from shared.messaging.unit_of_work import UnitOfWork


class UnknownMember(Exception):
    pass


class UnknownNotice(Exception):
    pass


class NotDead(Exception):
    """The notice has no dead delivery: it was delivered, or is still being tried."""


async def set_preferences(uow: UnitOfWork, member_id: str, preferences: Preferences) -> Preferences:
    if member_id not in await MemberChannelsRepository(uow.conn).get_many([member_id]):
        raise UnknownMember(member_id)
    await PreferencesRepository(uow.conn).save(member_id, preferences)
    return preferences


async def retry_notice(uow: UnitOfWork, notice_id: str, horizon_s: float) -> int:
    """Put the notice's dead deliveries back in line with a fresh retry horizon; returns how many."""
    if await NoticesRepository(uow.conn).get(notice_id) is None:
        raise UnknownNotice(notice_id)
    requeued = await DeliveriesRepository(uow.conn).requeue_dead(notice_id, horizon_s)
    if requeued == 0:
        raise NotDead(notice_id)
    return requeued


async def discard_notice(uow: UnitOfWork, notice_id: str) -> int:
    """Stop counting a dead notice as owed, once the member has been told another way."""
    if await NoticesRepository(uow.conn).get(notice_id) is None:
        raise UnknownNotice(notice_id)
    discarded = await DeliveriesRepository(uow.conn).discard_dead(notice_id)
    if discarded == 0:
        raise NotDead(notice_id)
    return discarded
