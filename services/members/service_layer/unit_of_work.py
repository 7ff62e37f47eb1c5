"""The members service's unit of work: one transaction over its repositories and its outbox."""

from __future__ import annotations

import asyncpg

from services.members.adapters.repository import AdmittedRequests, CatalogRepository, MembersRepository
from shared.messaging.unit_of_work import UnitOfWork


class MembersUnitOfWork(UnitOfWork):
    members: MembersRepository
    catalog: CatalogRepository
    admitted: AdmittedRequests

    def _open(self, conn: asyncpg.Connection) -> None:
        self.members = MembersRepository(conn)
        self.catalog = CatalogRepository(conn)
        self.admitted = AdmittedRequests(conn)
