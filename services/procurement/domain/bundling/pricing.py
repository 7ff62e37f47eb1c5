"""Preparing one SKU for the solver: which suppliers may take each request (eligibility), at which
tiers (standalone prices, price bounds), and the tier bands each offer can reach."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from services.procurement.domain.bundling.model import Demand, Offer, RiskLevel, UnplacedReason


@dataclass(frozen=True, slots=True)
class Band:
    """Quantity range ``[low, high]`` over which a supplier's total earns one tier's price."""

    tier_index: int
    low: int
    high: int
    price: Decimal
    price_units: int


class Candidate(NamedTuple):
    """A request that some supplier may take: ``options`` maps supplier index -> lowest tier index whose
    price the request accepts (tier prices fall with the index)."""

    position: int
    quantity: int
    options: dict[int, int]
    standalone: Decimal | None


@dataclass(frozen=True, slots=True)
class Instance:
    """The solver's view of one SKU: usable offers, candidate requests and the share cap if it applies."""

    offers: tuple[Offer, ...]
    price_units: tuple[tuple[int, ...], ...]
    candidates: tuple[Candidate, ...]
    share: Fraction | None


def _price_places(offers: Sequence[Offer]) -> int:
    """Decimal places that turn every tier price into an exact integer."""
    places = 0
    for offer in offers:
        for tier in offer.tiers:
            exponent = tier.unit_price.as_tuple().exponent
            assert isinstance(exponent, int)  # finite prices are validated in Tier
            places = max(places, -exponent)
    return places


def tier_bands(offer: Offer, capacity: int, units: tuple[int, ...]) -> tuple[Band, ...]:
    """Reachable tier bands of an offer whose total may not exceed ``capacity``."""
    tiers = offer.tiers
    floor = max(offer.min_order_quantity, tiers[0].min_quantity, 1)
    bands = []
    for index, tier in enumerate(tiers):
        upper = tiers[index + 1].min_quantity - 1 if index + 1 < len(tiers) else capacity
        low, high = max(tier.min_quantity, floor), min(upper, capacity)
        if low <= high:
            bands.append(Band(index, low, high, tier.unit_price, units[index]))
    return tuple(bands)


def prepare(
    offers: Sequence[Offer], demands: Sequence[Demand], order_date: date, share: Fraction
) -> tuple[Instance, dict[int, UnplacedReason]]:
    """The solver's view of one SKU, and why each request no supplier could take is unplaced (by position)."""
    usable = tuple(o for o in offers if o.risk is not RiskLevel.EXCLUDED or o.regional_risk)
    places = _price_places(usable)
    units = tuple(tuple(int(t.unit_price.scaleb(places)) for t in o.tiers) for o in usable)
    pricing = _RequestPricing(usable, units)
    arrival = [order_date + timedelta(days=o.lead_time_days) for o in usable]
    # Which suppliers deliver in time depends on needed_by only through how many of the distinct
    # arrival dates it reaches, so (country, that count) names a request's eligible suppliers.
    arrivals = sorted(set(arrival))
    eligible_by_route: dict[tuple[str, int], tuple[int, ...]] = {}
    priced_memo = pricing.memo
    candidates: list[Candidate] = []
    reasons: dict[int, UnplacedReason] = {}
    for position, demand in enumerate(demands):
        country = demand.country
        route = (country, bisect_right(arrivals, demand.needed_by))
        eligible = eligible_by_route.get(route)
        if eligible is None:
            in_time = [
                s
                for s, offer in enumerate(usable)
                if country in offer.regions
                and arrival[s] <= demand.needed_by
                and offer.risk_in(country) is not RiskLevel.EXCLUDED
            ]
            safe = [s for s in in_time if usable[s].risk_in(country) is RiskLevel.OK]
            eligible = eligible_by_route[route] = tuple(safe or in_time)
        quantity = demand.quantity
        key = (eligible, quantity, demand.max_unit_price)
        priced = priced_memo.get(key)
        if priced is None:
            priced = priced_memo[key] = pricing.price(*key)
        if priced.__class__ is tuple:
            candidates.append(Candidate(position, quantity, *priced))
        else:
            reasons[position] = priced  # type: ignore[assignment]
    competing = len({s for c in candidates for s in c.options}) >= 2
    instance = Instance(usable, units, tuple(candidates), share if competing and share < 1 else None)
    return instance, reasons


_Priced = UnplacedReason | tuple[dict[int, int], Decimal | None]


class _RequestPricing:
    """Standalone price and supplier options of a request, memoised per (eligible suppliers, quantity,
    max_unit_price) since many requests of a cycle share them."""

    def __init__(self, offers: tuple[Offer, ...], units: tuple[tuple[int, ...], ...]) -> None:
        self.bands = [tier_bands(o, o.capacity_per_cycle, u) for o, u in zip(offers, units)]
        self.lows = [[b.low for b in bs] for bs in self.bands]
        self.prices = [[tier.unit_price for tier in o.tiers] for o in offers]
        self.first_within: dict[tuple[int, Decimal], int | None] = {}
        self.memo: dict[tuple[tuple[int, ...], int, Decimal | None], _Priced] = {}
        self.canonical: dict[tuple[tuple[int, int], ...], dict[int, int]] = {}
        """One dict per distinct options content, so later stages can memoise per options object."""

    def _first_tier_within(self, supplier: int, bound: Decimal | None) -> int | None:
        """Index of the supplier's first tier priced within ``bound`` (all later ones are too)."""
        if bound is None:
            return 0
        key = (supplier, bound)
        if key not in self.first_within:
            prices = self.prices[supplier]
            self.first_within[key] = next((i for i, price in enumerate(prices) if price <= bound), None)
        return self.first_within[key]

    def price(self, eligible: tuple[int, ...], quantity: int, ceiling: Decimal | None) -> _Priced:
        """(options, standalone price) of a placeable request, else why it cannot be placed at all;
        ``prepare`` memoises it in ``memo``."""
        if not eligible:
            return UnplacedReason.NO_ELIGIBLE_SUPPLIER
        bands = self.bands
        standalone: Decimal | None = None
        for s in eligible:
            at = bisect_right(self.lows[s], quantity) - 1
            if at >= 0 and quantity <= bands[s][at].high:
                price = bands[s][at].price
                if (ceiling is None or price <= ceiling) and (standalone is None or price < standalone):
                    standalone = price
        bound = standalone if standalone is not None else ceiling
        options: dict[int, int] = {}
        for s in eligible:
            first = self._first_tier_within(s, bound)
            if first is not None and bands[s] and first <= bands[s][-1].tier_index and quantity <= bands[s][-1].high:
                options[s] = first
        if options:
            return self.canonical.setdefault(tuple(options.items()), options), standalone
        if ceiling is not None and all(not bands[s] or bands[s][-1].price > ceiling for s in eligible):
            return UnplacedReason.PRICE_ABOVE_MAX_UNIT_PRICE
        return UnplacedReason.CAPACITY
