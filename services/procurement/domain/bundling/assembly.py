"""Turning the solver's assignment into a Decision: placements, unplaced reasons, supplier orders."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from services.procurement.domain.bundling.model import (
    Decision,
    Demand,
    Placement,
    SolveMethod,
    SolveStats,
    SupplierOrder,
    UnplacedReason,
)
from services.procurement.domain.bundling.pricing import Candidate, Instance
from services.procurement.domain.bundling.supply import Supply


@dataclass(frozen=True, slots=True)
class Plan:
    """The solver's answer a Decision is assembled from: whole-request assignment under ``supply``."""

    assignment: list[int]
    supply: Supply
    method: SolveMethod
    gap: float
    quantity_bound: int
    share_cap_relaxed: bool


def _left_out_reason(candidate: Candidate, demand: Demand, totals: list[int], supply: Supply) -> UnplacedReason:
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


def assemble_decision(
    demands: Sequence[Demand],
    instance: Instance,
    reasons: dict[int, UnplacedReason],
    plan: Plan,
    started: float,
) -> Decision:
    """The Decision on ``demands`` (their input order kept), timed from ``started``."""
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
