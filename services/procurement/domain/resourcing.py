"""Re-sourcing an order's requests: the same decision rules, minus the suppliers that said no.

When a supplier rejects an order, or a critical risk alert cancels it, its requests are decided
again at once, per SKU, among the SKU's suppliers. A supplier's capacity is what its cycle has
left (it may already carry other orders of the same cycle), a request never goes back to a
supplier that rejected it, and the risk alerts in force rate the offers as in a cycle close.
What cannot be placed now is unfulfillable: the member was already told it was ordered,
so it is told the outcome rather than left waiting in silence.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from services.procurement.domain.bundling import Offer
from services.procurement.domain.catalog import Supplier
from services.procurement.domain.risk import Effect, with_risk

SUPPLIER_REJECTED = "supplier_rejected_order"
"""The reason members are given in `purchase_request.resourced` (never the supplier's text,
which may speak about the whole joint order and so about other members)."""
RISK_ALERT = "risk_alert"
"""The reason members are given when a critical risk alert cancelled their order (never the
alert's reporter, which nobody is told)."""


def resourcing_offers(
    suppliers: Sequence[Supplier],
    sku: str,
    excluded: Collection[str],
    ordered_this_cycle: Mapping[str, int],
    effects_in_force: Sequence[Effect] = (),
) -> list[Offer]:
    """Offers for `sku` from suppliers not in `excluded`, each limited to the capacity its
    cycle has left after `ordered_this_cycle[supplier_id]` units already ordered, and rated
    by the risk effects in force."""
    offers = []
    for supplier in sorted(suppliers, key=lambda s: s.supplier_id):
        item = supplier.item(sku)
        if item is None or supplier.supplier_id in excluded:
            continue
        left = item.capacity_per_cycle - ordered_this_cycle.get(supplier.supplier_id, 0)
        if left > 0:
            offers.append(with_risk(supplier.offer(item, capacity=left), sku, effects_in_force))
    return offers
