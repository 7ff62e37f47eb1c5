"""Solving a cycle's SKUs: every SKU gets a decision, even when the cycle's budget is spent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.procurement.adapters import bundling_runner
from services.procurement.adapters.bundling_runner import SkuProblem, SolveLimits, solve_problems
from services.procurement.domain.bundling import Demand, Offer, Tier

TODAY = date(2026, 11, 21)


def problem(sku: str) -> SkuProblem:
    offer = Offer("s-1", frozenset({"DE"}), 2, 1000, 1, (Tier(1, Decimal("10.00")), Tier(100, Decimal("9.00"))))
    demands = tuple(Demand(f"m/r{n}", "m", 30, date(2026, 12, 31), "DE") for n in range(5))
    return SkuProblem(sku, (offer,), demands)


def test_every_sku_is_decided_even_with_the_cycle_budget_spent():
    decisions = solve_problems([problem("A"), problem("B")], TODAY, 0.7, limits=SolveLimits(cycle_seconds=0.0))
    assert sorted(decisions) == ["A", "B"]
    assert all(d.placed_quantity == 150 and d.supplier_orders[0].unit_price == Decimal("9.00")
               for d in decisions.values())


async def test_decisions_arrive_in_batches_covering_every_sku_once():
    problems = [problem(sku) for sku in "ABCDE"]
    batches = [batch async for batch in bundling_runner.decisions_as_solved(problems, TODAY, 0.7)]
    skus = [sku for batch in batches for sku in batch]
    assert sorted(skus) == list("ABCDE") and len(skus) == len(set(skus))


async def test_a_failing_solve_fails_the_caller(monkeypatch: pytest.MonkeyPatch):
    def broken(*args, **kwargs):
        raise RuntimeError("solver bug")

    monkeypatch.setattr(bundling_runner, "optimize_bundle", broken)
    with pytest.raises(RuntimeError, match="solver bug"):
        async for _ in bundling_runner.decisions_as_solved([problem("A")], TODAY, 0.7):
            pass
