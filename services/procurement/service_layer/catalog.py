"""Catalog commands: the seed and the admin API change suppliers only through `upsert_supplier`,
so a change is saved, its secret rotated with grace, and its SKUs announced together."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.procurement.domain.bundling import Tier
from services.procurement.domain.catalog import CatalogItem, Supplier, check_consistent
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared import seed, topics
from shared.documents.parties import ALLIANCE_MEMBER_ID, Address, Party
from shared.documents.standards import Standard
from shared.events.procurement import CATALOG_ITEM_LISTED, SOURCE, CatalogItemListed
from shared.messaging.envelope import event_record


def supplier_from_seed(entry: seed.Supplier) -> Supplier:
    assert entry.secret is not None  # the seed resolved secret_env into secret
    return Supplier(
        supplier_id=entry.id,
        name=entry.name,
        regions=tuple(entry.regions),
        lead_time_days=entry.lead_time_days,
        secret=entry.secret.get_secret_value(),
        catalog=tuple(
            sorted(
                (
                    CatalogItem(
                        sku=item.sku,
                        name=item.name,
                        category=item.category,
                        unit=item.unit,
                        capacity_per_cycle=item.capacity_per_cycle,
                        min_order_quantity=item.min_order_quantity,
                        tiers=tuple(Tier(t.min_quantity, t.unit_price) for t in item.tiers),
                    )
                    for item in entry.catalog
                ),
                key=lambda i: i.sku,
            )
        ),
        documents=Standard(entry.documents),
        peppol_id=entry.peppol_id,
        vat_id=entry.vat_id,
    )


def alliance_from_seed(entry: seed.AllianceParty) -> Party:
    address = entry.address
    return Party(
        ALLIANCE_MEMBER_ID, entry.name, Address(address.country, address.street, address.city, address.postal_code),
        entry.peppol_id, entry.vat_id,
    )


async def upsert_supplier(
    uow: ProcurementUnitOfWork,
    wanted: Supplier,
    grace: timedelta,
    now: datetime | None = None,
    check_catalog: bool = True,
) -> tuple[Supplier, bool]:
    """Create or update a supplier; returns it as stored and whether anything changed.

    A new secret becomes current at once and the previous one keeps verifying for `grace`.
    Raises CatalogConflict when a SKU would mean something else than at another supplier.
    """
    now = now or datetime.now(UTC)
    repository = uow.suppliers
    suppliers = await repository.list()
    if check_catalog:
        check_consistent(wanted, suppliers)
    current = next((s for s in suppliers if s.supplier_id == wanted.supplier_id), None)
    merged = wanted
    if current is not None:
        rotated = current.rotated(wanted.secret, now, grace)
        merged = replace(
            wanted,
            secret=rotated.secret,
            previous_secret=rotated.previous_secret,
            previous_secret_valid_until=rotated.previous_secret_valid_until,
        )
        if merged == current:
            return current, False
    await repository.save(merged)
    listed = {item.sku: item for s in suppliers for item in s.catalog}
    for item in merged.catalog:
        known = listed.get(item.sku)
        if known is None or (known.category, known.unit) != (item.category, item.unit):
            announced = CatalogItemListed(sku=item.sku, category=item.category, name=item.name, unit=item.unit)
            uow.publish(
                event_record(topics.PROCUREMENT_EVENTS, item.sku, CATALOG_ITEM_LISTED, SOURCE, announced)
            )
    return merged, True


async def sync_seed(uow: ProcurementUnitOfWork, entries: seed.Seed, grace: timedelta) -> int:
    """Load the seed's suppliers; the same seed twice changes nothing. Returns how many changed.

    The seed was checked for consistent SKUs as a whole; checking supplier by supplier would
    refuse a seed that changes the category of a SKU two suppliers list.
    """
    if entries.alliance is not None:
        await uow.parties.save_alliance(alliance_from_seed(entries.alliance))
    changed = 0
    for entry in entries.suppliers:
        _, did_change = await upsert_supplier(
            uow, supplier_from_seed(entry), grace, check_catalog=False
        )
        changed += did_change
    return changed
