"""The supply side under given capacities, exact evaluation of an assignment, simple bounds."""

from __future__ import annotations

import math
from bisect import bisect_right

from services.procurement.domain.bundling.pricing import Band, Instance, tier_bands


class Supply:
    """The bands every usable offer can reach when its total is limited to ``caps[s]``, and the
    (supplier, lowest acceptable tier) options of each candidate that remain usable under them."""

    __slots__ = ("bands", "caps", "lows", "options")

    def __init__(self, instance: Instance, caps: list[int]) -> None:
        self.caps = caps
        self.bands = [tier_bands(o, c, u) for o, c, u in zip(instance.offers, caps, instance.price_units)]
        self.lows = [[b.low for b in bs] for bs in self.bands]
        top = [bs[-1].tier_index if bs else -1 for bs in self.bands]
        reduced = {s for s, (offer, cap) in enumerate(zip(instance.offers, caps)) if cap < offer.capacity_per_cycle}
        # Many candidates share one options dict (see pricing._RequestPricing.canonical): filter each once.
        filtered: dict[int, tuple[tuple[tuple[int, int], ...], float | None]] = {}
        self.options = options = []
        for c in instance.candidates:
            known = filtered.get(id(c.options))
            if known is None:
                items = tuple(c.options.items())
                if reduced.isdisjoint(c.options):
                    known = (items, None)
                else:
                    kept = tuple((s, j) for s, j in items if j <= top[s])
                    known = (kept, min((caps[s] for s, _ in kept), default=math.inf))
                filtered[id(c.options)] = known
            items, room = known
            if room is not None and c.quantity > room:
                items = tuple((s, j) for s, j in items if c.quantity <= caps[s])
            options.append(items)

    def band_for(self, supplier: int, total: int) -> Band | None:
        """The band a positive total falls in, or None when it is below the minimum or above capacity."""
        at = bisect_right(self.lows[supplier], total) - 1
        if at < 0:
            return None
        band = self.bands[supplier][at]
        return band if total <= band.high else None

    def cost_units(self, supplier: int, total: int) -> int:
        if total == 0:
            return 0
        band = self.band_for(supplier, total)
        assert band is not None
        return total * band.price_units

    def quantity_bound(self, instance: Instance) -> int:
        """Every placeable unit, limited by the suppliers' capacities."""
        placeable = sum(c.quantity for c, options in zip(instance.candidates, self.options) if options)
        return min(placeable, sum(bs[-1].high for bs in self.bands if bs))

    def cost_floor(self, instance: Instance, quantity: int) -> int:
        """Lower bound on the cost of placing ``quantity`` units: each unit pays at least its request's
        cheapest reachable price, and the cheapest units are taken first."""
        unit_floors = sorted(
            (min(self.bands[s][-1].price_units for s, _ in options), c.quantity)
            for c, options in zip(instance.candidates, self.options)
            if options
        )
        floor, left = 0, quantity
        for price_units, units in unit_floors:
            take = min(units, left)
            floor += take * price_units
            left -= take
        return floor


def evaluate(instance: Instance, supply: Supply, assignment: list[int]) -> tuple[int, int] | None:
    """(placed quantity, cost in price units) of an assignment, or None when it breaks a rule."""
    totals = [0] * len(instance.offers)
    needed = [0] * len(instance.offers)
    for candidate, s in zip(instance.candidates, assignment):
        if s < 0:
            continue
        min_tier = candidate.options.get(s)
        if min_tier is None:
            return None
        totals[s] += candidate.quantity
        needed[s] = max(needed[s], min_tier)
    cost = 0
    for s, total in enumerate(totals):
        if total:
            band = supply.band_for(s, total)
            if band is None or band.tier_index < needed[s]:
                return None
            cost += total * band.price_units
    return sum(totals), cost
