"""Band relaxation: exact for divisible quantities, solved by branch and bound over tier bands."""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from services.procurement.domain.bundling.pricing import Candidate
from services.procurement.domain.bundling.supply import Supply

_MAX_BAND_SEARCH_SUPPLIERS = 8
_MAX_BAND_SEARCH_NODES = 400


@dataclass(frozen=True, slots=True)
class BandChoice:
    """Optimum of the band relaxation: suppliers' totals (positive ones only) and its value."""

    totals: dict[int, int]
    quantity: int
    cost: int


class BandSearch:
    """Lexicographic optimum when requests may be split across suppliers but tier rules stay exact.

    With every supplier's band fixed, the feasible supplier totals of split requests form a
    polymatroid (a bipartite transportation polytope), so filling suppliers greedily in price order
    gives the most quantity at the least cost. A node lets each supplier use a contiguous range of
    its bands, optionally none: relaxing to the range's cheapest price, widest acceptance and loosest
    bounds. A node whose greedy totals all fall in the bands they were priced at is solved; otherwise
    the first supplier that fell short of its band is branched on (that band, or a lower one or none).
    Best-first search returns the optimum at the first solved node it pops.
    """

    def __init__(self, supply: Supply, candidates: Sequence[Candidate]) -> None:
        demand: dict[tuple[tuple[int, int], ...], int] = {}
        for candidate, options in zip(candidates, supply.options):
            if options:
                demand[options] = demand.get(options, 0) + candidate.quantity
        self.suppliers = sorted({s for options in demand for s, _ in options})
        position = {s: p for p, s in enumerate(self.suppliers)}
        self.types = [(tuple((position[s], j) for s, j in options), d) for options, d in demand.items()]
        self.bands = [supply.bands[s] for s in self.suppliers]
        self.masks_with: list[list[int]] = []

    def solve(self) -> BandChoice | None:
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
                return BandChoice(chosen, sum(totals), cost)
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
