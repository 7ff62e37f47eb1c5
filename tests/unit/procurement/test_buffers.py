"""Shared risk buffers' domain: sizing against a hand-computed reference, the square-root law,
the pooled fallback for short histories, stock bookkeeping, replenishment, draws on short stock
and statements."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from math import sqrt

import pytest

from services.procurement.domain.buffers import (
    MAX_REQUEST_QUANTITY,
    BufferStock,
    DemandStats,
    DrawClaim,
    StockError,
    closes_period,
    demand_statistics,
    draw,
    lead_time_cycles,
    own_history_needed,
    period_cycle_numbers,
    replenishment_lead_days,
    replenishment_request,
    service_factor,
    size_buffer,
    split_short_stock,
    statements,
)
from services.procurement.domain.bundling import Offer, Tier
from services.procurement.domain.demand import OpenRequest
from shared.contract import ALLIANCE_MEMBER_ID, NOTICE_DATA, EventType, ShipTo

H = Decimal("0.04")
WAREHOUSE = ShipTo(site="Zentrallager Nord", postal_code="30159", country="DE")
CLOSE = date(2026, 12, 1)


def close_to(actual: Decimal, expected: float, places: int = 6) -> bool:
    return abs(float(actual) - expected) < 10**-places


def stats(variance: int | str, mean: int = 0, cycles: int = 12) -> DemandStats:
    return DemandStats(Decimal(mean), Decimal(variance), cycles)


# --- sizing ----------------------------------------------------------------------------------


def test_the_sizing_matches_a_hand_computed_reference():
    # m-a requested 10, 14, 6, 10: mean 10, squared deviations 0 + 16 + 16 + 0 = 32, variance 32/3.
    # m-b requested 20, 20, 26, 14: mean 20, squared deviations 0 + 0 + 36 + 36 = 72, variance 24.
    # Daily cycles, 3 days' lead time: L = 1 + 3 = 4 cycles. z(0.95) = 1.644853627.
    # pooled     = 1.644853627 * sqrt(4 * (32/3 + 24)) = 1.644853627 * 2 * 5.887840578 = 19.369272
    # standalone = 1.644853627 * 2 * sqrt(32/3) = 10.744139 (m-a), * sqrt(24) = 16.116208 (m-b)
    # holding    = 0.04 * 19.369272 = 0.774771 per cycle, shared 4/13 : 9/13 (variances 32/3 : 24)
    found = demand_statistics({"m-a": [10, 14, 6, 10], "m-b": [20, 20, 26, 14]}, ["m-a", "m-b"], 4)
    assert found["m-a"] == DemandStats(Decimal(10), Decimal(32) / Decimal(3), 4)
    assert found["m-b"] == DemandStats(Decimal(20), Decimal(24), 4)
    lead = lead_time_cycles(3, 86_400)
    assert lead == 4
    sizing = size_buffer("cycle-4", "BOARD-18MM", 0.95, H, lead, found, closed_cycles=4)
    assert close_to(sizing.service_factor, 1.644853627)
    assert close_to(sizing.safety_stock, 19.369272) and sizing.target == 20
    assert close_to(sizing.holding_cost, 0.774771)
    a, b = sizing.members
    assert (a.member_id, b.member_id) == ("m-a", "m-b")
    assert close_to(a.standalone_stock, 10.744139) and close_to(b.standalone_stock, 16.116208)
    assert close_to(a.cost_share, 0.774771 * 4 / 13) and close_to(b.cost_share, 0.774771 * 9 / 13)
    assert close_to(a.standalone_cost, 0.04 * 10.744139) and close_to(b.standalone_cost, 0.04 * 16.116208)
    assert a.savings > 0 and b.savings > 0
    assert a.standalone_stock + b.standalone_stock > sizing.safety_stock


@pytest.mark.parametrize("n", [1, 2, 4, 9, 16, 100])
def test_n_identical_independent_members_need_sqrt_n_times_one_members_stock(n):
    members = {f"m-{i:03d}": stats(25) for i in range(n)}
    sizing = size_buffer("cycle-12", "SKU", 0.95, H, 4, members, closed_cycles=12)
    one = sizing.members[0].standalone_stock
    assert close_to(sizing.safety_stock / one, sqrt(n), places=20)
    assert sizing.safety_stock < n * one or n == 1
    assert all(m.cost_share == sizing.holding_cost / n for m in sizing.members)


def test_the_mean_demand_is_not_stocked_only_its_spread():
    steady = size_buffer("c", "SKU", 0.9, H, 4, {"m-a": stats(16, mean=5)}, 12)
    large = size_buffer("c", "SKU", 0.9, H, 4, {"m-a": stats(16, mean=500)}, 12)
    assert steady.target == large.target > 0


def test_below_two_closed_cycles_the_target_is_zero():
    sizing = size_buffer("cycle-1", "SKU", 0.95, H, 4, {"m-a": stats(100, cycles=1)}, closed_cycles=1)
    assert sizing.target == 0 and sizing.holding_cost == 0
    assert sizing.members[0].cost_share == 0 and sizing.members[0].standalone_cost == 0


def test_no_spread_means_no_stock_and_no_cost():
    sizing = size_buffer("c", "SKU", 0.95, H, 4, {"m-a": stats(0, mean=50), "m-b": stats(0)}, 12)
    assert sizing.target == 0 and [m.cost_share for m in sizing.members] == [0, 0]


def test_a_member_without_spread_pays_nothing_while_others_share_all():
    sizing = size_buffer("c", "SKU", 0.95, H, 4, {"m-a": stats(0, mean=50), "m-b": stats(9)}, 12)
    assert sizing.cost_shares == {"m-a": 0, "m-b": sizing.holding_cost}


def test_a_higher_service_level_holds_more():
    assert service_factor(0.5001) < service_factor(0.9) < service_factor(0.95) < service_factor(0.9998)
    assert close_to(service_factor(0.95), 1.644853627)
    low = size_buffer("c", "SKU", 0.9, H, 4, {"m-a": stats(100)}, 12)
    high = size_buffer("c", "SKU", 0.99, H, 4, {"m-a": stats(100)}, 12)
    assert high.target > low.target


def test_a_member_with_too_little_history_is_sized_from_the_skus_pooled_history():
    assert own_history_needed(12) == 6 and own_history_needed(3) == 2
    histories = {
        "m-old": [4, 8, 4, 8, 4, 8],
        "m-other": [6, 6, 6, 6, 6, 6, 6, 6],  # not a subscriber: its history still counts in the pool
        "m-new": [30, 0],
    }
    found = demand_statistics(histories, ["m-old", "m-new", "m-none"], 12)
    assert found["m-old"] == DemandStats(Decimal(6), Decimal(24) / Decimal(5), 6)
    pool = found["m-new"]
    # the pool: the 14 observations of the members with 6+ cycles, all with mean 6;
    # squared deviations 6 * 4 = 24, variance 24 / 13
    assert pool.pooled and pool.cycles == 14 and pool.mean == 6
    assert pool.variance == Decimal(24) / Decimal(13)
    assert found["m-none"] == pool


def test_when_no_member_has_enough_history_all_observations_are_pooled():
    found = demand_statistics({"m-a": [2, 4], "m-b": [6]}, ["m-a", "m-b"], 12)
    assert found["m-a"] == found["m-b"] == DemandStats(Decimal(4), Decimal(4), 3, pooled=True)


def test_only_the_window_counts():
    found = demand_statistics({"m-a": [1000, 0, 5, 5, 5, 5]}, ["m-a"], 4)
    assert found["m-a"] == DemandStats(Decimal(5), Decimal(0), 4)


@pytest.mark.parametrize(
    ("days", "interval", "cycles"),
    [(3, 86_400, 4), (0, 300, 1), (1, 7_200, 13), (1, 50_000, 3), (2, 3 * 86_400, 2)],
)
def test_the_protection_interval_is_a_review_cycle_plus_the_lead_time_in_whole_cycles(days, interval, cycles):
    assert lead_time_cycles(days, interval) == cycles


def offer(supplier_id: str, lead: int, regions: tuple[str, ...]) -> Offer:
    return Offer(supplier_id, frozenset(regions), lead, 1000, 1, (Tier(1, Decimal("10.00")),))


def test_the_lead_time_is_the_longest_of_the_suppliers_delivering_to_the_warehouse():
    offers = [offer("s-a", 3, ("DE",)), offer("s-b", 9, ("AT",)), offer("s-c", 5, ("DE", "AT"))]
    assert replenishment_lead_days(offers, "DE") == 5
    assert replenishment_lead_days(offers, "CH") is None


# --- stock and replenishment -----------------------------------------------------------------


def test_the_gap_to_target_becomes_the_alliances_own_request_to_the_warehouse():
    stock = BufferStock(on_hand=30, value=Decimal(300)).placed("ord-1/d1", 20, Decimal("9.00"))
    request = replenishment_request("BOARD-18MM", WAREHOUSE, 80, stock, "cycle-7", CLOSE, 5)
    assert request == OpenRequest(
        member_id=ALLIANCE_MEMBER_ID, request_id="buffer:cycle-7:BOARD-18MM", sku="BOARD-18MM", quantity=30,
        needed_by=date(2026, 12, 6), country="DE", ship_to=WAREHOUSE,
    )
    assert replenishment_request("BOARD-18MM", WAREHOUSE, 50, stock, "cycle-7", CLOSE, 5) is None


def test_a_huge_gap_is_asked_for_in_requests_the_contract_allows():
    request = replenishment_request("SKU", WAREHOUSE, 3 * MAX_REQUEST_QUANTITY, BufferStock(), "cycle-1", CLOSE, 1)
    assert request is not None and request.quantity == MAX_REQUEST_QUANTITY


def test_a_long_sku_gets_a_digest_request_id_within_the_contracts_id_rule():
    request = replenishment_request("S" * 64, WAREHOUSE, 5, BufferStock(), "cycle-123", CLOSE, 1)
    again = replenishment_request("S" * 64, WAREHOUSE, 9, BufferStock(), "cycle-123", CLOSE, 1)
    assert request is not None and again is not None
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", request.request_id)
    assert request.request_id == again.request_id


def test_receipts_come_from_the_oldest_lots_at_their_prices_and_draws_keep_the_average():
    stock = BufferStock().placed("o-1/d", 10, Decimal("8.00")).placed("o-2/d", 10, Decimal("10.00"))
    assert stock.ordered == 20 and stock.unit_cost is None
    stock = stock.received(15)
    assert (stock.on_hand, stock.value, stock.ordered) == (15, Decimal("130.00"), 5)
    assert stock.unit_cost == Decimal("8.6667")  # 130 / 15 = 8.6666..., to four places
    stock = stock.drawn(5)
    assert stock.on_hand == 10 and close_to(stock.value / 10, 130 / 15, places=20)
    stock = stock.received(5)
    assert stock.on_order == () and stock.on_hand == 15


def test_the_unit_cost_keeps_sub_cent_precision_but_at_least_cents():
    assert BufferStock(3, Decimal(10)).unit_cost == Decimal("3.3333")
    assert str(BufferStock(8, Decimal(73)).unit_cost) == "9.125"
    assert str(BufferStock(10, Decimal(91)).unit_cost) == "9.10"
    assert str(BufferStock(10, Decimal(100)).unit_cost) == "10.00"


def test_a_shortfall_shrinks_a_lot_and_a_rejection_drops_it():
    stock = BufferStock().placed("o-1/d", 10, Decimal(8)).placed("o-2/d", 10, Decimal(9))
    assert stock.lot_reduced("o-1/d", 4).ordered == 14
    assert [lot.reference for lot in stock.lot_reduced("o-1/d", 0).on_order] == ["o-2/d"]


@pytest.mark.parametrize(
    "move",
    [
        lambda s: s.received(11),
        lambda s: s.drawn(6),
        lambda s: s.placed("o-1/d", 5, Decimal(1)),
        lambda s: s.placed("o-9/d", 0, Decimal(1)),
        lambda s: s.lot_reduced("o-1/d", 11),
    ],
)
def test_impossible_stock_movements_are_refused(move):
    stock = BufferStock(5, Decimal(50)).placed("o-1/d", 10, Decimal(8))
    with pytest.raises(StockError):
        move(stock)


# --- draws -----------------------------------------------------------------------------------

STOCK = BufferStock(on_hand=100, value=Decimal("912.50"))  # average 9.125
SUBSCRIBERS = {"m-a", "m-b", "m-c"}


def claim(member: str, quantity: int, request: str = "r-1", **changes) -> DrawClaim:
    return DrawClaim(member, request, changes.pop("sku", "SKU"), quantity, **changes)


def test_with_enough_stock_every_subscriber_is_served_in_full_at_the_average_cost():
    outcome = draw([claim("m-a", 30), claim("m-b", 20)], "SKU", SUBSCRIBERS, {"m-a": Decimal(1)}, STOCK)
    assert [(d.member_id, d.quantity, d.unit_price) for d in outcome.draws] == [
        ("m-a", 30, Decimal("9.125")), ("m-b", 20, Decimal("9.125"))]
    assert outcome.unserved == () and outcome.stock.on_hand == 50
    assert outcome.stock.unit_cost == Decimal("9.125")
    notice = outcome.draws[0].notice("Zentrallager Nord")
    assert notice.model_dump(mode="json") == {
        "request_id": "r-1", "quantity": 30, "unit_price": "9.125", "warehouse": "Zentrallager Nord"}
    NOTICE_DATA[EventType.PURCHASE_REQUEST_SERVED_FROM_BUFFER].model_validate(notice.model_dump(mode="json"))


def test_non_subscribers_and_other_skus_are_never_served():
    claims = [claim("m-x", 5), claim("m-a", 5, sku="OTHER"), claim(ALLIANCE_MEMBER_ID, 5)]
    outcome = draw(claims, "SKU", SUBSCRIBERS, {}, STOCK)
    assert outcome.draws == () and outcome.unserved == tuple(claims) and outcome.stock == STOCK
    assert outcome.short == 0  # nobody who may draw went without


def test_a_request_whose_price_limit_is_below_the_average_cost_is_not_served():
    claims = [claim("m-a", 5, max_unit_price=Decimal("9.12")), claim("m-b", 5, max_unit_price=Decimal("9.125"))]
    outcome = draw(claims, "SKU", SUBSCRIBERS, {}, STOCK)
    assert [d.member_id for d in outcome.draws] == ["m-b"] and outcome.unserved == (claims[0],)
    assert outcome.short == 0  # refused for its price, not for want of stock


def test_an_empty_buffer_serves_nobody():
    outcome = draw([claim("m-a", 5)], "SKU", SUBSCRIBERS, {"m-a": Decimal(1)}, BufferStock())
    assert outcome.draws == () and outcome.unserved == (claim("m-a", 5),)
    assert outcome.short == 5


def test_short_stock_is_split_by_cost_share_with_the_largest_remainder():
    # quotas 2.5 and 7.5: floors 2 and 7, the last unit to the larger share on the tied remainder
    shares = {"m-a": Decimal("0.25"), "m-b": Decimal("0.75")}
    short = BufferStock(10, Decimal(100))
    outcome = draw([claim("m-a", 10), claim("m-b", 10)], "SKU", SUBSCRIBERS, shares, short)
    assert [(d.member_id, d.quantity) for d in outcome.draws] == [("m-a", 2), ("m-b", 8)]
    assert [(c.member_id, c.quantity) for c in outcome.unserved] == [("m-a", 8), ("m-b", 2)]
    assert outcome.short == 10
    assert outcome.stock.on_hand == 0 and outcome.stock.value == 0


def test_short_stock_goes_to_the_largest_remainders_first():
    # shares 5 : 3 : 2 of 7 units: quotas 3.5, 2.1, 1.4 -> 3, 2, 1 and the last unit to m-a (0.5)
    shares = {"m-a": Decimal(5), "m-b": Decimal(3), "m-c": Decimal(2)}
    assert split_short_stock({"m-a": 9, "m-b": 9, "m-c": 9}, shares, 7) == {"m-a": 4, "m-b": 2, "m-c": 1}


def test_nobody_gets_more_than_it_needs_and_what_it_leaves_goes_to_the_others():
    shares = {"m-a": Decimal(1), "m-b": Decimal(1), "m-c": Decimal(2)}
    # quotas 2.5, 2.5, 5: m-a needs only 1, so the other 9 are split 1 : 2 -> 3, 6
    assert split_short_stock({"m-a": 1, "m-b": 20, "m-c": 20}, shares, 10) == {"m-a": 1, "m-b": 3, "m-c": 6}


def test_a_member_without_a_cost_share_is_served_from_what_the_others_leave():
    shares = {"m-a": Decimal(1), "m-b": Decimal(0)}
    assert split_short_stock({"m-a": 3, "m-b": 10}, shares, 8) == {"m-a": 3, "m-b": 5}
    assert split_short_stock({"m-a": 30, "m-b": 10}, shares, 8) == {"m-a": 8, "m-b": 0}
    assert split_short_stock({"m-b": 4, "m-c": 4}, shares, 5) == {"m-b": 3, "m-c": 2}


def test_a_members_requests_are_served_in_the_order_given():
    shares = {"m-a": Decimal(1), "m-b": Decimal(1)}
    claims = [claim("m-a", 5, "r-early"), claim("m-a", 5, "r-late"), claim("m-b", 3, "r-b")]
    outcome = draw(claims, "SKU", SUBSCRIBERS, shares, BufferStock(10, Decimal(100)))
    assert [(d.request_id, d.quantity) for d in outcome.draws] == [("r-early", 5), ("r-late", 2), ("r-b", 3)]
    assert [(c.request_id, c.quantity) for c in outcome.unserved] == [("r-late", 3)]


def test_a_claim_is_made_from_the_request_about_to_be_told_unfulfillable():
    request = OpenRequest("m-a", "r-9", "SKU", 40, CLOSE, "DE", max_unit_price=Decimal("11.00"))
    assert DrawClaim.of(request, 15) == DrawClaim("m-a", "r-9", "SKU", 15, Decimal("11.00"))


# --- statements ------------------------------------------------------------------------------


def test_periods_are_aligned_blocks_of_cycle_numbers():
    assert [n for n in range(1, 31) if closes_period(n, 10)] == [10, 20, 30]
    assert period_cycle_numbers(13, 10) == range(11, 21) and period_cycle_numbers(20, 10) == range(11, 21)
    assert period_cycle_numbers(1, 1) == range(1, 2)


def period_sizings(subscribers_by_cycle: list[dict[str, DemandStats]], first: int = 11):
    return [
        size_buffer(f"cycle-{first + i}", "BOARD-18MM", 0.95, H, 4, members, closed_cycles=12)
        for i, members in enumerate(subscribers_by_cycle)
    ]


def test_a_statement_sums_its_members_own_cycles_and_names_no_one_else():
    sizings = period_sizings([{"m-a": stats(16), "m-b": stats(9)}] * 3)
    found = dict(statements(sizings, {"m-a": 12}, on_hand=40))
    assert set(found) == {"m-a", "m-b"}
    a = found["m-a"]
    per_cycle = sizings[0].member("m-a")
    assert a.sku == "BOARD-18MM" and a.period == "cycle-11/cycle-13"
    assert a.cost_share == (3 * per_cycle.cost_share).quantize(Decimal("0.01"))
    assert a.standalone_cost == (3 * per_cycle.standalone_cost).quantize(Decimal("0.01"))
    assert a.savings == a.standalone_cost - a.cost_share > 0
    assert (a.on_hand, a.drawn, found["m-b"].drawn) == (40, 12, 0)
    for member_id, statement in found.items():
        data = NOTICE_DATA[EventType.RISK_BUFFER_STATEMENT].model_validate(statement.model_dump(mode="json"))
        others = {"m-a", "m-b"} - {member_id}
        assert not any(other in str(value) for other in others for value in data.model_dump().values())


def test_a_member_subscribing_mid_period_pays_for_its_cycles_only():
    before = {"m-a": stats(16)}
    after = {"m-a": stats(16), "m-b": stats(16)}
    sizings = period_sizings([before, after, after])
    found = dict(statements(sizings, {}, on_hand=0))
    joined = sizings[1].member("m-b")
    assert found["m-b"].cost_share == (2 * joined.cost_share).quantize(Decimal("0.01"))
    alone_then = sizings[0].member("m-a")
    assert found["m-a"].cost_share == (alone_then.cost_share + 2 * joined.cost_share).quantize(Decimal("0.01"))


def test_a_subscription_change_never_rewrites_a_closed_periods_statements():
    period_1 = period_sizings([{"m-a": stats(16), "m-b": stats(9)}] * 2, first=1)
    told = statements(period_1, {"m-b": 3}, on_hand=20)
    period_2 = period_sizings([{"m-a": stats(16)}] * 2, first=3)  # m-b unsubscribed after period 1
    assert statements(period_1, {"m-b": 3}, on_hand=20) == told
    assert [member for member, _ in statements(period_2, {}, on_hand=20)] == ["m-a"]
    assert dict(told)["m-a"].cost_share < dict(statements(period_2, {}, on_hand=20))["m-a"].cost_share


def test_a_period_without_the_buffer_has_no_statements():
    assert statements([], {}, on_hand=0) == []
