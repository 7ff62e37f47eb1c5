"""Supplier performance from the lifecycle (OTIF, in full, line rejections, answer time) over a
rolling window, and a supplier below the OTIF floor used only as a last resort until it recovers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.bundling import Demand, Offer, RiskLevel, Tier, optimize_bundle
from services.procurement.domain.catalog import CatalogItem, Supplier
from services.procurement.domain.performance import (
    AnsweredLine,
    DeliveryRecord,
    LastResort,
    Performance,
    below_floor,
    last_resort_suppliers,
    offers_with_performance,
    supplier_performance,
)
from services.procurement.domain.resourcing import resourcing_offers
from services.procurement.domain.risk import Effect, Scope, offers_with_risk
from shared.contract import LineStatus, Severity

TODAY = date(2026, 12, 1)
PLACED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

FLOOR = 0.8
"""The on-time-in-full floor these examples are judged by (ALLIANCE_SUPPLIER_OTIF_FLOOR's default)."""


def delivered(supplier_id: str, promised: date, received: date | None, confirmed: int = 10, accepted: int = 10,
              category: str = "wood") -> DeliveryRecord:
    return DeliveryRecord(supplier_id, category, f"d-{supplier_id}-{promised}-{received}", promised, confirmed,
                          accepted, received)


def test_otif_counts_deliveries_on_time_and_in_full_and_in_full_counts_units():
    records = [
        delivered("s-1", date(2026, 11, 10), date(2026, 11, 9)),  # on time, in full
        delivered("s-1", date(2026, 11, 10), date(2026, 11, 12)),  # late
        delivered("s-1", date(2026, 11, 15), date(2026, 11, 14), accepted=5),  # on time, 5 rejected
        delivered("s-1", date(2026, 11, 20), None),  # promised date passed, nothing in full
        delivered("s-1", date(2026, 12, 5), None),  # not due yet: not measured
    ]
    performance = supplier_performance([], records, TODAY)[("s-1", "wood")]
    assert (performance.deliveries, performance.on_time, performance.otif) == (4, 0.5, 0.25)
    assert performance.in_full == 35 / 40


def test_line_rejections_and_answer_time_over_the_lines_answered_in_the_window():
    lines = [
        AnsweredLine("s-1", "wood", "l-1", PLACED, PLACED + timedelta(hours=2), LineStatus.ACCEPTED),
        AnsweredLine("s-1", "wood", "l-2", PLACED, PLACED + timedelta(hours=4), LineStatus.PARTIAL),
        AnsweredLine("s-1", "wood", "l-3", PLACED, PLACED + timedelta(hours=6), LineStatus.REJECTED),
        AnsweredLine("s-1", "wood", "l-0", PLACED - timedelta(days=200), PLACED - timedelta(days=199),
                     LineStatus.REJECTED),
    ]
    performance = supplier_performance(lines, [], TODAY)[("s-1", "wood")]
    assert performance.line_rejection_rate == pytest.approx(1 / 3)
    assert performance.mean_answer_hours == pytest.approx(4.0)
    assert performance.otif is None


def test_performance_is_per_supplier_and_category_over_the_window_only():
    records = [
        delivered("s-1", date(2026, 11, 10), date(2026, 11, 12)),
        delivered("s-1", date(2026, 11, 10), date(2026, 11, 9), category="metal"),
        delivered("s-2", date(2026, 11, 10), date(2026, 11, 9)),
        delivered("s-2", date(2026, 8, 1), date(2026, 8, 9)),  # before the 90-day window
    ]
    found = supplier_performance([], records, TODAY)
    assert {key: p.otif for key, p in found.items()} == {
        ("s-1", "metal"): 1.0, ("s-1", "wood"): 0.0, ("s-2", "wood"): 1.0}


def test_below_floor_names_the_supplier_category_and_why():
    performances = [Performance("s-1", "wood", deliveries=4, otif_deliveries=2),
                    Performance("s-1", "metal", deliveries=4, otif_deliveries=4),
                    Performance("s-2", "wood")]
    assert below_floor(performances, FLOOR) == [LastResort("s-1", "wood", 0.5, FLOOR)]
    assert below_floor(performances, FLOOR)[0].reason == (
        "supplier s-1 is a last resort for category wood: on-time-in-full 0.50 is below the floor 0.80")
    assert last_resort_suppliers(below_floor(performances, FLOOR), "wood") == {"s-1"}
    assert last_resort_suppliers(below_floor(performances, FLOOR), "metal") == set()


def offer(supplier_id: str, price: str, lead_time_days: int = 3) -> Offer:
    return Offer(supplier_id, frozenset({"DE"}), lead_time_days, 1000, 1, (Tier(1, Decimal(price)),))


def chosen(offers: list[Offer], needed_by: date = date(2026, 12, 10)) -> str | None:
    demand = Demand("m-1/r-1", "m-1", 40, needed_by, "DE")
    decision = optimize_bundle(offers, [demand], order_date=TODAY, max_supplier_share=1, milp_solver=HIGHS)
    placement = decision.placements.get(demand.request_id)
    return placement.supplier_id if placement else None


def test_a_supplier_below_the_floor_is_used_only_as_a_last_resort_and_comes_back_when_it_recovers():
    offers = {"BOARD": [offer("s-cheap", "9.00"), offer("s-dear", "9.50", lead_time_days=5)]}
    categories = {"BOARD": "wood"}
    late = [delivered("s-cheap", date(2026, 11, 1) + timedelta(days=n), date(2026, 11, 5) + timedelta(days=n))
            for n in range(5)]
    below = below_floor(supplier_performance([], late, TODAY).values(), FLOOR)
    rated = offers_with_performance(offers, categories, below)["BOARD"]
    assert [o.risk for o in rated] == [RiskLevel.HIGH, RiskLevel.OK]
    assert chosen(rated) == "s-dear"
    assert chosen(rated, needed_by=date(2026, 12, 5)) == "s-cheap"  # only s-cheap is in time: its last resort

    later = TODAY + timedelta(days=100)  # the late deliveries left the window, new ones were on time
    on_time = [delivered("s-cheap", later - timedelta(days=n), later - timedelta(days=n + 1)) for n in range(1, 6)]
    recovered = below_floor(supplier_performance([], late + on_time, later).values(), FLOOR)
    assert recovered == []
    assert chosen(offers_with_performance(offers, categories, recovered)["BOARD"]) == "s-cheap"


def test_the_floor_composes_with_risk_effects_an_exclusion_stays_one():
    offers = {"BOARD": [offer("s-1", "9.00"), offer("s-2", "9.50"), offer("s-3", "9.70")]}
    effects = [Effect(Scope(supplier_id="s-1"), Severity.CRITICAL, frozenset({"ra-1"})),
               Effect(Scope(supplier_id="s-2", region="DE"), Severity.HIGH, frozenset({"ra-2"}))]
    below = [LastResort(s, "wood", 0.1, FLOOR) for s in ("s-1", "s-2", "s-3")]
    rated = offers_with_performance(offers_with_risk(offers, effects), {"BOARD": "wood"}, below)["BOARD"]
    assert [(o.risk, o.regional_risk) for o in rated] == [
        (RiskLevel.EXCLUDED, ()), (RiskLevel.HIGH, (("DE", RiskLevel.HIGH),)), (RiskLevel.HIGH, ())]


def test_resourcing_rates_suppliers_below_the_floor_as_a_last_resort_too():
    item = CatalogItem("BOARD", "Board", "wood", "piece", 1000, 1, (Tier(1, Decimal("9.00")),))
    suppliers = [Supplier(s, s, ("DE",), 3, "secret", catalog=(item,)) for s in ("s-1", "s-2")]
    below = [LastResort("s-1", "wood", 0.5, FLOOR)]
    offers = resourcing_offers(suppliers, "BOARD", set(), {}, last_resort=last_resort_suppliers(below, "wood"))
    assert [(o.supplier_id, o.risk) for o in offers] == [("s-1", RiskLevel.HIGH), ("s-2", RiskLevel.OK)]
