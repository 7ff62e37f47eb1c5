"""Draws: serving a subscriber's request from the buffer when no supplier can serve it in time.

- The trigger is the moment the request (or part of it) would be told `unfulfillable`: unplaced at
  a cycle close and unable to wait for the next one, or left without a supplier by a rejection,
  a shortfall or a critical-alert cancellation and not re-sourced in time. The caller turns those
  units into `DrawClaim`s; what the draw does not serve is told `unfulfillable` as in v1.
- Only subscribers of the buffer's SKU are served, and only booked stock. A request with a
  `max_unit_price` below the buffer's average cost is not served: above it the member would
  rather not buy (v1's meaning of the field).
- Simultaneous draws on short stock (the claims of one close, or of one supplier answer) are split
  between members in proportion to their cost shares by largest remainder, no member getting more
  than it claims; what a member cannot use is split again among the others. Claims of members
  with no cost share are served from what the others leave, equally. Within a member, its claims
  are served in the order given (the caller's order: earliest `needed_by`, then admitted first).
- The member pays the buffer's average acquisition cost per unit.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from math import floor

from services.procurement.domain.buffers.stock import BufferStock
from services.procurement.domain.demand import OpenRequest
from shared.contract import PurchaseRequestServedFromBuffer


@dataclass(frozen=True, slots=True)
class DrawClaim:
    """Units of a request about to be told `unfulfillable`, which the buffer may serve instead."""

    member_id: str
    request_id: str
    sku: str
    quantity: int
    max_unit_price: Decimal | None = None

    @classmethod
    def of(cls, request: OpenRequest, quantity: int) -> DrawClaim:
        return cls(request.member_id, request.request_id, request.sku, quantity, request.max_unit_price)


@dataclass(frozen=True, slots=True)
class Draw:
    member_id: str
    request_id: str
    quantity: int
    unit_price: Decimal

    def notice(self, warehouse_site: str) -> PurchaseRequestServedFromBuffer:
        return PurchaseRequestServedFromBuffer(
            request_id=self.request_id, quantity=self.quantity, unit_price=self.unit_price, warehouse=warehouse_site
        )


@dataclass(frozen=True, slots=True)
class DrawOutcome:
    draws: tuple[Draw, ...]
    unserved: tuple[DrawClaim, ...]
    """What is left of each claim not served in full, with the quantity left: told `unfulfillable`."""
    stock: BufferStock
    """The stock after the draws."""
    short: int = 0
    """Units subscribers' claims within their price limits did not get: the buffer had too little
    (a claim refused for its `max_unit_price` is not short of stock)."""


def qualifies(claim: DrawClaim, sku: str, subscribers: Collection[str], unit_price: Decimal) -> bool:
    return (
        claim.sku == sku
        and claim.member_id in subscribers
        and (claim.max_unit_price is None or unit_price <= claim.max_unit_price)
    )


def split_short_stock(needs: Mapping[str, int], cost_shares: Mapping[str, Decimal], stock: int) -> dict[str, int]:
    """Units per member when `stock` is less than they need in all: proportional to cost shares,
    largest remainder (then the larger share, then the member id), capped at each member's need,
    what a capped member leaves split again among the rest; members without a share equally from
    what the others leave."""
    given = dict.fromkeys(needs, 0)
    left = min(stock, sum(needs.values()))
    active = sorted(member for member, need in needs.items() if need > 0)
    while left and active:
        sharing = [m for m in active if cost_shares.get(m, 0) > 0]
        weights = {m: Fraction(cost_shares[m]) for m in sharing} if sharing else dict.fromkeys(active, Fraction(1))
        total = sum(weights.values())
        quotas = {m: left * weight / total for m, weight in weights.items()}
        capped = [m for m in weights if quotas[m] >= needs[m] - given[m]]
        if capped:
            for member in capped:
                left -= needs[member] - given[member]
                given[member] = needs[member]
            active = [m for m in active if m not in capped]
            continue
        floors = {m: floor(quota) for m, quota in quotas.items()}
        by_remainder = sorted(weights, key=lambda m: (-(quotas[m] - floors[m]), -weights[m], m))
        for member in by_remainder[: left - sum(floors.values())]:
            floors[member] += 1
        for member, units in floors.items():
            given[member] += units
        left = 0
    return given


def draw(
    claims: Sequence[DrawClaim],
    sku: str,
    subscribers: Collection[str],
    cost_shares: Mapping[str, Decimal],
    stock: BufferStock,
) -> DrawOutcome:
    """Serve what `claims` the buffer can (the module docstring's rules); `cost_shares` are the
    latest sizing's, per member."""
    unit_price = stock.unit_cost
    if unit_price is None:
        short = sum(c.quantity for c in claims if c.sku == sku and c.member_id in subscribers)
        return DrawOutcome((), tuple(claims), stock, short)
    eligible = [qualifies(c, sku, subscribers, unit_price) for c in claims]
    needs: dict[str, int] = {}
    for claim, ok in zip(claims, eligible, strict=True):
        if ok:
            needs[claim.member_id] = needs.get(claim.member_id, 0) + claim.quantity
    if sum(needs.values()) <= stock.on_hand:
        allotted = dict(needs)
    else:
        allotted = split_short_stock(needs, cost_shares, stock.on_hand)
    draws, unserved = [], []
    short = 0
    for claim, ok in zip(claims, eligible, strict=True):
        units = min(claim.quantity, allotted[claim.member_id]) if ok else 0
        if units:
            allotted[claim.member_id] -= units
            draws.append(Draw(claim.member_id, claim.request_id, units, unit_price))
        if units < claim.quantity:
            unserved.append(replace(claim, quantity=claim.quantity - units))
            short += claim.quantity - units if ok else 0
    return DrawOutcome(tuple(draws), tuple(unserved), stock.drawn(sum(d.quantity for d in draws)), short)
