"""Re-sourcing a rejected order: the same decision rules, minus the suppliers that said no.

The rejected order's requests are decided again at once, per SKU, among the SKU's other
suppliers. A supplier's capacity is what its cycle has left (it may already carry other
orders of the same cycle), and a request never goes back to a supplier that rejected it.
What cannot be placed now is unfulfillable: the member was already told it was ordered,
so it is told the outcome rather than left waiting in silence.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from services.procurement.domain.catalog import Supplier
from services.procurement.domain.optimizer import Offer

SUPPLIER_REJECTED = "supplier_rejected_order"
"""The reason members are given in `purchase_request.resourced` (never the supplier's text,
which may speak about the whole joint order and so about other members)."""


def resourcing_offers(
    suppliers: Sequence[Supplier],
    sku: str,
    excluded: Collection[str],
    ordered_this_cycle: Mapping[str, int],
) -> list[Offer]:
    """Offers for `sku` from suppliers not in `excluded`, each limited to the capacity its
    cycle has left after `ordered_this_cycle[supplier_id]` units already ordered."""
    offers = []
    for supplier in sorted(suppliers, key=lambda s: s.supplier_id):
        item = supplier.item(sku)
        if item is None or supplier.supplier_id in excluded:
            continue
        left = item.capacity_per_cycle - ordered_this_cycle.get(supplier.supplier_id, 0)
        if left > 0:
            offers.append(supplier.offer(item, capacity=left))
    return offers
