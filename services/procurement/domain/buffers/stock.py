"""A buffer's stock: on hand at its average acquisition cost, on order in lots, and the request
that closes the gap to target.

- The gap (target - on hand - on order) joins a cycle's open demand as the alliance's own request,
  shipped to the warehouse, due after the longest lead time of the SKU's suppliers delivering
  there, so the optimizer may give it to any of them under every v1 rule.
- Units are on order once placed, at the placement's unit price, in a lot per delivery; a
  shortfall, rejection or cancellation shrinks the lot, re-sourcing opens a new one.
- Only booked units are on hand: the operator books what arrived (`alliance buffers receive`),
  taken from the lots oldest first; on-hand value is a moving average of what was paid.
- A draw takes units out at the average cost, which the member pays.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from hashlib import sha256

from services.procurement.domain.demand import OpenRequest
from shared.contract import ALLIANCE_MEMBER_ID, CENT, ShipTo

MAX_REQUEST_QUANTITY = 1_000_000
"""A delivery carries at most this (the contract's quantity bound); more of the gap waits for the
next cycle."""
UNIT_COST_PLACES = Decimal("0.0001")
"""A draw's unit price: the average cost to the precision an amount may have on the wire."""


class StockError(ValueError):
    """A stock movement that cannot happen: more received than on order, more drawn than on hand."""


@dataclass(frozen=True, slots=True)
class OpenLot:
    """Units placed but not yet received, at the price they were placed for."""

    reference: str
    """The order and delivery they are on (`<order_id>/<delivery_id>`), to shrink the lot later."""
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class BufferStock:
    on_hand: int = 0
    value: Decimal = Decimal(0)
    """What the units on hand cost to acquire, in all."""
    on_order: tuple[OpenLot, ...] = ()
    """Oldest first."""

    @property
    def ordered(self) -> int:
        return sum(lot.quantity for lot in self.on_order)

    @property
    def unit_cost(self) -> Decimal | None:
        """The average acquisition cost per unit on hand, as a member drawing pays it; None when empty."""
        if not self.on_hand:
            return None
        average = (self.value / self.on_hand).quantize(UNIT_COST_PLACES, rounding=ROUND_HALF_UP).normalize()
        exponent = average.as_tuple().exponent
        return average.quantize(CENT) if isinstance(exponent, int) and exponent > -2 else average

    def gap(self, target: int) -> int:
        return max(0, target - self.on_hand - self.ordered)

    def placed(self, reference: str, quantity: int, unit_price: Decimal) -> BufferStock:
        if quantity < 1 or any(lot.reference == reference for lot in self.on_order):
            raise StockError(f"lot {reference}: {quantity} units cannot be placed (twice, or none)")
        return replace(self, on_order=(*self.on_order, OpenLot(reference, quantity, unit_price)))

    def lot_reduced(self, reference: str, quantity: int) -> BufferStock:
        """The lot now brings only `quantity` units (0: none; a rejection or cancellation)."""
        lots = []
        for lot in self.on_order:
            if lot.reference == reference:
                if not 0 <= quantity <= lot.quantity:
                    raise StockError(f"lot {reference}: {quantity} of {lot.quantity} units")
                if quantity:
                    lots.append(replace(lot, quantity=quantity))
            else:
                lots.append(lot)
        return replace(self, on_order=tuple(lots))

    def received(self, quantity: int) -> BufferStock:
        """Booked as arrived: taken from the lots oldest first, valued at their prices."""
        if not 1 <= quantity <= self.ordered:
            raise StockError(f"{quantity} units received, {self.ordered} on order")
        left, value, lots = quantity, self.value, []
        for lot in self.on_order:
            taken = min(left, lot.quantity)
            left -= taken
            value += taken * lot.unit_price
            if taken < lot.quantity:
                lots.append(replace(lot, quantity=lot.quantity - taken))
        return BufferStock(self.on_hand + quantity, value, tuple(lots))

    def drawn(self, quantity: int) -> BufferStock:
        """`quantity` units out at the average cost; the rest keeps its average."""
        if not 0 <= quantity <= self.on_hand:
            raise StockError(f"{quantity} units drawn, {self.on_hand} on hand")
        if not quantity:
            return self
        left = self.on_hand - quantity
        return replace(self, on_hand=left, value=self.value * left / self.on_hand)


def replenishment_request_id(cycle_id: str, sku: str) -> str:
    """Stable per cycle and SKU, so a close repeated after a crash asks for the same request; a
    digest where the readable id would pass the contract's 64 characters."""
    readable = f"buffer:{cycle_id}:{sku}"
    return readable if len(readable) <= 64 else f"buffer:{sha256(readable.encode()).hexdigest()[:32]}"


def replenishment_request(
    sku: str,
    warehouse: ShipTo,
    target: int,
    stock: BufferStock,
    cycle_id: str,
    order_date: date,
    lead_time_days: int,
) -> OpenRequest | None:
    """The alliance's own request for the gap to target, or None when there is none."""
    gap = stock.gap(target)
    if not gap:
        return None
    return OpenRequest(
        member_id=ALLIANCE_MEMBER_ID,
        request_id=replenishment_request_id(cycle_id, sku),
        sku=sku,
        quantity=min(gap, MAX_REQUEST_QUANTITY),
        needed_by=order_date + timedelta(days=lead_time_days),
        country=warehouse.country,
        ship_to=warehouse,
    )
