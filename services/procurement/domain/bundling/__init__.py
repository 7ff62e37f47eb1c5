"""Bundling optimizer: pools one SKU's open purchase requests of an order cycle into supplier orders.

Each request goes whole to one supplier or stays unplaced. The objective is lexicographic: first place
as much quantity as possible, then pay as little as possible for it. Pure domain code, standard library
only: the exact MILP is solved by the ``MilpSolver`` the caller passes (HiGHS, ``adapters/highs.py``);
prices are exact ``Decimal`` values at the interface.

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
2. ``milp``: otherwise the MILP solver solves the exact MILP, warm-started with the best known
   solution and given the relaxation's bound as a cut. Requests interchangeable for the model (same quantity,
   same (supplier, lowest acceptable tier) options) are merged into integer-count classes; per
   supplier a binary picks the band its total falls in and an integer holds that total; a class may
   use a supplier only when the chosen band's tier is one it accepts. The quantity phase is skipped
   when a known solution already places the proven maximum.
3. ``heuristic``: when no MILP solver is given, the time budget is spent, or the solver returns no
   solution in time, a greedy solution (largest requests first to the cheapest reachable supplier,
   then repaired) improved by local search (single-request moves and insertions) is returned. In
   that mode the share cap is relaxed when the heuristic cannot place its uncapped quantity under it.

``SolveStats.gap`` is ``(cost - lower bound) / cost`` for the returned cost, where the lower bound is
the best of the relaxation's cost, the MILP dual bound and a per-unit price bound at the placed
quantity; 0.0 means proven optimal. ``SolveStats.quantity_bound`` is the proven upper bound on the
placeable quantity; it equals ``Decision.placed_quantity`` when the quantity is proven maximal.

Modules: ``model`` the public value types; ``pricing`` eligibility, standalone prices, price bounds and
tier bands; ``supply`` the suppliers' bands under given capacities and exact evaluation; ``bands`` the
band relaxation; ``heuristics`` realising it with whole requests, greedy, repair and local search;
``milp`` the MILP and the ``MilpSolver`` port; ``solve`` the phases and ``optimize_bundle``;
``assembly`` the ``Decision``.
"""

from services.procurement.domain.bundling.milp import MilpModel, MilpResult, MilpSolver
from services.procurement.domain.bundling.model import (
    Decision,
    Demand,
    Offer,
    Placement,
    RiskLevel,
    SolveMethod,
    SolveStats,
    SupplierOrder,
    Tier,
    UnplacedReason,
    savings,
)
from services.procurement.domain.bundling.solve import optimize_bundle

__all__ = [
    "Decision",
    "Demand",
    "MilpModel",
    "MilpResult",
    "MilpSolver",
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
