"""Supplier performance from the order lifecycle (`domain/performance.py`): computed from every
delivery of the window by the performance loop (`refresh_performance`, every 30 s on every
instance) and kept in the database, where decisions read it: a supplier below the on-time-in-full
floor for a category is a last resort for its SKUs in cycle closes and re-sourcing alike. So a
decision never reads the window's deliveries (a 100k-request close would read 100k ledgers)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from services.procurement.domain.catalog import Supplier
from services.procurement.domain.performance import (
    DEFAULT_WINDOW_DAYS,
    LastResort,
    Performance,
    below_floor,
    supplier_performance,
)
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork

log = logging.getLogger(__name__)


async def refresh_performance(
    uow: ProcurementUnitOfWork, now: datetime, window_days: int = DEFAULT_WINDOW_DAYS
) -> dict[tuple[str, str], Performance]:
    """Compute (supplier_id, category) -> performance over the window up to `now`, and keep it."""
    found = await _compute(uow, now, window_days)
    await uow.performance.replace(found.values(), now)
    return found


async def _compute(
    uow: ProcurementUnitOfWork, now: datetime, window_days: int
) -> dict[tuple[str, str], Performance]:
    today = now.astimezone(UTC).date()
    start = today - timedelta(days=window_days)
    fulfilment = uow.fulfilment
    lines = await fulfilment.answered_lines(datetime.combine(start, datetime.min.time(), UTC))
    served = await fulfilment.served_since(start)
    ledgers = await fulfilment.ledgers([(m, r) for m, r, _, _ in served])
    records = [
        record
        for ledger, (_, _, category, needed_by) in zip(ledgers, served, strict=True)
        for record in ledger.performance_records(category, needed_by)
    ]
    return supplier_performance(lines, records, today, window_days)


async def last_resorts(uow: ProcurementUnitOfWork, floor: float) -> list[LastResort]:
    """The suppliers below the floor, per category, as last computed; each is logged with its
    reason (the decision log)."""
    found, _ = await uow.performance.current()
    below = below_floor(found, floor)
    for last in below:
        log.info("%s", last.reason)
    return below


async def last_resort_by_category(
    uow: ProcurementUnitOfWork, floor: float
) -> dict[str, frozenset[str]]:
    """category -> the suppliers that are a last resort for it."""
    found: dict[str, set[str]] = {}
    for below in await last_resorts(uow, floor):
        found.setdefault(below.category, set()).add(below.supplier_id)
    return {category: frozenset(ids) for category, ids in found.items()}


def categories(suppliers: Sequence[Supplier]) -> dict[str, str]:
    """sku -> its category, for every SKU a supplier lists."""
    return {item.sku: item.category for supplier in suppliers for item in supplier.catalog}


def category_of(suppliers: Sequence[Supplier], sku: str) -> str:
    """A SKU's category (one alliance-wide, `catalog.py`); 'unlisted' when no supplier lists it."""
    for supplier in suppliers:
        item = supplier.item(sku)
        if item is not None:
            return item.category
    return "unlisted"
