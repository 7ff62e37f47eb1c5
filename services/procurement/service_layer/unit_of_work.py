"""Procurement's unit of work: one transaction over its repositories and its outbox."""

from __future__ import annotations

import asyncpg

from services.procurement.adapters.alerts import AlertsRepository, KnownMembersRepository
from services.procurement.adapters.buffers import BuffersRepository
from services.procurement.adapters.fulfilment import FulfilmentRepository, PerformanceRepository
from services.procurement.adapters.parties import PartiesRepository
from services.procurement.adapters.repository import (
    CyclesRepository,
    OrdersRepository,
    RequestsRepository,
    SuppliersRepository,
    lock_decisions,
    lock_decisions_shared,
)
from shared import topics
from shared.contract import ALLIANCE_MEMBER_ID
from shared.messaging.records import OutboundMessage
from shared.messaging.unit_of_work import UnitOfWork

_ALLIANCE_KEY = ALLIANCE_MEMBER_ID.encode()


class ProcurementUnitOfWork(UnitOfWork):
    suppliers: SuppliersRepository
    requests: RequestsRepository
    orders: OrdersRepository
    cycles: CyclesRepository
    alerts: AlertsRepository
    known_members: KnownMembersRepository
    buffers: BuffersRepository
    parties: PartiesRepository
    fulfilment: FulfilmentRepository
    performance: PerformanceRepository

    def _open(self, conn: asyncpg.Connection) -> None:
        self.suppliers = SuppliersRepository(conn)
        self.requests = RequestsRepository(conn)
        self.orders = OrdersRepository(conn)
        self.cycles = CyclesRepository(conn)
        self.alerts = AlertsRepository(conn)
        self.known_members = KnownMembersRepository(conn)
        self.parties = PartiesRepository(conn)
        self.fulfilment = FulfilmentRepository(conn)
        self.performance = PerformanceRepository(conn)
        self.buffers = BuffersRepository(conn)

    def publish(self, message: OutboundMessage) -> None:
        """Notices about the alliance's own requests (a risk buffer's replenishment) go nowhere:
        the alliance is no member with channels, and no other member may read them."""
        if message.topic == topics.MEMBER_NOTICES and message.key == _ALLIANCE_KEY:
            return
        super().publish(message)

    async def lock_decisions(self) -> None:
        """Serialise decisions over the same requests and capacity (closes, re-sourcing)."""
        await lock_decisions(self.conn)

    async def lock_decisions_shared(self) -> None:
        """Decide alongside others that only withdraw (no capacity taken)."""
        await lock_decisions_shared(self.conn)
