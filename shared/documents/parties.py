"""Who appears in an order document: the alliance as buyer, the supplier as seller, and each
delivery's member as its delivery party. Built by the caller (from the seed or the database),
so the codecs stay pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from shared.contract import ShipTo

ALLIANCE_MEMBER_ID = "alliance"
"""The reserved `member_id` of the alliance's own deliveries (a risk buffer's warehouse): their
delivery party is the alliance itself."""


class Deliverable(Protocol):
    """A delivery, of the contract or as a document states it."""

    @property
    def member_id(self) -> str: ...

    @property
    def ship_to(self) -> ShipTo | None: ...


@dataclass(frozen=True, slots=True)
class Address:
    country: str
    street: str | None = None
    """The street line, or a delivery's `ship_to.site`."""
    city: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True, slots=True)
class Party:
    party_id: str
    """The alliance's own id for it: a member or supplier id, or `alliance`."""
    name: str
    address: Address
    peppol_id: str | None = None
    """`<scheme>:<id>`, e.g. 0088:4012345000009."""
    vat_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrderParties:
    buyer: Party
    seller: Party
    members: Mapping[str, Party]

    def member(self, member_id: str) -> Party:
        return self.buyer if member_id == ALLIANCE_MEMBER_ID else self.members[member_id]

    def delivery_place(self, delivery: Deliverable) -> Address:
        """Where a delivery goes: its `ship_to`, or else its member's region."""
        ship_to = delivery.ship_to
        if ship_to is None:
            return Address(country=self.member(delivery.member_id).address.country)
        return Address(country=ship_to.country, street=ship_to.site, postal_code=ship_to.postal_code)


def split_peppol_id(peppol_id: str) -> tuple[str, str]:
    """`0088:4012345000009` → ("0088", "4012345000009")."""
    scheme, _, identifier = peppol_id.partition(":")
    return scheme, identifier
