"""Suppliers and their catalog items, as procurement keeps them and hands them to the optimizer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from services.procurement.domain.bundling import Offer, Tier
from shared.documents.parties import Address, Party
from shared.documents.standards import Standard


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One SKU a supplier offers, with all-units tiers (the whole quantity gets the tier reached)."""

    sku: str
    name: str
    category: str
    unit: str
    capacity_per_cycle: int
    min_order_quantity: int
    tiers: tuple[Tier, ...]


@dataclass(frozen=True, slots=True)
class Supplier:
    supplier_id: str
    name: str
    regions: tuple[str, ...]
    lead_time_days: int
    secret: str = field(repr=False)
    previous_secret: str | None = field(default=None, repr=False)
    previous_secret_valid_until: datetime | None = None
    catalog: tuple[CatalogItem, ...] = ()
    documents: Standard = Standard.CLOUDEVENTS
    """What its orders and answers are written in (docs/suppliers.md)."""
    peppol_id: str | None = None
    vat_id: str | None = None

    @property
    def party(self) -> Party:
        """The supplier as the seller of an order document: its country is its first region."""
        return Party(self.supplier_id, self.name, Address(country=self.regions[0]), self.peppol_id, self.vat_id)

    def verification_secrets(self, now: datetime) -> list[str]:
        """The current response secret, and the previous one while its grace period lasts."""
        secrets = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_valid_until is not None
            and now <= self.previous_secret_valid_until
        ):
            secrets.append(self.previous_secret)
        return secrets

    def rotated(self, new_secret: str, now: datetime, grace: timedelta) -> Supplier:
        """Switch to `new_secret`; responses signed with the old one verify for `grace`."""
        if new_secret == self.secret:
            return self
        return replace(
            self,
            secret=new_secret,
            previous_secret=self.secret,
            previous_secret_valid_until=now + grace,
        )

    def item(self, sku: str) -> CatalogItem | None:
        return next((item for item in self.catalog if item.sku == sku), None)

    def offer(self, item: CatalogItem, capacity: int | None = None) -> Offer:
        """The optimizer's view of one item; `capacity` overrides what is left of this cycle's."""
        return Offer(
            supplier_id=self.supplier_id,
            regions=frozenset(self.regions),
            lead_time_days=self.lead_time_days,
            capacity_per_cycle=item.capacity_per_cycle if capacity is None else capacity,
            min_order_quantity=item.min_order_quantity,
            tiers=item.tiers,
        )


class CatalogConflict(ValueError):
    """An item would give a SKU a second category or unit: SKUs mean one thing alliance-wide."""


def check_consistent(supplier: Supplier, others: list[Supplier]) -> None:
    """Raise CatalogConflict when `supplier` lists a SKU differently from another supplier."""
    known = {
        item.sku: (other.supplier_id, item)
        for other in others
        if other.supplier_id != supplier.supplier_id
        for item in other.catalog
    }
    for item in supplier.catalog:
        if item.sku not in known:
            continue
        other_id, other = known[item.sku]
        for attribute in ("category", "unit"):
            mine, theirs = getattr(item, attribute), getattr(other, attribute)
            if mine != theirs:
                raise CatalogConflict(
                    f"sku {item.sku!r}: {attribute} {mine!r} differs from {theirs!r} "
                    f"listed by supplier {other_id!r}"
                )


def offers_by_sku(suppliers: list[Supplier]) -> dict[str, list[Offer]]:
    """Every SKU's offers, suppliers in id order (the optimizer's tie-breaks stay stable)."""
    offers: dict[str, list[Offer]] = {}
    for supplier in sorted(suppliers, key=lambda s: s.supplier_id):
        for item in supplier.catalog:
            offers.setdefault(item.sku, []).append(supplier.offer(item))
    return offers
