"""The notifications service's unit of work: one transaction over its repositories and its outbox."""

from __future__ import annotations

import asyncpg

from services.notifications.adapters.repository import (
    DeliveriesRepository,
    MemberChannelsRepository,
    NoticesRepository,
    PreferencesRepository,
    RiskRecipientsRepository,
)
from shared.messaging.unit_of_work import UnitOfWork


class NotificationsUnitOfWork(UnitOfWork):
    channels: MemberChannelsRepository
    preferences: PreferencesRepository
    notices: NoticesRepository
    risk_recipients: RiskRecipientsRepository
    deliveries: DeliveriesRepository

    def _open(self, conn: asyncpg.Connection) -> None:
        self.channels = MemberChannelsRepository(conn)
        self.preferences = PreferencesRepository(conn)
        self.notices = NoticesRepository(conn)
        self.risk_recipients = RiskRecipientsRepository(conn)
        self.deliveries = DeliveriesRepository(conn)
