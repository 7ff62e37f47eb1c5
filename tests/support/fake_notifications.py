"""The notifications service's unit of work in memory: the repository methods that storing and
routing notices use, with the semantics of `services/notifications/adapters/repository.py`
(same names, same domain objects). Delivery times stay None here: the database's clock decides
them (`clock_timestamp()`), which the integration tests cover."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from services.notifications.adapters.repository import NewDelivery
from services.notifications.domain.notices import Channel, DeliveryStatus, MemberChannels, Notice
from services.notifications.domain.preferences import Preferences
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared.events.members import MemberProfile
from tests.support.fake_unit_of_work import FakeUnitOfWork


@dataclass(slots=True)
class StoredNotice:
    """A row of `notices`: routed once a channel carries it or a suppression decided it."""

    notice: Notice
    routed: bool = False
    suppressed: str | None = None


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A row of `deliveries`, as routing writes it."""

    delivery_id: int
    member_id: str
    status: DeliveryStatus
    not_before: datetime | None


@dataclass(slots=True)
class NotificationsTables:
    channels: dict[str, tuple[MemberChannels, datetime]] = field(default_factory=dict)
    """member -> (channels, the time of the profile event they come from)."""
    preferences: dict[str, Preferences] = field(default_factory=dict)
    notices: dict[str, StoredNotice] = field(default_factory=dict)
    """In the order they were stored."""
    deliveries: dict[tuple[str, Channel], StoredDelivery] = field(default_factory=dict)


class FakeMemberChannelsRepository:
    def __init__(self, tables: NotificationsTables) -> None:
        self._tables = tables

    async def upsert(self, profiles: Sequence[tuple[MemberProfile, str | None, datetime]]) -> None:
        for p, webhook_secret, at in profiles:
            known = self._tables.channels.get(p.member_id)
            if known is not None and known[1] > at:
                continue
            channels = MemberChannels(
                member_id=p.member_id, name=p.name, locale=p.locale, email=p.email, webhook_url=p.webhook_url,
                webhook_secret=webhook_secret, declared_min_risk_severity=p.interests.min_risk_severity,
                interest_categories=frozenset(p.interests.categories), active=p.status == "active",
            )
            self._tables.channels[p.member_id] = (channels, at)

    async def get_many_with_preferences(
        self, member_ids: Iterable[str]
    ) -> dict[str, tuple[MemberChannels, Preferences]]:
        tables = self._tables
        return {
            i: (tables.channels[i][0], tables.preferences.get(i, Preferences()))
            for i in set(member_ids)
            if i in tables.channels
        }


class FakePreferencesRepository:
    def __init__(self, tables: NotificationsTables) -> None:
        self._tables = tables

    async def save(self, member_id: str, preferences: Preferences) -> None:
        self._tables.preferences[member_id] = preferences


class FakeNoticesRepository:
    def __init__(self, tables: NotificationsTables) -> None:
        self._tables = tables

    async def add(self, notices: Sequence[Notice]) -> list[Notice]:
        unique = list({n.notice_id: n for n in notices}.values())
        stored = [n for n in unique if n.notice_id not in self._tables.notices]
        self._tables.notices.update((n.notice_id, StoredNotice(n)) for n in stored)
        return stored

    async def unrouted(self, member_ids: Iterable[str] | None, limit: int) -> list[Notice]:
        wanted = None if member_ids is None else set(member_ids)
        waiting = [
            stored.notice
            for stored in self._tables.notices.values()
            if not stored.routed
            and stored.notice.member_id in self._tables.channels
            and (wanted is None or stored.notice.member_id in wanted)
        ]
        return waiting[:limit]


class FakeDeliveriesRepository:
    def __init__(self, tables: NotificationsTables) -> None:
        self._tables = tables

    async def add(
        self, deliveries: Sequence[NewDelivery], horizon_s: float, routed: Sequence[tuple[str, str | None]]
    ) -> dict[tuple[str, Channel], int]:
        tables = self._tables
        for notice_id, reason in routed:
            if notice_id in tables.notices:
                tables.notices[notice_id].routed = True
                tables.notices[notice_id].suppressed = reason
        added = {}
        for d in deliveries:
            key = (d.notice_id, d.channel)
            if key not in tables.deliveries:
                tables.deliveries[key] = StoredDelivery(len(tables.deliveries) + 1, d.member_id, d.status, d.not_before)
                added[key] = tables.deliveries[key].delivery_id
        return added


class FakeNotificationsUnitOfWork(FakeUnitOfWork, NotificationsUnitOfWork):
    stores = ("tables", "channels", "preferences", "notices", "deliveries")

    def __init__(self, topic_prefix: str = "") -> None:
        super().__init__(topic_prefix)
        self.tables = NotificationsTables()
        self.channels = FakeMemberChannelsRepository(self.tables)  # type: ignore[assignment]
        self.preferences = FakePreferencesRepository(self.tables)  # type: ignore[assignment]
        self.notices = FakeNoticesRepository(self.tables)  # type: ignore[assignment]
        self.deliveries = FakeDeliveriesRepository(self.tables)  # type: ignore[assignment]
