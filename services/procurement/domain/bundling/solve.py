"""The two lexicographic phases, with their shortcuts and fallbacks, within one deadline."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from services.procurement.domain.bundling.assembly import Plan, assemble_decision
from services.procurement.domain.bundling.bands import BandSearch
from services.procurement.domain.bundling.heuristics import greedy_assignment, improve, realize, repair
from services.procurement.domain.bundling.milp import MilpSolver, solve_milp
from services.procurement.domain.bundling.model import Decision, Demand, Offer, SolveMethod
from services.procurement.domain.bundling.pricing import Instance, prepare
from services.procurement.domain.bundling.supply import Supply, evaluate


def optimize_bundle(
    offers: Sequence[Offer],
    demands: Sequence[Demand],
    *,
    order_date: date,
    max_supplier_share: float | Decimal,
    milp_solver: MilpSolver | None,
    time_limit_seconds: float = 1.0,
    gap_tolerance: float = 1e-4,
) -> Decision:
    """Bundle one SKU's requests of an order cycle onto its suppliers' offers.

    ``max_supplier_share`` is the share cap (e.g. 0.7; 1 or more disables it). ``milp_solver`` solves
    the exact MILP when the relaxation does not settle a phase; without one the heuristic answers
    instead (see "Solving" in the package docstring). ``time_limit_seconds`` bounds the MILP and local
    search of the call, the fallback heuristic answering when it runs out.
    ``gap_tolerance`` is the relative cost gap accepted as optimal (0 demands proven optimality).
    """
    started = time.perf_counter()
    if max_supplier_share <= 0:
        raise ValueError("max_supplier_share must be > 0")
    _require_unique([o.supplier_id for o in offers], "supplier_id")
    _require_unique([d.request_id for d in demands], "request_id")
    share = Fraction(str(max_supplier_share))
    instance, reasons = prepare(offers, demands, order_date, share)
    plan = _Solver(instance, started + time_limit_seconds, gap_tolerance, milp_solver).solve()
    return assemble_decision(demands, instance, reasons, plan, started)


def _require_unique(ids: list[str], name: str) -> None:
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate {name}")


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


_WEAKEST_METHOD_FIRST = (SolveMethod.HEURISTIC, SolveMethod.MILP, SolveMethod.COMBINATORIAL)


class _Solver:
    """Runs the two lexicographic phases with their shortcuts and fallbacks within one deadline."""

    def __init__(
        self, instance: Instance, deadline: float, gap_tolerance: float, milp_solver: MilpSolver | None
    ) -> None:
        self.instance = instance
        self.deadline = deadline
        self.gap_tolerance = gap_tolerance
        self.milp_solver = milp_solver
        self.full = Supply(instance, [o.capacity_per_cycle for o in instance.offers])

    def _seconds_left(self) -> float:
        return self.deadline - time.perf_counter()

    def _relaxation(self, supply: Supply) -> _Relaxation | None:
        """Band relaxation optimum under ``supply`` and its best realisation, None when too large."""
        choice = BandSearch(supply, self.instance.candidates).solve()
        if choice is None:
            return None
        assignment = realize(self.instance, supply, choice)
        realized = evaluate(self.instance, supply, assignment)
        if realized is None or realized[0] < choice.quantity:
            order = sorted(range(len(assignment)), key=lambda i: -self.instance.candidates[i].quantity)
            repair(self.instance, supply, assignment, order)
            improve(self.instance, supply, assignment, self.deadline)
            realized = evaluate(self.instance, supply, assignment)
        return _Relaxation(choice.quantity, choice.cost, assignment, realized)

    def _certified(self, relaxation: _Relaxation | None, quantity: int) -> _Stage | None:
        """The realisation as a final answer if it places the relaxation's quantity within the gap."""
        if relaxation is None or relaxation.realized is None or relaxation.quantity != quantity:
            return None
        placed, cost = relaxation.realized
        if placed != quantity or cost - relaxation.cost > self.gap_tolerance * cost:
            return None
        return _Stage(relaxation.assignment, quantity, cost, SolveMethod.COMBINATORIAL, relaxation.cost)

    def solve(self) -> Plan:
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
            scored = evaluate(self.instance, self.full, incumbent)
            assert scored is not None
            quantity = scored[0]
        capped = None
        stage: _Stage | None = None
        if self.instance.share is not None and quantity:
            limit = math.floor(self.instance.share * quantity)
            capped = Supply(self.instance, [min(c, limit) for c in self.full.caps])
            if uncapped is not None and evaluate(self.instance, capped, uncapped.assignment) is not None:
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
        return Plan(stage.assignment, supply, method, gap, quantity_bound, relaxed)

    def _capped(self, capped: Supply, quantity: int) -> _Stage | None:
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
            start = greedy_assignment(self.instance, capped)
            scored = evaluate(self.instance, capped, start)
            if scored is None or scored[0] < quantity:
                improve(self.instance, capped, start, self.deadline)
        scored = evaluate(self.instance, capped, start)
        return self._min_cost(capped, quantity, start if scored and scored[0] == quantity else None, relaxation)

    def _max_quantity(self, quantity_bound: int, start: list[int] | None) -> tuple[list[int], SolveMethod, int]:
        """Largest placeable quantity without the share cap: greedy, then the MILP if it falls short."""
        incumbent = greedy_assignment(self.instance, self.full)
        scored = evaluate(self.instance, self.full, incumbent)
        assert scored is not None
        if start is not None:
            other = evaluate(self.instance, self.full, start)
            if other is not None and other[0] >= scored[0]:
                incumbent, scored = start, other
        if scored[0] == quantity_bound:
            return incumbent, SolveMethod.COMBINATORIAL, quantity_bound
        if self.milp_solver is not None and self._seconds_left() > 0:
            outcome = solve_milp(
                self.milp_solver,
                self.instance,
                self.full,
                target=None,
                proven=quantity_bound,
                start=incumbent,
                seconds=self._seconds_left() / 2,
                gap_tolerance=0.0,
            )
            if outcome.assignment is not None:
                solved = evaluate(self.instance, self.full, outcome.assignment)
                if solved is not None and solved[0] >= scored[0]:
                    if math.isfinite(outcome.bound):
                        quantity_bound = min(quantity_bound, math.floor(-outcome.bound + 1e-6))
                    return outcome.assignment, SolveMethod.MILP, quantity_bound
        improve(self.instance, self.full, incumbent, self.deadline)
        return incumbent, SolveMethod.HEURISTIC, quantity_bound

    def _min_cost(
        self, supply: Supply, quantity: int, start: list[int] | None, relaxation: _Relaxation | None
    ) -> _Stage | None:
        """Cheapest assignment placing exactly ``quantity`` units under ``supply``; None when none
        was found (proven infeasible, or no solution in time and no start)."""
        floor = float(supply.cost_floor(self.instance, quantity))
        if relaxation is not None and relaxation.quantity == quantity:
            floor = max(floor, relaxation.cost)
        scored = None if start is None else evaluate(self.instance, supply, start)
        if start is not None and scored is not None and scored[1] <= floor:
            return _Stage(start, quantity, scored[1], SolveMethod.COMBINATORIAL, floor)
        if self.milp_solver is not None and self._seconds_left() > 0:
            outcome = solve_milp(
                self.milp_solver,
                self.instance,
                supply,
                target=quantity,
                proven=floor,
                start=start,
                seconds=self._seconds_left(),
                gap_tolerance=self.gap_tolerance,
            )
            if outcome.assignment is not None:
                solved = evaluate(self.instance, supply, outcome.assignment)
                if solved is not None and solved[0] == quantity and (scored is None or solved[1] <= scored[1]):
                    if math.isfinite(outcome.bound):
                        floor = max(floor, math.ceil(outcome.bound - 1e-6))
                    return _Stage(outcome.assignment, quantity, solved[1], SolveMethod.MILP, floor)
            if outcome.infeasible:
                return None
        if start is None or scored is None:
            return None
        improved = list(start)
        improve(self.instance, supply, improved, self.deadline)
        rescored = evaluate(self.instance, supply, improved)
        if rescored is not None and rescored[0] == quantity and rescored[1] < scored[1]:
            return _Stage(improved, quantity, rescored[1], SolveMethod.HEURISTIC, floor)
        return _Stage(start, quantity, scored[1], SolveMethod.HEURISTIC, floor)
