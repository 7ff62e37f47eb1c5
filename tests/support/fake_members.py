"""The members service's unit of work in memory: its repositories as dicts, with the semantics
of `services/members/adapters/repository.py`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from services.members.domain.members import Member
from services.members.service_layer.unit_of_work import MembersUnitOfWork
from tests.support.fake_unit_of_work import FakeUnitOfWork


class FakeMembersRepository:
    def __init__(self, members: Iterable[Member]) -> None:
        self._members = {m.member_id: m for m in members}

    async def get_many(self, member_ids: Iterable[str]) -> dict[str, Member]:
        return {i: self._members[i] for i in set(member_ids) if i in self._members}


class FakeCatalogRepository:
    def __init__(self, skus: Iterable[str]) -> None:
        self._skus = set(skus)

    async def skus(self, candidates: Iterable[str]) -> set[str]:
        return set(candidates) & self._skus


class FakeAdmittedRequests:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], tuple[bytes, str]] = {}

    async def fingerprints(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[bytes, str]]:
        return {key: self._rows[key] for key in set(keys) if key in self._rows}

    async def add(self, rows: Sequence[tuple[str, str, str, bytes]]) -> None:
        """Like the table's primary key: a (member, request) admitted twice fails the transaction."""
        for member_id, request_id, sku, fingerprint in rows:
            if (member_id, request_id) in self._rows:
                raise AssertionError(f"admitted_requests: ({member_id}, {request_id}) exists already")
            self._rows[(member_id, request_id)] = (fingerprint, sku)


class FakeMembersUnitOfWork(FakeUnitOfWork, MembersUnitOfWork):
    """`members` and the catalog's `skus` as given, nothing admitted yet."""

    stores = ("members", "catalog", "admitted")

    def __init__(self, members: Iterable[Member] = (), skus: Iterable[str] = (), topic_prefix: str = "") -> None:
        super().__init__(topic_prefix)
        self.members = FakeMembersRepository(members)  # type: ignore[assignment]
        self.catalog = FakeCatalogRepository(skus)  # type: ignore[assignment]
        self.admitted = FakeAdmittedRequests()  # type: ignore[assignment]
