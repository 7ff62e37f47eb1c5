"""Unit tests of the bundling optimizer: one test per rule, the worked example, and agreement with an
independent brute force on random small instances (through every solving path)."""

from __future__ import annotations

import ast
import itertools
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache
from pathlib import Path

import pytest

from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.bundling import (
    Decision,
    Demand,
    MilpSolver,
    Offer,
    RiskLevel,
    SolveMethod,
    Tier,
    UnplacedReason,
    bands,
    optimize_bundle,
    savings,
)

ORDER_DATE = date(2025, 3, 3)


def offer(
    supplier_id: str,
    tiers: tuple[tuple[int, str], ...] = ((1, "10.00"),),
    *,
    regions: tuple[str, ...] = ("DE",),
    lead_time_days: int = 2,
    capacity: int = 1_000,
    moq: int = 0,
    risk: RiskLevel = RiskLevel.OK,
) -> Offer:
    return Offer(
        supplier_id=supplier_id,
        regions=frozenset(regions),
        lead_time_days=lead_time_days,
        capacity_per_cycle=capacity,
        min_order_quantity=moq,
        tiers=tuple(Tier(q, Decimal(p)) for q, p in tiers),
        risk=risk,
    )


def demand(
    request_id: str,
    quantity: int,
    *,
    member_id: str = "m1",
    country: str = "DE",
    days: int = 10,
    max_unit_price: str | None = None,
) -> Demand:
    return Demand(
        request_id=request_id,
        member_id=member_id,
        quantity=quantity,
        needed_by=ORDER_DATE + timedelta(days=days),
        country=country,
        max_unit_price=None if max_unit_price is None else Decimal(max_unit_price),
    )


def solve(
    offers: list[Offer],
    demands: list[Demand],
    share: float = 1.0,
    *,
    milp_solver: MilpSolver | None = HIGHS,
    **options: float,
) -> Decision:
    return optimize_bundle(
        offers, demands, order_date=ORDER_DATE, max_supplier_share=share, milp_solver=milp_solver, **options
    )


def totals_by_supplier(decision: Decision) -> dict[str, int]:
    return {order.supplier_id: order.quantity for order in decision.supplier_orders}


# --------------------------------------------------------------------------------------------------
# Worked example and helpers


def test_worked_example_two_members_reach_the_volume_tier_together() -> None:
    offers = [offer("acme", ((1, "10.00"), (100, "9.00")))]
    demands = [demand("r1", 60, member_id="alice"), demand("r2", 50, member_id="bob")]

    decision = solve(offers, demands)

    assert [(o.supplier_id, o.quantity, o.unit_price) for o in decision.supplier_orders] == [
        ("acme", 110, Decimal("9.00"))
    ]
    assert decision.total_cost == Decimal("990.00")
    assert decision.placed_quantity == 110
    for request_id in ("r1", "r2"):
        placement = decision.placements[request_id]
        assert placement.unit_price == Decimal("9.00")
        assert placement.standalone_unit_price == Decimal("10.00")
    assert decision.placements["r1"].savings == Decimal("60.00")
    assert decision.placements["r2"].savings == Decimal("50.00")
    assert decision.assignment == {"r1": "acme", "r2": "acme"}
    assert decision.stats.gap == 0.0
    assert decision.stats.quantity_bound == 110


def test_savings_is_zero_without_a_standalone_price() -> None:
    assert savings(60, Decimal("9.00"), Decimal("10.00")) == Decimal("60.00")
    assert savings(60, Decimal("9.00"), None) == Decimal(0)


def test_returned_prices_are_the_exact_tier_decimals() -> None:
    offers = [offer("acme", ((1, "10.125"), (5, "9.1")))]

    decision = solve(offers, [demand("r1", 3), demand("r2", 4)])

    assert decision.supplier_orders[0].unit_price == Decimal("9.1")
    assert decision.total_cost == Decimal("63.7")


# --------------------------------------------------------------------------------------------------
# One test per rule


def test_capacity_limits_a_supplier_and_overflow_goes_to_the_next_cheapest() -> None:
    # The MOQ keeps every request's standalone price at "dear", so pooling at "cheap" is rational.
    offers = [offer("cheap", ((1, "8.00"),), capacity=50, moq=45), offer("dear", ((1, "10.00"),), capacity=100)]
    demands = [demand("r1", 40), demand("r2", 30), demand("r3", 20)]

    decision = solve(offers, demands)

    assert totals_by_supplier(decision) == {"cheap": 50, "dear": 40}
    assert decision.total_cost == Decimal("800.00")


def test_capacity_leaves_a_request_unplaced_when_nothing_fits() -> None:
    offers = [offer("only", capacity=50)]

    decision = solve(offers, [demand("big", 40), demand("bigger", 45)])

    assert decision.assignment == {"big": None, "bigger": "only"}
    assert decision.unplaced == {"big": UnplacedReason.CAPACITY}


def test_minimum_order_quantity_is_reached_by_pooling_or_the_supplier_is_not_used() -> None:
    offers = [offer("bulk", ((1, "5.00"),), moq=100), offer("retail", ((1, "9.00"),))]

    pooled = solve(offers, [demand("r1", 60), demand("r2", 50)])
    alone = solve(offers, [demand("r1", 60)])

    assert totals_by_supplier(pooled) == {"bulk": 110}
    assert totals_by_supplier(alone) == {"retail": 60}
    assert pooled.placements["r1"].standalone_unit_price == Decimal("9.00")


def test_share_cap_holds_when_it_costs_no_quantity() -> None:
    # The MOQ keeps every request's standalone price at "dear", so both suppliers are candidates.
    offers = [offer("cheap", ((1, "8.00"),), moq=15), offer("dear", ((1, "10.00"),))]
    demands = [demand(f"r{k}", 10) for k in range(10)]

    decision = solve(offers, demands, share=0.7)

    assert totals_by_supplier(decision) == {"cheap": 70, "dear": 30}
    assert decision.total_cost == Decimal("860.00")
    assert not decision.share_cap_relaxed


def test_share_cap_is_relaxed_when_it_would_cost_quantity() -> None:
    offers = [offer("cheap", ((1, "8.00"),)), offer("dear", ((1, "10.00"),), regions=("FR",))]
    demands = [demand("de1", 10), demand("de2", 10), demand("fr1", 5, country="FR")]

    decision = solve(offers, demands, share=0.7)

    assert totals_by_supplier(decision) == {"cheap": 20, "dear": 5}
    assert decision.share_cap_relaxed


def test_share_cap_does_not_apply_with_a_single_eligible_supplier() -> None:
    offers = [offer("only"), offer("elsewhere", regions=("FR",))]

    decision = solve(offers, [demand("r1", 10), demand("r2", 10)], share=0.5)

    assert totals_by_supplier(decision) == {"only": 20}
    assert not decision.share_cap_relaxed


def test_lead_time_must_deliver_by_needed_by() -> None:
    offers = [offer("fast", ((1, "10.00"),), lead_time_days=2), offer("slow", ((1, "7.00"),), lead_time_days=5)]

    decision = solve(offers, [demand("urgent", 10, days=4), demand("later", 10, days=5), demand("now", 1, days=1)])

    assert decision.assignment == {"urgent": "fast", "later": "slow", "now": None}
    assert decision.unplaced == {"now": UnplacedReason.NO_ELIGIBLE_SUPPLIER}


def test_region_must_be_served() -> None:
    offers = [offer("german", ((1, "7.00"),), regions=("DE",)), offer("french", regions=("FR", "BE"))]

    decision = solve(offers, [demand("r1", 5, country="BE"), demand("r2", 5, country="PL")])

    assert decision.assignment == {"r1": "french", "r2": None}
    assert decision.unplaced == {"r2": UnplacedReason.NO_ELIGIBLE_SUPPLIER}


def test_max_unit_price_applies_to_the_price_the_supplier_reaches() -> None:
    offers = [offer("acme", ((1, "10.00"), (100, "9.00")))]
    demands = [demand("picky", 30, max_unit_price="9.00"), demand("easy", 80)]

    pooled = solve(offers, demands)
    alone = solve(offers, demands[:1])

    assert pooled.placements["picky"].unit_price == Decimal("9.00")
    assert alone.unplaced == {"picky": UnplacedReason.PRICE_ABOVE_MAX_UNIT_PRICE}


def test_max_unit_price_that_no_reachable_tier_meets_is_reported() -> None:
    offers = [offer("acme", ((1, "10.00"), (100, "9.00")), capacity=99)]

    decision = solve(offers, [demand("picky", 30, max_unit_price="9.50"), demand("other", 80)])

    assert decision.assignment == {"picky": None, "other": "acme"}
    assert decision.unplaced == {"picky": UnplacedReason.PRICE_ABOVE_MAX_UNIT_PRICE}


def test_individual_rationality_no_request_pays_more_than_it_would_alone() -> None:
    # Pooling both at "volume" would place 110 at 8.20, but r1 alone gets 8.00 from "small" and r2 alone
    # 8.00 as well, so neither may pay 8.20; "small" can take only one of them.
    offers = [offer("small", ((1, "8.00"),), capacity=60), offer("volume", ((1, "10.00"), (100, "8.20")))]

    decision = solve(offers, [demand("r1", 60), demand("r2", 50)])

    assert decision.assignment == {"r1": "small", "r2": None}
    assert decision.placements["r1"].standalone_unit_price == Decimal("8.00")
    assert decision.unplaced == {"r2": UnplacedReason.CAPACITY}


def test_request_without_a_standalone_price_has_no_rationality_bound() -> None:
    offers = [offer("bulk", ((1, "9.00"),), moq=100)]

    decision = solve(offers, [demand("r1", 60), demand("r2", 50)])

    assert totals_by_supplier(decision) == {"bulk": 110}
    assert decision.placements["r1"].standalone_unit_price is None
    assert decision.placements["r1"].savings == Decimal(0)


def test_high_risk_supplier_is_only_a_last_resort() -> None:
    offers = [
        offer("safe", ((1, "10.00"),), regions=("DE",)),
        offer("risky", ((1, "5.00"),), regions=("DE", "FR"), risk=RiskLevel.HIGH),
    ]
    demands = [demand("de", 10), demand("fr", 10, country="FR")]

    decision = solve(offers, demands)

    assert decision.assignment == {"de": "safe", "fr": "risky"}


def test_high_risk_stays_blocked_when_the_safe_supplier_is_too_expensive() -> None:
    offers = [
        offer("safe", ((1, "10.00"),)),
        offer("risky", ((1, "5.00"),), risk=RiskLevel.HIGH),
    ]

    decision = solve(offers, [demand("r1", 10, max_unit_price="8.00")])

    assert decision.unplaced == {"r1": UnplacedReason.PRICE_ABOVE_MAX_UNIT_PRICE}


def test_excluded_supplier_is_never_used() -> None:
    offers = [offer("banned", ((1, "1.00"),), risk=RiskLevel.EXCLUDED), offer("fine", ((1, "10.00"),), regions=("FR",))]

    decision = solve(offers, [demand("de", 10), demand("fr", 10, country="FR")])

    assert decision.assignment == {"de": None, "fr": "fine"}
    assert decision.unplaced == {"de": UnplacedReason.NO_ELIGIBLE_SUPPLIER}


def test_placed_quantity_is_maximised_before_cost() -> None:
    # Placing r1 alone would cost 36.00; r2 + r3 cost 50.00 but place 10 units instead of 6.
    offers = [offer("acme", ((1, "6.00"), (10, "5.00")), capacity=10)]

    decision = solve(offers, [demand("r1", 6), demand("r2", 5), demand("r3", 5)])

    assert decision.assignment == {"r1": None, "r2": "acme", "r3": "acme"}
    assert decision.total_cost == Decimal("50.00")
    assert decision.unplaced == {"r1": UnplacedReason.CAPACITY}


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError):
        offer("rising", ((1, "9.00"), (10, "9.50")))
    with pytest.raises(ValueError):
        offer("unsorted", ((10, "9.00"), (1, "9.50")))
    with pytest.raises(ValueError):
        demand("empty", 0)
    with pytest.raises(ValueError):
        solve([offer("a"), offer("a")], [demand("r1", 1)])
    with pytest.raises(ValueError):
        solve([offer("a")], [demand("r1", 1), demand("r1", 2)])
    with pytest.raises(ValueError):
        solve([offer("a")], [demand("r1", 1)], share=0.0)


def test_the_bundling_package_imports_no_solver_and_no_infrastructure() -> None:
    """HiGHS is an adapter's (adapters/highs.py); the domain takes it as a MilpSolver."""
    forbidden = ("highspy", "numpy", "asyncpg", "aiokafka", "fastapi", "services.procurement.adapters")
    imported = set()
    for path in Path(bands.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
    assert not sorted(name for name in imported if name.startswith(forbidden))


# --------------------------------------------------------------------------------------------------
# Brute force


@dataclass(frozen=True)
class Optimum:
    quantity: int
    cost: Decimal
    share_cap_relaxed: bool
    standalone: dict[str, Decimal | None]


def _in_time(o: Offer, d: Demand) -> bool:
    return d.country in o.regions and ORDER_DATE + timedelta(days=o.lead_time_days) <= d.needed_by


def _eligible(offers: list[Offer], d: Demand) -> list[Offer]:
    usable = [o for o in offers if o.risk is not RiskLevel.EXCLUDED and _in_time(o, d)]
    return [o for o in usable if o.risk is RiskLevel.OK] or usable


def _price(o: Offer, total: int) -> Decimal | None:
    """All-units price of a supplier total, None when the total cannot be ordered."""
    if total < max(o.min_order_quantity, 1) or total > o.capacity_per_cycle:
        return None
    reached = [t.unit_price for t in o.tiers if t.min_quantity <= total]
    return reached[-1] if reached else None


def _bounds(offers: list[Offer], demands: list[Demand]) -> tuple[dict[str, Decimal | None], dict[str, Decimal | None]]:
    standalone: dict[str, Decimal | None] = {}
    bound: dict[str, Decimal | None] = {}
    for d in demands:
        prices = [p for o in _eligible(offers, d) if (p := _price(o, d.quantity)) is not None]
        prices = [p for p in prices if d.max_unit_price is None or p <= d.max_unit_price]
        standalone[d.request_id] = min(prices, default=None)
        alone = standalone[d.request_id]
        bound[d.request_id] = alone if alone is not None else d.max_unit_price
    return standalone, bound


def _acceptable(o: Offer, d: Demand, limit: Decimal | None) -> bool:
    """Some total the supplier can reach with the request in it is priced within the request's bound."""
    return any(
        (p := _price(o, total)) is not None and (limit is None or p <= limit)
        for total in range(d.quantity, o.capacity_per_cycle + 1)
    )


def _cap_applies(offers: list[Offer], demands: list[Demand], share: Fraction) -> bool:
    _, bound = _bounds(offers, demands)
    candidates = {
        o.supplier_id for d in demands for o in _eligible(offers, d) if _acceptable(o, d, bound[d.request_id])
    }
    return len(candidates) >= 2 and share < 1


def _outcome(
    choice: tuple[Offer | None, ...], demands: list[Demand], bound: dict[str, Decimal | None], share: Fraction
) -> tuple[int, Decimal, bool] | None:
    """(placed quantity, cost, within the share cap) of one assignment, None when it breaks a rule."""
    totals: dict[str, int] = {}
    chosen: dict[str, Offer] = {}
    for o, d in zip(choice, demands):
        if o is not None:
            totals[o.supplier_id] = totals.get(o.supplier_id, 0) + d.quantity
            chosen[o.supplier_id] = o
    prices: dict[str, Decimal] = {}
    for supplier_id, total in totals.items():
        price = _price(chosen[supplier_id], total)
        if price is None:
            return None
        prices[supplier_id] = price
    for o, d in zip(choice, demands):
        limit = bound[d.request_id]
        if o is not None and limit is not None and prices[o.supplier_id] > limit:
            return None
    quantity = sum(totals.values())
    cost = sum((total * prices[s] for s, total in totals.items()), Decimal(0))
    return quantity, cost, all(total <= share * quantity for total in totals.values())


def brute_force(offers: list[Offer], demands: list[Demand], share: Fraction) -> Optimum:
    """Every assignment of each request to an eligible supplier or none; lexicographic optimum."""
    standalone, bound = _bounds(offers, demands)
    outcomes = [
        outcome
        for choice in itertools.product(*[[None, *_eligible(offers, d)] for d in demands])
        if (outcome := _outcome(choice, demands, bound, share)) is not None
    ]
    best_quantity = max(quantity for quantity, _, _ in outcomes)
    at_best = [(cost, within_cap) for quantity, cost, within_cap in outcomes if quantity == best_quantity]
    capped = [cost for cost, within_cap in at_best if within_cap]
    if _cap_applies(offers, demands, share):
        if capped:
            return Optimum(best_quantity, min(capped), False, standalone)
        return Optimum(best_quantity, min(cost for cost, _ in at_best), True, standalone)
    return Optimum(best_quantity, min(cost for cost, _ in at_best), False, standalone)


def check_rules(
    offers: list[Offer], demands: list[Demand], share: Fraction, cap_applies: bool, decision: Decision
) -> None:
    """The decision obeys every rule, whatever its optimality."""
    standalone, bound = _bounds(offers, demands)
    by_id = {o.supplier_id: o for o in offers}
    assert set(decision.assignment) == {d.request_id for d in demands}
    totals: dict[str, int] = {}
    for d in demands:
        placement = decision.placements.get(d.request_id)
        if placement is None:
            if not _eligible(offers, d):
                assert decision.unplaced[d.request_id] is UnplacedReason.NO_ELIGIBLE_SUPPLIER
            continue
        assert by_id[placement.supplier_id] in _eligible(offers, d)
        assert placement.quantity == d.quantity
        assert placement.standalone_unit_price == standalone[d.request_id]
        totals[placement.supplier_id] = totals.get(placement.supplier_id, 0) + d.quantity
    assert totals_by_supplier(decision) == totals
    quantity = sum(totals.values())
    assert decision.placed_quantity == quantity
    for order in decision.supplier_orders:
        assert order.unit_price == _price(by_id[order.supplier_id], order.quantity)
    for request_id, placement in decision.placements.items():
        assert placement.unit_price == _price(by_id[placement.supplier_id], totals[placement.supplier_id])
        limit = bound[request_id]
        assert limit is None or placement.unit_price <= limit
    assert decision.total_cost == sum((o.cost for o in decision.supplier_orders), Decimal(0))
    if cap_applies and not decision.share_cap_relaxed:
        assert all(total <= share * quantity for total in totals.values())
    assert decision.stats.quantity_bound >= quantity


def random_instance(seed: int) -> tuple[list[Offer], list[Demand], float]:
    rng = random.Random(seed)
    prices = ["11.00", "10.00", "9.50", "9.00", "8.50", "8.00", "7.25"]
    offers = []
    for k in range(rng.randint(1, 3) if seed % 4 else 3):
        breaks = sorted(rng.sample(range(2, 13), rng.randint(0, 2)))
        mins = [rng.choice((1, 1, 2, 3)), *breaks] if not breaks or breaks[0] > 3 else [1, *breaks]
        tier_prices = sorted(rng.sample(prices, len(mins)), key=Decimal, reverse=True)
        offers.append(
            offer(
                f"s{k}",
                tuple(zip(mins, tier_prices)),
                regions=rng.choice((("DE", "FR"), ("DE", "FR"), ("DE",), ("FR",))),
                lead_time_days=rng.randint(0, 2),
                capacity=rng.randint(4, 24),
                moq=rng.choice((0, 0, 0, 3, 6, 10)),
                risk=rng.choices(list(RiskLevel), weights=(75, 15, 10))[0],
            )
        )
    demands = [
        demand(
            f"r{k}",
            rng.randint(1, 8),
            member_id=f"m{k}",
            country=rng.choice(("DE", "FR")),
            days=rng.randint(1, 4),
            max_unit_price=rng.choice((None, None, None, "8.00", "8.75", "9.50", "10.00")),
        )
        for k in range(rng.randint(1, 6))
    ]
    return offers, demands, rng.choice((0.5, 0.6, 0.7, 1.0))


@cache
def optimum(seed: int) -> Optimum:
    offers, demands, share = random_instance(seed)
    return brute_force(offers, demands, Fraction(str(share)))


def assert_matches_brute_force(seed: int) -> Decision:
    offers, demands, share = random_instance(seed)
    decision = solve(offers, demands, share, gap_tolerance=0.0, time_limit_seconds=10.0)
    best = optimum(seed)
    check_rules(offers, demands, Fraction(str(share)), _cap_applies(offers, demands, Fraction(str(share))), decision)
    assert (decision.placed_quantity, decision.total_cost, decision.share_cap_relaxed) == (
        best.quantity,
        best.cost,
        best.share_cap_relaxed,
    )
    assert decision.stats.gap == 0.0
    assert decision.stats.quantity_bound == best.quantity
    return decision


SEEDS = range(300)


@pytest.mark.parametrize("seed", SEEDS)
def test_matches_brute_force(seed: int) -> None:
    assert_matches_brute_force(seed)


@pytest.mark.parametrize("seed", SEEDS)
def test_milp_path_matches_brute_force(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bands, "_MAX_BAND_SEARCH_SUPPLIERS", -1)
    decision = assert_matches_brute_force(seed)
    assert decision.stats.method in (SolveMethod.MILP, SolveMethod.COMBINATORIAL)


@pytest.mark.parametrize("seed", range(0, 300, 3))
@pytest.mark.parametrize("missing", ["milp_solver", "time"])
def test_heuristic_fallback_obeys_every_rule(seed: int, missing: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bands, "_MAX_BAND_SEARCH_SUPPLIERS", -1)
    offers, demands, share = random_instance(seed)

    decision = solve(
        offers,
        demands,
        share,
        milp_solver=None if missing == "milp_solver" else HIGHS,
        time_limit_seconds=0.0 if missing == "time" else 1.0,
    )

    share_fraction = Fraction(str(share))
    check_rules(offers, demands, share_fraction, _cap_applies(offers, demands, share_fraction), decision)
    assert decision.stats.method in (SolveMethod.HEURISTIC, SolveMethod.COMBINATORIAL)
    best = optimum(seed)
    assert decision.placed_quantity <= best.quantity <= decision.stats.quantity_bound
    if decision.placed_quantity == best.quantity and decision.share_cap_relaxed == best.share_cap_relaxed:
        assert decision.total_cost >= best.cost


def test_same_input_gives_the_same_decision() -> None:
    offers, demands, share = random_instance(3)

    first, second = solve(offers, demands, share), solve(offers, demands, share)

    assert (first.placements, first.unplaced, first.supplier_orders) == (
        second.placements,
        second.unplaced,
        second.supplier_orders,
    )


def test_thousands_of_requests_are_bundled_near_optimally() -> None:
    rng = random.Random(2024)
    offers = [
        offer(
            f"s{k}",
            ((1, price), (500, str(Decimal(price) - Decimal("0.40"))), (2_000, str(Decimal(price) - Decimal("0.90")))),
            regions=("DE", "FR", "NL"),
            lead_time_days=k,
            capacity=rng.randint(15_000, 30_000),
            moq=50,
        )
        for k, price in enumerate(("10.00", "10.20", "9.90", "10.50"))
    ]
    demands = [
        demand(
            f"r{k}",
            rng.randint(1, 40),
            country=rng.choice(("DE", "FR", "NL")),
            days=rng.randint(1, 10),
            max_unit_price=rng.choice((None, None, "9.95", "10.10")),
        )
        for k in range(3_000)
    ]

    decision = solve(offers, demands, 0.7)

    assert decision.stats.gap <= 0.005
    assert decision.placed_quantity == decision.stats.quantity_bound
    assert not decision.share_cap_relaxed
    check_rules(offers, demands, Fraction("0.7"), True, decision)
