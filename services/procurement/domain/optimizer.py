"""Bundling optimizer: pools one SKU's open purchase requests of an order cycle into supplier orders.

Each request goes whole to one supplier or stays unplaced. The objective is lexicographic: first place
as much quantity as possible, then pay as little as possible for it. Pure domain code: only the standard
library, numpy and HiGHS (``highspy``) are used; prices are exact ``Decimal`` values at the interface.

Rules and the interpretation chosen where the brief left room
-------------------------------------------------------------
* Tiers are *all-units* volume discounts: a supplier's whole quantity is billed at the price of the
  highest tier whose ``min_quantity`` it reaches. Tier prices must not rise with quantity (validated).
  A total below the first tier's ``min_quantity`` has no price, so a supplier's effective minimum order
  is ``max(min_order_quantity, first tier min_quantity, 1)``; its total is 0 or in
  ``[effective minimum, capacity_per_cycle]``.
* Eligibility of a supplier for a request: it serves the request's country, ``order_date + lead time``
  is on or before ``needed_by``, and its risk for that country (``Offer.risk_in``) is not ``excluded``.
  A ``high`` risk supplier is a last resort *per request*: it is eligible only when no ``ok`` supplier
  serves that request's country in time (price and capacity of the ``ok`` suppliers do not matter for
  this test).
* Standalone price of a request: the lowest unit price any eligible supplier would charge for the
  request's quantity ordered alone (quantity within that supplier's minimum order and capacity, price
  within ``max_unit_price``). ``None`` when it could not be ordered alone.
* Price bound of a request: its standalone price if it has one (individual rationality; it never
  exceeds ``max_unit_price``), else its ``max_unit_price``, else none. A placed request's unit price -
  the tier price its supplier's total reaches - never exceeds its bound.
* Supplier share cap: it applies when two or more suppliers are *candidates* for the SKU, i.e. eligible
  for some request whose quantity fits their capacity and whose price bound one of their reachable
  tiers meets. First the largest placeable quantity ``Q*`` is found without the cap. If ``Q*`` can
  still be placed with every supplier total ``<= share * Q*`` the cap holds and the cheapest such
  bundle is returned; otherwise the cap is dropped for this SKU and cycle, the cheapest uncapped
  bundle placing ``Q*`` is returned and ``Decision.share_cap_relaxed`` is set. A share of 1 or more
  never binds.
* Unplaced reason codes (``UnplacedReason``):
  ``no_eligible_supplier`` - no supplier serves the request's country in time (after the risk rules);
  ``price_above_max_unit_price`` - the request has a ``max_unit_price`` and every eligible supplier
  that could still take it would charge more: no reachable tier is within it, or adding the request
  to the supplier's total in the decided bundle would not reach such a tier;
  ``capacity`` - otherwise: no eligible supplier had room for it in the bundle (capacity, minimum
  order quantity, or the share cap).

Solving
-------
Both lexicographic phases - the most quantity without the share cap, then the least cost placing it
(under the cap when it holds) - go through up to three solvers, all checked against every rule in
exact integer arithmetic before an answer is used:

1. ``combinatorial``: the *band relaxation* lets a request's quantity be split across suppliers but
   keeps every tier, minimum-order, capacity and price-bound rule exact. A best-first branch and bound
   over each supplier's tier band solves it exactly, since with the bands fixed the reachable
   supplier totals form a polymatroid that a greedy fill in price order optimises. Its optimum bounds
   the real problem: no more quantity, and at that quantity no lower cost. Its supplier totals are
   then realised with whole requests (a transportation flow per request type, exact subset sums, a
   repair pass). A realisation placing the relaxation's quantity at a cost within ``gap_tolerance``
   of the relaxation's cost is returned; for SKUs with many requests this is the usual case.
2. ``milp``: otherwise HiGHS solves the exact MILP, warm-started with the best known solution and
   given the relaxation's bound as a cut. Requests interchangeable for the model (same quantity,
   same (supplier, lowest acceptable tier) options) are merged into integer-count classes; per
   supplier a binary picks the band its total falls in and an integer holds that total; a class may
   use a supplier only when the chosen band's tier is one it accepts. The quantity phase is skipped
   when a known solution already places the proven maximum.
3. ``heuristic``: when ``highspy`` is not installed, the time budget is spent, or HiGHS returns no
   solution in time, a greedy solution (largest requests first to the cheapest reachable supplier,
   then repaired) improved by local search (single-request moves and insertions) is returned. In
   that mode the share cap is relaxed when the heuristic cannot place its uncapped quantity under it.

``SolveStats.gap`` is ``(cost - lower bound) / cost`` for the returned cost, where the lower bound is
the best of the relaxation's cost, the MILP dual bound and a per-unit price bound at the placed
quantity; 0.0 means proven optimal. ``SolveStats.quantity_bound`` is the proven upper bound on the
placeable quantity; it equals ``Decision.placed_quantity`` when the quantity is proven maximal.
"""

from __future__ import annotations

import heapq
import math
import time
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import NamedTuple

import numpy as np

try:
    import highspy
except ImportError:  # pragma: no cover - the fallback heuristic answers without HiGHS
    highspy = None  # type: ignore[assignment]

__all__ = [
    "Decision",
    "Demand",
    "Offer",
    "Placement",
    "RiskLevel",
    "SolveMethod",
    "SolveStats",
    "SupplierOrder",
    "Tier",
    "UnplacedReason",
    "optimize_bundle",
    "savings",
]


class RiskLevel(StrEnum):
    """Supplier risk rating: ``high`` suppliers are a last resort, ``excluded`` ones are never used."""

    OK = "ok"
    HIGH = "high"
    EXCLUDED = "excluded"


class UnplacedReason(StrEnum):
    """Why a request was left out of the bundle (see the module docstring for the exact meaning)."""

    NO_ELIGIBLE_SUPPLIER = "no_eligible_supplier"
    PRICE_ABOVE_MAX_UNIT_PRICE = "price_above_max_unit_price"
    CAPACITY = "capacity"


class SolveMethod(StrEnum):
    """How the decision was reached (see "Solving" in the module docstring)."""

    COMBINATORIAL = "combinatorial"
    MILP = "milp"
    HEURISTIC = "heuristic"


@dataclass(frozen=True, slots=True)
class Tier:
    """All-units price break: once a supplier's total reaches ``min_quantity`` every unit costs
    ``unit_price``."""

    min_quantity: int
    unit_price: Decimal

    def __post_init__(self) -> None:
        if self.min_quantity < 0:
            raise ValueError("tier min_quantity must be >= 0")
        if not self.unit_price.is_finite() or self.unit_price < 0:
            raise ValueError("tier unit_price must be a finite, non-negative Decimal")


@dataclass(frozen=True, slots=True)
class Offer:
    """One supplier's catalog item for the SKU, with what limits where, when and how much it delivers."""

    supplier_id: str
    regions: frozenset[str]
    lead_time_days: int
    capacity_per_cycle: int
    min_order_quantity: int
    tiers: tuple[Tier, ...]
    risk: RiskLevel = RiskLevel.OK
    regional_risk: tuple[tuple[str, RiskLevel], ...] = ()
    """(country, risk) pairs that replace ``risk`` for requests shipping to that country (a risk
    alert may cover one region of a supplier only)."""

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError(f"offer {self.supplier_id}: at least one tier is required")
        if self.lead_time_days < 0 or self.capacity_per_cycle < 0 or self.min_order_quantity < 0:
            raise ValueError(f"offer {self.supplier_id}: lead time, capacity and MOQ must be >= 0")
        for lower, upper in zip(self.tiers, self.tiers[1:]):
            if upper.min_quantity <= lower.min_quantity:
                raise ValueError(f"offer {self.supplier_id}: tiers must be sorted by min_quantity")
            if upper.unit_price > lower.unit_price:
                raise ValueError(f"offer {self.supplier_id}: tier prices must not rise with quantity")

    def risk_in(self, country: str) -> RiskLevel:
        """The offer's risk for a request shipping to ``country``."""
        for region, level in self.regional_risk:
            if region == country:
                return level
        return self.risk


@dataclass(frozen=True, slots=True)
class Demand:
    """One open purchase request; ``country`` is the ship-to country, else the member's region."""

    request_id: str
    member_id: str
    quantity: int
    needed_by: date
    country: str
    max_unit_price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"request {self.request_id}: quantity must be >= 1")


@dataclass(frozen=True, slots=True)
class Placement:
    """A placed request: the supplier, the tier price its total reached and the standalone benchmark."""

    request_id: str
    supplier_id: str
    quantity: int
    unit_price: Decimal
    standalone_unit_price: Decimal | None

    @property
    def savings(self) -> Decimal:
        """What pooling saved this request against ordering alone."""
        return savings(self.quantity, self.unit_price, self.standalone_unit_price)


@dataclass(frozen=True, slots=True)
class SupplierOrder:
    """The pooled order sent to one supplier; every unit is billed at ``unit_price``."""

    supplier_id: str
    quantity: int
    unit_price: Decimal

    @property
    def cost(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class SolveStats:
    """How the answer was found (``method``, ``wall_seconds``) and how good it is proven to be:
    ``gap`` is the relative cost gap to the best lower bound (0.0 = optimal), ``quantity_bound`` the
    proven maximum placeable quantity."""

    method: SolveMethod
    wall_seconds: float
    gap: float
    quantity_bound: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The bundle for one SKU and cycle. Mappings keep the input order of the requests."""

    placements: Mapping[str, Placement]
    unplaced: Mapping[str, UnplacedReason]
    supplier_orders: tuple[SupplierOrder, ...]
    placed_quantity: int
    total_cost: Decimal
    share_cap_relaxed: bool
    stats: SolveStats

    @property
    def assignment(self) -> dict[str, str | None]:
        """request_id -> supplier_id, or None when the request is unplaced."""
        chosen: dict[str, str | None] = {rid: p.supplier_id for rid, p in self.placements.items()}
        chosen.update(dict.fromkeys(self.unplaced))
        return chosen


def savings(quantity: int, unit_price: Decimal, standalone_unit_price: Decimal | None) -> Decimal:
    """Saving against ordering alone: ``quantity * (standalone - unit_price)``, 0 without a standalone
    price."""
    if standalone_unit_price is None:
        return Decimal(0)
    return quantity * (standalone_unit_price - unit_price)


def optimize_bundle(
    offers: Sequence[Offer],
    demands: Sequence[Demand],
    *,
    order_date: date,
    max_supplier_share: float | Decimal,
    time_limit_seconds: float = 1.0,
    gap_tolerance: float = 1e-4,
) -> Decision:
    """Bundle one SKU's requests of an order cycle onto its suppliers' offers.

    ``max_supplier_share`` is the share cap (e.g. 0.7; 1 or more disables it). ``time_limit_seconds``
    bounds the MILP and local search of the call, the fallback heuristic answering when it runs out.
    ``gap_tolerance`` is the relative cost gap accepted as optimal (0 demands proven optimality).
    """
    started = time.perf_counter()
    if max_supplier_share <= 0:
        raise ValueError("max_supplier_share must be > 0")
    _require_unique([o.supplier_id for o in offers], "supplier_id")
    _require_unique([d.request_id for d in demands], "request_id")
    share = Fraction(str(max_supplier_share))
    instance, reasons = _prepare(offers, demands, order_date, share)
    plan = _Solver(instance, started + time_limit_seconds, gap_tolerance).solve()
    return _decision(demands, instance, reasons, plan, started)


# --------------------------------------------------------------------------------------------------
# Preparation: eligibility, standalone prices, price bounds


@dataclass(frozen=True, slots=True)
class _Band:
    """Quantity range ``[low, high]`` over which a supplier's total earns one tier's price."""

    tier_index: int
    low: int
    high: int
    price: Decimal
    price_units: int


class _Candidate(NamedTuple):
    """A request that some supplier may take: ``options`` maps supplier index -> lowest tier index whose
    price the request accepts (tier prices fall with the index)."""

    position: int
    quantity: int
    options: dict[int, int]
    standalone: Decimal | None


@dataclass(frozen=True, slots=True)
class _Instance:
    """The solver's view of one SKU: usable offers, candidate requests and the share cap if it applies."""

    offers: tuple[Offer, ...]
    price_units: tuple[tuple[int, ...], ...]
    candidates: tuple[_Candidate, ...]
    share: Fraction | None


def _require_unique(ids: list[str], name: str) -> None:
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate {name}")


def _price_places(offers: Sequence[Offer]) -> int:
    """Decimal places that turn every tier price into an exact integer."""
    places = 0
    for offer in offers:
        for tier in offer.tiers:
            exponent = tier.unit_price.as_tuple().exponent
            assert isinstance(exponent, int)  # finite prices are validated in Tier
            places = max(places, -exponent)
    return places


def _bands(offer: Offer, capacity: int, units: tuple[int, ...]) -> tuple[_Band, ...]:
    """Reachable tier bands of an offer whose total may not exceed ``capacity``."""
    tiers = offer.tiers
    floor = max(offer.min_order_quantity, tiers[0].min_quantity, 1)
    bands = []
    for index, tier in enumerate(tiers):
        upper = tiers[index + 1].min_quantity - 1 if index + 1 < len(tiers) else capacity
        low, high = max(tier.min_quantity, floor), min(upper, capacity)
        if low <= high:
            bands.append(_Band(index, low, high, tier.unit_price, units[index]))
    return tuple(bands)


def _prepare(
    offers: Sequence[Offer], demands: Sequence[Demand], order_date: date, share: Fraction
) -> tuple[_Instance, dict[int, UnplacedReason]]:
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
    candidates: list[_Candidate] = []
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
            priced = priced_memo[key] = pricing._price(*key)
        if priced.__class__ is tuple:
            candidates.append(_Candidate(position, quantity, *priced))
        else:
            reasons[position] = priced  # type: ignore[assignment]
    competing = len({s for c in candidates for s in c.options}) >= 2
    instance = _Instance(usable, units, tuple(candidates), share if competing and share < 1 else None)
    return instance, reasons


_Priced = UnplacedReason | tuple[dict[int, int], Decimal | None]


class _RequestPricing:
    """Standalone price and supplier options of a request, memoised per (eligible suppliers, quantity,
    max_unit_price) since many requests of a cycle share them."""

    def __init__(self, offers: tuple[Offer, ...], units: tuple[tuple[int, ...], ...]) -> None:
        self.bands = [_bands(o, o.capacity_per_cycle, u) for o, u in zip(offers, units)]
        self.lows = [[b.low for b in bs] for bs in self.bands]
        self.prices = [[tier.unit_price for tier in o.tiers] for o in offers]
        self.first_within: dict[tuple[int, Decimal], int | None] = {}
        self.memo: dict[tuple[tuple[int, ...], int, Decimal | None], _Priced] = {}
        self.canonical: dict[tuple[tuple[int, int], ...], dict[int, int]] = {}
        """One dict per distinct options content, so later stages can memoise per options object."""

    def price(self, eligible: tuple[int, ...], quantity: int, ceiling: Decimal | None) -> _Priced:
        """(options, standalone price) of a placeable request, else why it cannot be placed at all."""
        key = (eligible, quantity, ceiling)
        known = self.memo.get(key)
        if known is None:
            known = self.memo[key] = self._price(eligible, quantity, ceiling)
        return known

    def _first_tier_within(self, supplier: int, bound: Decimal | None) -> int | None:
        """Index of the supplier's first tier priced within ``bound`` (all later ones are too)."""
        if bound is None:
            return 0
        key = (supplier, bound)
        if key not in self.first_within:
            prices = self.prices[supplier]
            self.first_within[key] = next((i for i, price in enumerate(prices) if price <= bound), None)
        return self.first_within[key]

    def _price(self, eligible: tuple[int, ...], quantity: int, ceiling: Decimal | None) -> _Priced:
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


# --------------------------------------------------------------------------------------------------
# Supply side under given capacities, exact evaluation, simple bounds


class _Supply:
    """The bands every usable offer can reach when its total is limited to ``caps[s]``, and the
    (supplier, lowest acceptable tier) options of each candidate that remain usable under them."""

    __slots__ = ("bands", "caps", "lows", "options")

    def __init__(self, instance: _Instance, caps: list[int]) -> None:
        self.caps = caps
        self.bands = [_bands(o, c, u) for o, c, u in zip(instance.offers, caps, instance.price_units)]
        self.lows = [[b.low for b in bs] for bs in self.bands]
        top = [bs[-1].tier_index if bs else -1 for bs in self.bands]
        reduced = {s for s, (offer, cap) in enumerate(zip(instance.offers, caps)) if cap < offer.capacity_per_cycle}
        # Many candidates share one options dict (see _RequestPricing.canonical): filter each once.
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

    def band_for(self, supplier: int, total: int) -> _Band | None:
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

    def quantity_bound(self, instance: _Instance) -> int:
        """Every placeable unit, limited by the suppliers' capacities."""
        placeable = sum(c.quantity for c, options in zip(instance.candidates, self.options) if options)
        return min(placeable, sum(bs[-1].high for bs in self.bands if bs))

    def cost_floor(self, instance: _Instance, quantity: int) -> int:
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


def _evaluate(instance: _Instance, supply: _Supply, assignment: list[int]) -> tuple[int, int] | None:
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


# --------------------------------------------------------------------------------------------------
# Band relaxation: exact for divisible quantities, solved by branch and bound over tier bands


_MAX_BAND_SEARCH_SUPPLIERS = 8
_MAX_BAND_SEARCH_NODES = 400


@dataclass(frozen=True, slots=True)
class _BandChoice:
    """Optimum of the band relaxation: suppliers' totals (positive ones only) and its value."""

    totals: dict[int, int]
    quantity: int
    cost: int


class _BandSearch:
    """Lexicographic optimum when requests may be split across suppliers but tier rules stay exact.

    With every supplier's band fixed, the feasible supplier totals of split requests form a
    polymatroid (a bipartite transportation polytope), so filling suppliers greedily in price order
    gives the most quantity at the least cost. A node lets each supplier use a contiguous range of
    its bands, optionally none: relaxing to the range's cheapest price, widest acceptance and loosest
    bounds. A node whose greedy totals all fall in the bands they were priced at is solved; otherwise
    the first supplier that fell short of its band is branched on (that band, or a lower one or none).
    Best-first search returns the optimum at the first solved node it pops.
    """

    def __init__(self, supply: _Supply, candidates: Sequence[_Candidate]) -> None:
        demand: dict[tuple[tuple[int, int], ...], int] = {}
        for candidate, options in zip(candidates, supply.options):
            if options:
                demand[options] = demand.get(options, 0) + candidate.quantity
        self.suppliers = sorted({s for options in demand for s, _ in options})
        position = {s: p for p, s in enumerate(self.suppliers)}
        self.types = [(tuple((position[s], j) for s, j in options), d) for options, d in demand.items()]
        self.bands = [supply.bands[s] for s in self.suppliers]
        self.masks_with: list[list[int]] = []

    def solve(self) -> _BandChoice | None:
        """The relaxation's optimum, or None when the search is too large to finish quickly."""
        size = len(self.suppliers)
        if size > _MAX_BAND_SEARCH_SUPPLIERS:
            return None
        self.masks_with = [[m for m in range(1 << size) if m >> p & 1] for p in range(size)]
        root = tuple((0, len(bands) - 1, True) for bands in self.bands)
        relaxed = self._relax(root)
        assert relaxed is not None  # all suppliers off is always feasible at the root
        queue = [(-relaxed[1], relaxed[2], 0, root, relaxed[0])]
        pushed = 0
        while queue:
            _, cost, _, node, totals = heapq.heappop(queue)
            short = next((p for p, total in enumerate(totals) if total and total < self.bands[p][node[p][1]].low), None)
            if short is None:
                chosen = {self.suppliers[p]: total for p, total in enumerate(totals) if total}
                return _BandChoice(chosen, sum(totals), cost)
            low, high, may_close = node[short]
            children = [(high, high, False)]
            if high > low or may_close:
                children.append((low, high - 1, may_close))
            for child in children:
                branch = node[:short] + (child,) + node[short + 1 :]
                relaxed = self._relax(branch)
                if relaxed is not None:
                    pushed += 1
                    heapq.heappush(queue, (-relaxed[1], relaxed[2], pushed, branch, relaxed[0]))
            if pushed > _MAX_BAND_SEARCH_NODES:
                return None
        raise AssertionError("the band search always reaches a solved node")

    def _relax(self, node: tuple[tuple[int, int, bool], ...]) -> tuple[list[int], int, int] | None:
        """Greedy totals, quantity and cost of a node's relaxation; None when its minimums clash."""
        size = len(self.suppliers)
        every = (1 << size) - 1
        open_ = [high >= low for low, high, _ in node]
        tiers = [self.bands[p][high].tier_index if open_[p] else -1 for p, (_, high, _) in enumerate(node)]
        covered = [0] * (1 << size)
        for options, demand in self.types:
            reach = 0
            for p, j in options:
                if j <= tiers[p]:
                    reach |= 1 << p
            covered[reach] += demand
        for p in range(size):
            bit = 1 << p
            for mask in self.masks_with[p]:
                covered[mask] += covered[mask ^ bit]
        limit = [covered[every] - covered[every ^ mask] for mask in range(1 << size)]
        used = [0] * (1 << size)
        totals = [0] * size

        def fill(p: int, amount: int) -> int:
            step = min(amount, min(limit[m] - used[m] for m in self.masks_with[p]))
            if step > 0:
                for m in self.masks_with[p]:
                    used[m] += step
                totals[p] += step
            return step

        for p, (low, _, may_close) in enumerate(node):
            if not may_close:
                minimum = self.bands[p][low].low
                if not open_[p] or fill(p, minimum) < minimum:
                    return None
        prices = [self.bands[p][high].price_units if open_[p] else 0 for p, (_, high, _) in enumerate(node)]
        for p in sorted((p for p in range(size) if open_[p]), key=prices.__getitem__):
            fill(p, self.bands[p][node[p][1]].high - totals[p])
        return totals, sum(totals), sum(t * price for t, price in zip(totals, prices))


def _route(demands: list[int], reach: list[tuple[int, ...]], targets: dict[int, int]) -> list[dict[int, int]]:
    """Split each type's demand over the suppliers it may use so every supplier gets exactly its
    target (a feasible transportation flow: greedy fill in the given type order, then augmenting
    paths); types early in the order tend to stay whole."""
    flows: list[dict[int, int]] = [{} for _ in demands]
    spare, room = list(demands), dict(targets)
    users: dict[int, list[int]] = {s: [] for s in targets}
    for g, suppliers in enumerate(reach):
        for s in suppliers:
            users[s].append(g)
            step = min(spare[g], room[s])
            if step:
                flows[g][s] = step
                spare[g] -= step
                room[s] -= step
    while any(room.values()):
        end, via_supplier, via_type = _augmenting_path(reach, users, flows, spare, room)
        forward, backward, s = [], [], end
        while True:
            g = via_supplier[s]
            forward.append((g, s))
            came_from = via_type[g]
            if came_from is None:
                break
            backward.append((g, came_from))
            s = came_from
        step = min(spare[g], room[end], *(flows[h][t] for h, t in backward))
        for h, t in forward:
            flows[h][t] = flows[h].get(t, 0) + step
        for h, t in backward:
            flows[h][t] -= step
        spare[g] -= step
        room[end] -= step
    return flows


def _augmenting_path(
    reach: list[tuple[int, ...]],
    users: dict[int, list[int]],
    flows: list[dict[int, int]],
    spare: list[int],
    room: dict[int, int],
) -> tuple[int, dict[int, int], dict[int, int | None]]:
    """Breadth-first search from types with spare demand to a supplier with room, moving forward
    along any usable type -> supplier arc and back along arcs carrying flow. Returns the supplier
    reached, the type each supplier was reached from, and the supplier each type was reached from
    (None for a starting type)."""
    via_type: dict[int, int | None] = {g: None for g, left in enumerate(spare) if left}
    via_supplier: dict[int, int] = {}
    frontier = list(via_type)
    while frontier:
        following = []
        for g in frontier:
            for s in reach[g]:
                if s in via_supplier:
                    continue
                via_supplier[s] = g
                if room[s]:
                    return s, via_supplier, via_type
                for h in users[s]:
                    if h not in via_type and flows[h].get(s):
                        via_type[h] = s
                        following.append(h)
        frontier = following
    raise AssertionError("targets come from a feasible relaxation, so a path exists")


def _realize(instance: _Instance, supply: _Supply, choice: _BandChoice) -> list[int]:
    """Whole-request assignment aiming at the relaxation's supplier totals: split each type's demand
    by a flow, fill each share with an exact (else largest) subset sum of the type's requests, then
    top up suppliers still short with the smallest covering sum of unplaced requests they may take
    (suppliers below their band's minimum first)."""
    candidates = instance.candidates
    bands: dict[int, _Band] = {}
    for s, total in choice.totals.items():
        band = supply.band_for(s, total)
        assert band is not None  # the relaxation's totals lie in their bands
        bands[s] = band
    usable_by_options: dict[tuple[tuple[int, int], ...], tuple[int, ...]] = {}
    groups: dict[tuple[int, ...], list[int]] = {}
    allowed: list[tuple[int, ...]] = []
    for i, options in enumerate(supply.options):
        usable = usable_by_options.get(options)
        if usable is None:
            usable = usable_by_options[options] = tuple(
                s for s, j in options if s in bands and j <= bands[s].tier_index
            )
        allowed.append(usable)
        if usable:
            groups.setdefault(usable, []).append(i)
    reach = sorted(groups, key=lambda key: len(groups[key]))
    flows = _route([sum(candidates[i].quantity for i in groups[key]) for key in reach], reach, choice.totals)
    assignment = [-1] * len(candidates)
    totals = dict.fromkeys(choice.totals, 0)
    for key, shares in zip(reach, flows):
        remaining = sorted(groups[key], key=lambda i: -candidates[i].quantity)
        for s, share in sorted(shares.items(), key=lambda item: item[1]):
            chosen = set(_subset_within(remaining, [candidates[i].quantity for i in remaining], share))
            for i in chosen:
                assignment[i] = s
                totals[s] += candidates[i].quantity
            remaining = [i for i in remaining if i not in chosen]
    for s, target in sorted(choice.totals.items(), key=lambda item: totals[item[0]] >= bands[item[0]].low):
        if totals[s] < target:
            pool = [i for i, usable in enumerate(allowed) if assignment[i] < 0 and s in usable]
            sizes = [candidates[i].quantity for i in pool]
            for i in _subset_covering(pool, sizes, target - totals[s], bands[s].high - totals[s]):
                assignment[i] = s
                totals[s] += candidates[i].quantity
    return assignment


def _subset_covering(items: list[int], sizes: list[int], need: int, most: int) -> list[int]:
    """Items with the smallest size sum in ``[need, most]``; else the largest sum below ``need``."""
    most = min(most, need + max(sizes, default=0))
    table = _subset_sums(sizes, most)
    if table is None:
        return _subset_within(items, sizes, need)
    history, reachable = table
    above = reachable >> need
    if above:
        total = need + (above & -above).bit_length() - 1
    else:
        total = (reachable & ((1 << need) - 1)).bit_length() - 1
    return _pick(items, sizes, history, total)


def _subset_within(items: list[int], sizes: list[int], target: int) -> list[int]:
    """Items with the largest size sum not above ``target``, preferring large items so small ones stay
    available: greedy largest-first when it is exact, else an exact subset-sum within budget."""
    order = sorted(zip(items, sizes), key=lambda pair: -pair[1])
    greedy, left = [], target
    for item, size in order:
        if size <= left:
            greedy.append(item)
            left -= size
    if left == 0:
        return greedy
    ordered_items, ordered_sizes = [item for item, _ in order], [size for _, size in order]
    table = _subset_sums(ordered_sizes, target)
    if table is None or table[1].bit_length() - 1 <= target - left:
        return greedy
    history, reachable = table
    return _pick(ordered_items, ordered_sizes, history, reachable.bit_length() - 1)


_SUBSET_SUM_BITS = 1 << 26


def _subset_sums(sizes: list[int], limit: int) -> tuple[list[int], int] | None:
    """Bitsets of the sums up to ``limit`` reachable before each size and after all of them; None
    when the table would exceed ``_SUBSET_SUM_BITS`` (items x sum range) of work and memory."""
    if len(sizes) * (limit + 1) > _SUBSET_SUM_BITS:
        return None
    mask = (1 << (limit + 1)) - 1
    reachable, history = 1, []
    for size in sizes:
        history.append(reachable)
        reachable = (reachable | reachable << size) & mask
    return history, reachable


def _pick(items: list[int], sizes: list[int], history: list[int], total: int) -> list[int]:
    """Items reaching the reachable sum ``total``; later items are dropped whenever earlier ones suffice."""
    chosen = []
    for item, size, before in zip(reversed(items), reversed(sizes), reversed(history)):
        if not before >> total & 1:
            chosen.append(item)
            total -= size
    return chosen


# --------------------------------------------------------------------------------------------------
# Heuristics: greedy construction with repair, local search


def _greedy(instance: _Instance, supply: _Supply) -> list[int]:
    """Largest requests first to the supplier with the cheapest reachable price and room left, then
    drop what breaks a minimum order or a price bound and re-insert where it fits."""
    candidates = instance.candidates
    assignment = [-1] * len(candidates)
    room = list(supply.caps)
    best_units = [bs[-1].price_units if bs else 0 for bs in supply.bands]
    order = sorted(range(len(candidates)), key=lambda i: -candidates[i].quantity)
    for i in order:
        quantity = candidates[i].quantity
        fitting = [(best_units[s], s) for s, _ in supply.options[i] if room[s] >= quantity]
        if fitting:
            s = min(fitting)[1]
            assignment[i] = s
            room[s] -= quantity
    _repair(instance, supply, assignment, order)
    return assignment


def _repair(instance: _Instance, supply: _Supply, assignment: list[int], order: list[int]) -> None:
    """Drop requests until every minimum order and price bound holds, then re-insert where they fit."""
    candidates = instance.candidates
    members: dict[int, list[int]] = {}
    for i, s in enumerate(assignment):
        if s >= 0:
            members.setdefault(s, []).append(i)
    closed: set[int] = set()
    changed = True
    while changed:
        changed = False
        for s, assigned in members.items():
            if not assigned:
                continue
            band = supply.band_for(s, sum(candidates[i].quantity for i in assigned))
            if band is None:
                closed.add(s)
            keep = [] if band is None else [i for i in assigned if candidates[i].options[s] <= band.tier_index]
            if len(keep) < len(assigned):
                for i in set(assigned) - set(keep):
                    assignment[i] = -1
                members[s] = keep
                changed = True
    totals = [0] * len(instance.offers)
    for s, assigned in members.items():
        totals[s] = sum(candidates[i].quantity for i in assigned)
    for i in order:
        if assignment[i] >= 0:
            continue
        quantity = candidates[i].quantity
        fitting = []
        for s, j in supply.options[i]:
            band = None if s in closed else supply.band_for(s, totals[s] + quantity)
            if band is not None and band.tier_index >= j:
                fitting.append((band.price_units, s))
        if fitting:
            s = min(fitting)[1]
            assignment[i] = s
            totals[s] += quantity


def _improve(instance: _Instance, supply: _Supply, assignment: list[int], deadline: float) -> None:
    """First-improvement local search: insert unplaced requests, move placed ones to cut cost."""
    candidates = instance.candidates
    totals = [0] * len(instance.offers)
    needs: list[dict[int, int]] = [{} for _ in instance.offers]
    for i, s in enumerate(assignment):
        if s >= 0:
            totals[s] += candidates[i].quantity
            j = candidates[i].options[s]
            needs[s][j] = needs[s].get(j, 0) + 1

    def need_without(s: int, j: int) -> int:
        return max((t for t, n in needs[s].items() if n - (t == j) > 0), default=-1)

    improved = True
    while improved:
        improved = False
        for i, candidate in enumerate(candidates):
            if i % 512 == 0 and time.perf_counter() >= deadline:
                return
            quantity, current = candidate.quantity, assignment[i]
            base = 0
            if current >= 0:
                after = totals[current] - quantity
                band = supply.band_for(current, after) if after else None
                if after and (band is None or band.tier_index < need_without(current, candidate.options[current])):
                    continue
                base = supply.cost_units(current, after) - supply.cost_units(current, totals[current])
            best: tuple[int, int] | None = None
            for s, j in supply.options[i]:
                if s == current:
                    continue
                band = supply.band_for(s, totals[s] + quantity)
                if band is None or band.tier_index < j:
                    continue
                delta = base + (totals[s] + quantity) * band.price_units - supply.cost_units(s, totals[s])
                if best is None or delta < best[0]:
                    best = (delta, s)
            if best is None or (current >= 0 and best[0] >= 0):
                continue
            target = best[1]
            if current >= 0:
                totals[current] -= quantity
                j = candidate.options[current]
                needs[current][j] -= 1
                if not needs[current][j]:
                    del needs[current][j]
            totals[target] += quantity
            j = candidate.options[target]
            needs[target][j] = needs[target].get(j, 0) + 1
            assignment[i] = target
            improved = True


# --------------------------------------------------------------------------------------------------
# MILP over request classes


@dataclass(frozen=True, slots=True)
class _MilpOutcome:
    assignment: list[int] | None
    infeasible: bool
    bound: float


class _ModelBuilder:
    """Accumulates an all-integer model column by column for HiGHS."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.col_upper: list[float] = []
        self.starts: list[int] = [0]
        self.indices: list[int] = []
        self.values: list[float] = []
        self.row_lower: list[float] = []
        self.row_upper: list[float] = []

    def row(self, lower: float, upper: float) -> int:
        self.row_lower.append(lower)
        self.row_upper.append(upper)
        return len(self.row_lower) - 1

    def column(self, cost: float, upper: float, entries: list[tuple[int, float]]) -> int:
        self.cost.append(cost)
        self.col_upper.append(upper)
        for row, value in entries:
            self.indices.append(row)
            self.values.append(value)
        self.starts.append(len(self.indices))
        return len(self.cost) - 1

    def solve(
        self, seconds: float, gap_tolerance: float, start: np.ndarray | None
    ) -> tuple[highspy.HighsModelStatus, np.ndarray | None, float]:
        columns, rows = len(self.cost), len(self.row_lower)
        highs = highspy.Highs()
        highs.setOptionValue("output_flag", False)
        highs.setOptionValue("time_limit", max(seconds, 1e-3))
        highs.setOptionValue("mip_rel_gap", gap_tolerance)
        highs.passModel(
            columns,
            rows,
            len(self.indices),
            int(highspy.MatrixFormat.kColwise),
            int(highspy.ObjSense.kMinimize),
            0.0,
            np.asarray(self.cost, dtype=np.float64),
            np.zeros(columns),
            np.asarray(self.col_upper, dtype=np.float64),
            np.asarray(self.row_lower, dtype=np.float64),
            np.asarray(self.row_upper, dtype=np.float64),
            np.asarray(self.starts[:-1], dtype=np.int32),
            np.asarray(self.indices, dtype=np.int32),
            np.asarray(self.values, dtype=np.float64),
            np.full(columns, int(highspy.HighsVarType.kInteger), dtype=np.int32),
        )
        if start is not None:
            highs.setSolution(columns, np.arange(columns, dtype=np.int32), start)
        highs.run()
        info = highs.getInfo()
        values = None
        if info.primal_solution_status == int(highspy.SolutionStatus.kSolutionStatusFeasible):
            values = np.asarray(highs.getSolution().col_value)
        return highs.getModelStatus(), values, info.mip_dual_bound


def _milp(
    instance: _Instance,
    supply: _Supply,
    *,
    target: int | None,
    proven: float,
    start: list[int] | None,
    seconds: float,
    gap_tolerance: float,
) -> _MilpOutcome:
    """Maximise placed quantity (``target`` None) or minimise cost placing exactly ``target`` units.
    ``proven`` is a known bound on that objective (quantity ceiling, cost floor), added as a cut.

    Columns: n[class, supplier] requests of a class sent to a supplier; per supplier and band the
    integer total Q and the binary y choosing that band. Rows: Q = sum(q * n) per supplier, low*y <=
    Q <= high*y, one band per supplier, class counts, and for each tier threshold t the quantity of
    requests needing tier >= t at a supplier is at most its total in bands of tier >= t.
    """
    classes: dict[tuple[int, tuple[tuple[int, int], ...]], list[int]] = {}
    for i, (candidate, options) in enumerate(zip(instance.candidates, supply.options)):
        if options:
            classes.setdefault((candidate.quantity, options), []).append(i)
    suppliers = sorted({s for _, options in classes for s, _ in options})
    thresholds: dict[int, set[int]] = {s: set() for s in suppliers}
    for _, options in classes:
        for s, j in options:
            if j > supply.bands[s][0].tier_index:
                thresholds[s].add(j)

    model = _ModelBuilder()
    balance = {s: model.row(0.0, 0.0) for s in suppliers}
    price_rows = {(s, t): model.row(-math.inf, 0.0) for s in suppliers for t in sorted(thresholds[s])}
    total_row = None if target is None else model.row(target, target)
    bound_row = model.row(-math.inf, proven) if target is None else model.row(proven, math.inf)

    class_columns: list[tuple[list[int], tuple[tuple[int, int], ...], int]] = []
    for (quantity, options), members in classes.items():
        count_row = model.row(-math.inf, len(members)) if len(options) > 1 else None
        first = len(model.cost)
        for s, j in options:
            entries = [(balance[s], float(quantity))]
            entries += [(price_rows[s, t], float(quantity)) for t in thresholds[s] if t <= j]
            if count_row is not None:
                entries.append((count_row, 1.0))
            model.column(0.0, len(members), entries)
        class_columns.append((members, options, first))

    band_columns: dict[int, list[tuple[_Band, int, int]]] = {}
    for s in suppliers:
        bands = supply.bands[s]
        choice_row = model.row(-math.inf, 1.0) if len(bands) > 1 else None
        band_columns[s] = []
        for band in bands:
            upper_row, lower_row = model.row(-math.inf, 0.0), model.row(0.0, math.inf)
            entries = [(balance[s], -1.0), (upper_row, 1.0), (lower_row, 1.0)]
            entries += [(price_rows[s, t], -1.0) for t in thresholds[s] if t <= band.tier_index]
            if total_row is None:
                entries.append((bound_row, 1.0))
            else:
                entries += [(total_row, 1.0), (bound_row, float(band.price_units))]
            total_column = model.column(-1.0 if target is None else band.price_units, band.high, entries)
            choice = [(upper_row, -float(band.high)), (lower_row, -float(band.low))]
            if choice_row is not None:
                choice.append((choice_row, 1.0))
            band_columns[s].append((band, total_column, model.column(0.0, 1.0, choice)))

    warm = None
    if start is not None:
        warm = np.zeros(len(model.cost))
        totals = dict.fromkeys(suppliers, 0)
        for members, options, first in class_columns:
            for offset, (s, _) in enumerate(options):
                sent = sum(1 for i in members if start[i] == s)
                warm[first + offset] = sent
                totals[s] += sent * instance.candidates[members[0]].quantity
        for s, columns in band_columns.items():
            reached = supply.band_for(s, totals[s]) if totals[s] else None
            for band, total_column, choice_column in columns:
                if band is reached:
                    warm[total_column], warm[choice_column] = totals[s], 1.0

    status, values, bound = model.solve(seconds, 0.0 if target is None else gap_tolerance, warm)
    if values is None:
        return _MilpOutcome(None, status == highspy.HighsModelStatus.kInfeasible, bound)
    assignment = [-1] * len(instance.candidates)
    for members, options, first in class_columns:
        position = 0
        for offset, (s, _) in enumerate(options):
            count = round(values[first + offset])
            for i in members[position : position + count]:
                assignment[i] = s
            position += count
    return _MilpOutcome(assignment, False, bound)


# --------------------------------------------------------------------------------------------------
# Orchestration


@dataclass(frozen=True, slots=True)
class _Stage:
    """A feasible assignment with its value and the best proven lower bound on its cost."""

    assignment: list[int]
    quantity: int
    cost: int
    method: SolveMethod
    lower_bound: float


@dataclass(frozen=True, slots=True)
class _Relaxation:
    """Band relaxation optimum (quantity upper bound, cost lower bound there) and its realisation."""

    quantity: int
    cost: int
    assignment: list[int]
    realized: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class _Plan:
    assignment: list[int]
    supply: _Supply
    method: SolveMethod
    gap: float
    quantity_bound: int
    share_cap_relaxed: bool


_WEAKEST_METHOD_FIRST = (SolveMethod.HEURISTIC, SolveMethod.MILP, SolveMethod.COMBINATORIAL)


class _Solver:
    """Runs the two lexicographic phases with their shortcuts and fallbacks within one deadline."""

    def __init__(self, instance: _Instance, deadline: float, gap_tolerance: float) -> None:
        self.instance = instance
        self.deadline = deadline
        self.gap_tolerance = gap_tolerance
        self.full = _Supply(instance, [o.capacity_per_cycle for o in instance.offers])

    def _seconds_left(self) -> float:
        return self.deadline - time.perf_counter()

    def _relaxation(self, supply: _Supply) -> _Relaxation | None:
        """Band relaxation optimum under ``supply`` and its best realisation, None when too large."""
        choice = _BandSearch(supply, self.instance.candidates).solve()
        if choice is None:
            return None
        assignment = _realize(self.instance, supply, choice)
        realized = _evaluate(self.instance, supply, assignment)
        if realized is None or realized[0] < choice.quantity:
            order = sorted(range(len(assignment)), key=lambda i: -self.instance.candidates[i].quantity)
            _repair(self.instance, supply, assignment, order)
            _improve(self.instance, supply, assignment, self.deadline)
            realized = _evaluate(self.instance, supply, assignment)
        return _Relaxation(choice.quantity, choice.cost, assignment, realized)

    def _certified(self, relaxation: _Relaxation | None, quantity: int) -> _Stage | None:
        """The realisation as a final answer if it places the relaxation's quantity within the gap."""
        if relaxation is None or relaxation.realized is None or relaxation.quantity != quantity:
            return None
        placed, cost = relaxation.realized
        if placed != quantity or cost - relaxation.cost > self.gap_tolerance * cost:
            return None
        return _Stage(relaxation.assignment, quantity, cost, SolveMethod.COMBINATORIAL, relaxation.cost)

    def solve(self) -> _Plan:
        relaxation = self._relaxation(self.full)
        quantity_bound = self.full.quantity_bound(self.instance)
        if relaxation is not None:
            quantity_bound = min(quantity_bound, relaxation.quantity)
        uncapped = self._certified(relaxation, quantity_bound)
        if uncapped is not None:
            incumbent, quantity_method, quantity = uncapped.assignment, uncapped.method, uncapped.quantity
        else:
            start = relaxation.assignment if relaxation is not None and relaxation.realized else None
            incumbent, quantity_method, quantity_bound = self._max_quantity(quantity_bound, start)
            scored = _evaluate(self.instance, self.full, incumbent)
            assert scored is not None
            quantity = scored[0]
        capped = None
        stage: _Stage | None = None
        if self.instance.share is not None and quantity:
            limit = math.floor(self.instance.share * quantity)
            capped = _Supply(self.instance, [min(c, limit) for c in self.full.caps])
            if uncapped is not None and _evaluate(self.instance, capped, uncapped.assignment) is not None:
                stage = uncapped
            else:
                stage = self._capped(capped, quantity)
        relaxed = capped is not None and stage is None
        if stage is None:
            stage = uncapped or self._min_cost(self.full, quantity, incumbent, relaxation)
            assert stage is not None  # the incumbent itself places the quantity
        method = next(m for m in _WEAKEST_METHOD_FIRST if m in (quantity_method, stage.method))
        gap = 0.0 if stage.cost <= stage.lower_bound else (stage.cost - stage.lower_bound) / stage.cost
        supply = capped if capped is not None and not relaxed else self.full
        return _Plan(stage.assignment, supply, method, gap, quantity_bound, relaxed)

    def _capped(self, capped: _Supply, quantity: int) -> _Stage | None:
        """Cheapest bundle placing ``quantity`` under the share cap, None when the cap cannot hold."""
        relaxation = self._relaxation(capped)
        if relaxation is not None and relaxation.quantity < quantity:
            return None
        stage = self._certified(relaxation, quantity)
        if stage is not None:
            return stage
        if relaxation is not None and relaxation.realized and relaxation.realized[0] == quantity:
            start = relaxation.assignment
        else:
            start = _greedy(self.instance, capped)
            scored = _evaluate(self.instance, capped, start)
            if scored is None or scored[0] < quantity:
                _improve(self.instance, capped, start, self.deadline)
        scored = _evaluate(self.instance, capped, start)
        return self._min_cost(capped, quantity, start if scored and scored[0] == quantity else None, relaxation)

    def _max_quantity(self, quantity_bound: int, start: list[int] | None) -> tuple[list[int], SolveMethod, int]:
        """Largest placeable quantity without the share cap: greedy, then the MILP if it falls short."""
        incumbent = _greedy(self.instance, self.full)
        scored = _evaluate(self.instance, self.full, incumbent)
        assert scored is not None
        if start is not None:
            other = _evaluate(self.instance, self.full, start)
            if other is not None and other[0] >= scored[0]:
                incumbent, scored = start, other
        if scored[0] == quantity_bound:
            return incumbent, SolveMethod.COMBINATORIAL, quantity_bound
        if highspy is not None and self._seconds_left() > 0:
            outcome = _milp(
                self.instance,
                self.full,
                target=None,
                proven=quantity_bound,
                start=incumbent,
                seconds=self._seconds_left() / 2,
                gap_tolerance=0.0,
            )
            if outcome.assignment is not None:
                solved = _evaluate(self.instance, self.full, outcome.assignment)
                if solved is not None and solved[0] >= scored[0]:
                    if math.isfinite(outcome.bound):
                        quantity_bound = min(quantity_bound, math.floor(-outcome.bound + 1e-6))
                    return outcome.assignment, SolveMethod.MILP, quantity_bound
        _improve(self.instance, self.full, incumbent, self.deadline)
        return incumbent, SolveMethod.HEURISTIC, quantity_bound

    def _min_cost(
        self, supply: _Supply, quantity: int, start: list[int] | None, relaxation: _Relaxation | None
    ) -> _Stage | None:
        """Cheapest assignment placing exactly ``quantity`` units under ``supply``; None when none
        was found (proven infeasible, or no solution in time and no start)."""
        floor = float(supply.cost_floor(self.instance, quantity))
        if relaxation is not None and relaxation.quantity == quantity:
            floor = max(floor, relaxation.cost)
        scored = None if start is None else _evaluate(self.instance, supply, start)
        if start is not None and scored is not None and scored[1] <= floor:
            return _Stage(start, quantity, scored[1], SolveMethod.COMBINATORIAL, floor)
        if highspy is not None and self._seconds_left() > 0:
            outcome = _milp(
                self.instance,
                supply,
                target=quantity,
                proven=floor,
                start=start,
                seconds=self._seconds_left(),
                gap_tolerance=self.gap_tolerance,
            )
            if outcome.assignment is not None:
                solved = _evaluate(self.instance, supply, outcome.assignment)
                if solved is not None and solved[0] == quantity and (scored is None or solved[1] <= scored[1]):
                    if math.isfinite(outcome.bound):
                        floor = max(floor, math.ceil(outcome.bound - 1e-6))
                    return _Stage(outcome.assignment, quantity, solved[1], SolveMethod.MILP, floor)
            if outcome.infeasible:
                return None
        if start is None or scored is None:
            return None
        improved = list(start)
        _improve(self.instance, supply, improved, self.deadline)
        rescored = _evaluate(self.instance, supply, improved)
        if rescored is not None and rescored[0] == quantity and rescored[1] < scored[1]:
            return _Stage(improved, quantity, rescored[1], SolveMethod.HEURISTIC, floor)
        return _Stage(start, quantity, scored[1], SolveMethod.HEURISTIC, floor)


# --------------------------------------------------------------------------------------------------
# Result assembly


def _left_out_reason(candidate: _Candidate, demand: Demand, totals: list[int], supply: _Supply) -> UnplacedReason:
    """Price when every option with room for the request would charge above its max_unit_price."""
    if demand.max_unit_price is None:
        return UnplacedReason.CAPACITY
    prices = [
        band.price
        for s in candidate.options
        if (band := supply.band_for(s, totals[s] + candidate.quantity)) is not None
    ]
    if prices and min(prices) > demand.max_unit_price:
        return UnplacedReason.PRICE_ABOVE_MAX_UNIT_PRICE
    return UnplacedReason.CAPACITY


def _decision(
    demands: Sequence[Demand],
    instance: _Instance,
    reasons: dict[int, UnplacedReason],
    plan: _Plan,
    started: float,
) -> Decision:
    totals = [0] * len(instance.offers)
    for candidate, s in zip(instance.candidates, plan.assignment):
        if s >= 0:
            totals[s] += candidate.quantity
    prices = {s: band.price for s, total in enumerate(totals) if total and (band := plan.supply.band_for(s, total))}
    chosen = {c.position: (c, s) for c, s in zip(instance.candidates, plan.assignment)}
    placements: dict[str, Placement] = {}
    unplaced: dict[str, UnplacedReason] = {}
    for position, demand in enumerate(demands):
        if position not in chosen:
            unplaced[demand.request_id] = reasons[position]
            continue
        candidate, s = chosen[position]
        if s >= 0:
            placements[demand.request_id] = Placement(
                demand.request_id,
                instance.offers[s].supplier_id,
                demand.quantity,
                prices[s],
                candidate.standalone,
            )
        else:
            unplaced[demand.request_id] = _left_out_reason(candidate, demand, totals, plan.supply)
    orders = tuple(
        SupplierOrder(instance.offers[s].supplier_id, total, prices[s]) for s, total in enumerate(totals) if total
    )
    return Decision(
        placements=placements,
        unplaced=unplaced,
        supplier_orders=orders,
        placed_quantity=sum(totals),
        total_cost=sum((o.cost for o in orders), Decimal(0)),
        share_cap_relaxed=plan.share_cap_relaxed,
        stats=SolveStats(plan.method, time.perf_counter() - started, plan.gap, plan.quantity_bound),
    )
