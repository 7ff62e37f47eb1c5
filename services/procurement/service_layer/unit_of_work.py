"""Procurement's unit of work: one transaction over its repositories and its outbox."""

from __future__ import annotations

import asyncpg

from services.procurement.adapters.alerts import AlertsRepository, KnownMembersRepository
from services.procurement.adapters.fulfilment import FulfilmentRepository
from services.procurement.adapters.parties import PartiesRepository
from services.procurement.adapters.repository import (
    CyclesRepository,
    OrdersRepository,
    RequestsRepository,
    SuppliersRepository,
    lock_decisions,
    lock_decisions_shared,
)
from shared.messaging.unit_of_work import UnitOfWork


class ProcurementUnitOfWork(UnitOfWork):
    suppliers: SuppliersRepository
    requests: RequestsRepository
    orders: OrdersRepository
    cycles: CyclesRepository
    alerts: AlertsRepository
    known_members: KnownMembersRepository
    parties: PartiesRepository
    fulfilment: FulfilmentRepository

    def _open(self, conn: asyncpg.Connection) -> None:
        self.suppliers = SuppliersRepository(conn)
        self.requests = RequestsRepository(conn)
        self.orders = OrdersRepository(conn)
        self.cycles = CyclesRepository(conn)
        self.alerts = AlertsRepository(conn)
        self.known_members = KnownMembersRepository(conn)
        self.parties = PartiesRepository(conn)
        self.fulfilment = FulfilmentRepository(conn)

    async def lock_decisions(self) -> None:
        """Serialise decisions over the same requests and capacity (closes, re-sourcing)."""
        await lock_decisions(self.conn)

    async def lock_decisions_shared(self) -> None:
        """Decide alongside others that only withdraw (no capacity taken)."""
        await lock_decisions_shared(self.conn)
