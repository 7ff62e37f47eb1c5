"""A large close solves in a child process: the same decisions as in a thread, delivered in
batches, and a failing child falls back to the thread for what it had not decided."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.procurement.adapters import bundling_runner
from services.procurement.adapters.bundling_runner import (
    CloseSolver,
    SkuRequests,
    SolveLimits,
    decode_decision,
    encode_decision,
)
from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.bundling import Offer, RiskLevel, Tier, optimize_bundle
from services.procurement.domain.demand import OpenRequest

TODAY = date(2026, 11, 21)
UNHURRIED = SolveLimits(sku_seconds=120.0, cycle_seconds=1200.0)
"""Limits no solve here reaches even on a loaded machine: one cut short by its time limit
answers with the heuristic, and two paths compared would differ for the clock's sake."""


def skus(count: int = 12, seed: int = 5) -> list[SkuRequests]:
    rng = random.Random(seed)
    result = []
    for n in range(count):
        sku = f"SKU-{n:03d}"
        offers = tuple(
            Offer(f"s-{s}", frozenset(rng.sample(["DE", "AT", "NL"], 2)), rng.randint(1, 6), rng.randint(50, 400),
                  rng.choice([1, 10]), (Tier(1, Decimal("10.00")), Tier(40, Decimal("9.5")), Tier(120, Decimal("0.125"))),
                  RiskLevel.HIGH if s == 2 else RiskLevel.OK, (("NL", RiskLevel.EXCLUDED),) if s == 1 else ())
            for s in range(rng.randint(1, 3))
        )
        requests = [
            OpenRequest(f"m-{rng.randint(1, 9)}", f"r-{n}-{k}", sku, rng.randint(1, 60),
                        TODAY + timedelta(days=rng.randint(1, 20)), rng.choice(["DE", "AT", "NL"]),
                        rng.choice([None, Decimal("9.75"), Decimal("0.13")]))
            for k in range(rng.randint(1, 40))
        ]
        result.append(SkuRequests(sku, offers, requests))
    return result


def comparable(decisions):
    return {sku: (d.placements, d.unplaced, d.supplier_orders, d.placed_quantity, d.total_cost, d.share_cap_relaxed,
                  d.stats.method, d.stats.gap, d.stats.quantity_bound) for sku, d in decisions.items()}


async def collect(process_min_requests: int):
    problems = skus()
    solver = await CloseSolver.start(sum(len(s.requests) for s in problems), process_min_requests)
    try:
        batches = [batch async for batch in solver.decide(problems, TODAY, 0.7, UNHURRIED)]
    finally:
        await solver.stop()
    decided = [sku for batch in batches for sku in batch]
    assert decided == sorted(decided) and len(decided) == len(set(decided))
    return {sku: d for batch in batches for sku, d in batch.items()}


async def test_the_child_process_decides_exactly_what_the_thread_decides():
    in_child = await collect(process_min_requests=0)
    in_thread = await collect(process_min_requests=10**9)
    assert comparable(in_child) == comparable(in_thread)
    assert len(in_child) == 12


def test_a_decision_survives_its_compact_form_with_each_price_keeping_its_digits():
    [one] = skus(1, seed=9)
    offers = (Offer("s-a", frozenset({"DE"}), 1, 500, 1, (Tier(1, Decimal("9.0")),)),
              Offer("s-b", frozenset({"DE"}), 1, 500, 1, (Tier(1, Decimal("9.00")),)))
    requests = [OpenRequest("m", f"r{k}", "X", 5 + k, TODAY + timedelta(days=9), "DE") for k in range(8)]
    demands = [r.demand() for r in requests]
    for offers_, requests_, demands_ in ((one.offers, one.requests, [r.demand() for r in one.requests]),
                                         (offers, requests, demands)):
        decision = optimize_bundle(offers_, demands_, order_date=TODAY, max_supplier_share=0.7, milp_solver=HIGHS)
        back = decode_decision(encode_decision(decision, demands_), [d.request_id for d in demands_],
                               [d.quantity for d in demands_])
        assert back == decision
        assert [str(p.unit_price) for p in back.placements.values()] == [
            str(p.unit_price) for p in decision.placements.values()]


async def test_a_child_that_cannot_start_leaves_the_decisions_to_a_thread(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(bundling_runner.sys, "executable", "/nonexistent/python")
    assert comparable(await collect(process_min_requests=0)) == comparable(await collect(process_min_requests=10**9))


async def test_a_child_started_for_a_close_that_then_fails_ends_with_it():
    started = await CloseSolver.start(1, process_min_requests=0)
    child = started._child
    assert child is not None and child.returncode is None
    await started.stop()  # the close failed while loading: the child never got its job
    assert child.returncode == 0
