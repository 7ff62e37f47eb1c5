"""Benchmark of the bundling optimizer on seeded synthetic data.

(a) one SKU with 10k requests and 4-6 suppliers; (b) an order cycle of 100k requests over 1k SKUs and
20 suppliers, each SKU offered by 2-5 of them. Prints wall seconds and cost gaps; ``bench_single_sku``
and ``bench_cycle`` return the same figures as dicts.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal

from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.bundling import (
    Decision,
    Demand,
    Offer,
    RiskLevel,
    Tier,
    optimize_bundle,
)

COUNTRIES = ("DE", "FR", "NL", "BE", "AT", "IT", "ES", "PL")
ORDER_DATE = date(2025, 3, 3)
MAX_SUPPLIER_SHARE = 0.7
CENT = Decimal("0.01")


def _offer(rng: random.Random, supplier_id: str, profile: tuple[frozenset[str], int, RiskLevel], volume: int) -> Offer:
    """An offer sized against the SKU's expected demand ``volume``: three all-units tiers."""
    regions, lead_time_days, risk = profile
    base = Decimal(rng.randint(400, 5000)) / 100
    first_break = max(2, int(volume * rng.uniform(0.05, 0.15)))
    second_break = max(first_break + 1, int(volume * rng.uniform(0.25, 0.45)))
    first_discount = Decimal(rng.randint(3, 8)) / 100
    second_discount = first_discount + Decimal(rng.randint(3, 8)) / 100
    tiers = (
        Tier(1, base),
        Tier(first_break, (base * (1 - first_discount)).quantize(CENT)),
        Tier(second_break, (base * (1 - second_discount)).quantize(CENT)),
    )
    return Offer(
        supplier_id=supplier_id,
        regions=regions,
        lead_time_days=lead_time_days,
        capacity_per_cycle=int(volume * rng.uniform(0.3, 0.8)),
        min_order_quantity=rng.choice((0, 10, 25, 50)),
        tiers=tiers,
        risk=risk,
    )


def _profile(rng: random.Random) -> tuple[frozenset[str], int, RiskLevel]:
    regions = frozenset(rng.sample(COUNTRIES, rng.randint(4, len(COUNTRIES))))
    risk = rng.choices((RiskLevel.OK, RiskLevel.HIGH, RiskLevel.EXCLUDED), weights=(85, 10, 5))[0]
    return regions, rng.randint(2, 10), risk


def _demand(rng: random.Random, request_id: str, offers: list[Offer]) -> Demand:
    reference = offers[0].tiers[0].unit_price
    ceiling = None
    if rng.random() < 0.25:
        ceiling = (reference * Decimal(rng.uniform(0.85, 1.1))).quantize(CENT)
    return Demand(
        request_id=request_id,
        member_id=f"m{rng.randint(1, 5000)}",
        quantity=rng.randint(1, 60),
        needed_by=ORDER_DATE + timedelta(days=rng.randint(3, 21)),
        country=rng.choice(COUNTRIES),
        max_unit_price=ceiling,
    )


def _solve(offers: list[Offer], demands: list[Demand]) -> Decision:
    return optimize_bundle(
        offers, demands, order_date=ORDER_DATE, max_supplier_share=MAX_SUPPLIER_SHARE, milp_solver=HIGHS
    )


def bench_single_sku(n: int = 10_000, seed: int = 7) -> dict[str, object]:
    """One SKU: ``n`` requests, 4-6 suppliers."""
    rng = random.Random(seed)
    volume = n * 30
    offers = [_offer(rng, f"s{k}", _profile(rng), volume) for k in range(rng.randint(4, 6))]
    demands = [_demand(rng, f"r{k}", offers) for k in range(n)]
    started = time.perf_counter()
    decision = _solve(offers, demands)
    return {
        "seconds": time.perf_counter() - started,
        "gap": decision.stats.gap,
        "method": str(decision.stats.method),
        "requests": n,
        "suppliers": len(offers),
        "placed_quantity": decision.placed_quantity,
        "quantity_bound": decision.stats.quantity_bound,
        "share_cap_relaxed": decision.share_cap_relaxed,
    }


def bench_cycle(requests: int = 100_000, skus: int = 1_000, suppliers: int = 20, seed: int = 11) -> dict[str, object]:
    """An order cycle: ``requests`` spread over ``skus`` SKUs, each offered by 2-5 of ``suppliers``."""
    rng = random.Random(seed)
    profiles = [_profile(rng) for _ in range(suppliers)]
    per_sku = Counter(rng.randrange(skus) for _ in range(requests))
    problems = []
    for sku in range(skus):
        count = per_sku[sku]
        chosen = rng.sample(range(suppliers), rng.randint(2, min(5, suppliers)))
        offers = [_offer(rng, f"s{k}", profiles[k], max(count, 1) * 30) for k in chosen]
        problems.append((offers, [_demand(rng, f"k{sku}-r{k}", offers) for k in range(count)]))
    started = time.perf_counter()
    decisions = [_solve(offers, demands) for offers, demands in problems]
    seconds = time.perf_counter() - started
    costs = [float(d.total_cost) for d in decisions]
    weighted = sum(d.stats.gap * c for d, c in zip(decisions, costs)) / max(sum(costs), 1.0)
    slowest = max(d.stats.wall_seconds for d in decisions)
    return {
        "seconds": seconds,
        "max_gap": max(d.stats.gap for d in decisions),
        "cost_weighted_gap": weighted,
        "slowest_sku_seconds": slowest,
        "methods": dict(Counter(str(d.stats.method) for d in decisions)),
        "share_cap_relaxed": sum(d.share_cap_relaxed for d in decisions),
        "quantity_short_of_bound": sum(d.placed_quantity < d.stats.quantity_bound for d in decisions),
        "requests": requests,
        "skus": skus,
    }


def main() -> None:
    single = bench_single_sku()
    print(
        f"single SKU: {single['requests']} requests, {single['suppliers']} suppliers: "
        f"{single['seconds']:.3f} s, gap {single['gap']:.4%}, method {single['method']}"
    )
    cycle = bench_cycle()
    print(
        f"cycle: {cycle['requests']} requests, {cycle['skus']} SKUs: {cycle['seconds']:.3f} s, "
        f"max gap {cycle['max_gap']:.4%}, cost-weighted gap {cycle['cost_weighted_gap']:.4%}, "
        f"slowest SKU {cycle['slowest_sku_seconds']:.3f} s, methods {cycle['methods']}, "
        f"share cap relaxed {cycle['share_cap_relaxed']}"
    )


if __name__ == "__main__":
    main()
