"""Re-sourcing an order's requests: the same decision rules, minus the suppliers that said no.

When a supplier rejects an order, or a critical risk alert cancels it, its requests are decided
again at once, per SKU, among the SKU's suppliers; when its answer leaves part of a delivery
unserved (a partial line, a line late for it), that part is, as a request of its own quantity
(`request_part`): its tier, minimum order, share cap and individual rationality (against what the
member would pay alone for that quantity) are decided for the part, and its savings reported
for the part. A supplier's capacity is what its cycle has
left (it may already carry other orders of the same cycle), a request never goes back to a
supplier that rejected it, and the risk alerts in force rate the offers as in a cycle close.
What cannot be placed now is unfulfillable: the member was already told it was ordered,
so it is told the outcome rather than left waiting in silence.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace

from services.procurement.domain.bundling import Offer
from services.procurement.domain.catalog import Supplier
from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.risk import Effect, as_last_resort, with_risk

SUPPLIER_REJECTED = "supplier_rejected_order"
"""The reason members are given in `purchase_request.resourced` (never the supplier's text,
which may speak about the whole joint order and so about other members)."""
RISK_ALERT = "risk_alert"
"""The reason members are given when a critical risk alert cancelled their order (never the
alert's reporter, which nobody is told)."""
SUPPLIER_SHORTFALL = "supplier_shortfall"
"""The reason given when the supplier answered a line `partial` and this part was not served."""
DELIVERY_TOO_LATE = "delivery_too_late"
"""The reason given when the supplier's expected delivery for the line is after `needed_by`."""


def request_part(request: OpenRequest, quantity: int) -> OpenRequest:
    """The part of `request` still to be placed, as a request of that quantity (same member, id,
    date, country, price limit and ship-to): the optimizer decides it like any other."""
    if not 1 <= quantity <= request.quantity:
        raise ValueError(f"request {request.key}: a part of {quantity} of {request.quantity}")
    return replace(request, quantity=quantity)


def resourcing_offers(
    suppliers: Sequence[Supplier],
    sku: str,
    excluded: Collection[str],
    ordered_this_cycle: Mapping[str, int],
    effects_in_force: Sequence[Effect] = (),
    last_resort: Collection[str] = (),
) -> list[Offer]:
    """Offers for `sku` from suppliers not in `excluded`, each limited to the capacity its
    cycle has left after `ordered_this_cycle[supplier_id]` units already ordered, rated by the
    risk effects in force, and a last resort from the suppliers in `last_resort` (below the
    on-time-in-full floor for the SKU's category, `performance.py`)."""
    offers = []
    for supplier in sorted(suppliers, key=lambda s: s.supplier_id):
        item = supplier.item(sku)
        if item is None or supplier.supplier_id in excluded:
            continue
        left = item.capacity_per_cycle - ordered_this_cycle.get(supplier.supplier_id, 0)
        if left > 0:
            offer = with_risk(supplier.offer(item, capacity=left), sku, effects_in_force)
            offers.append(as_last_resort(offer) if supplier.supplier_id in last_resort else offer)
    return offers
