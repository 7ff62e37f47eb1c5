"""Joint orders from decisions: bundling, amounts, and what happens to the unplaced."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.bundling import Offer, Tier, UnplacedReason, optimize_bundle
from services.procurement.domain.demand import OpenRequest, can_wait_for, earliest_delivery
from services.procurement.domain.orders import (
    AnswerOutcome,
    OrderStatus,
    assemble_orders,
    judge_answer,
    placed_suppliers,
    sort_leftovers,
)
from shared.contract import ShipTo

TODAY = date(2026, 11, 21)


def offer(supplier_id: str, tiers, lead_time_days: int = 3, regions=("DE", "AT"), capacity: int = 10_000) -> Offer:
    return Offer(
        supplier_id=supplier_id,
        regions=frozenset(regions),
        lead_time_days=lead_time_days,
        capacity_per_cycle=capacity,
        min_order_quantity=1,
        tiers=tuple(Tier(q, Decimal(p)) for q, p in tiers),
    )


def request(member_id: str, request_id: str, quantity: int, days: int = 30, **extra) -> OpenRequest:
    return OpenRequest(
        member_id=member_id,
        request_id=request_id,
        sku="BOARD-18MM",
        quantity=quantity,
        needed_by=TODAY + timedelta(days=days),
        country=extra.pop("country", "DE"),
        **extra,
    )


def decide(offers, requests):
    return optimize_bundle(offers, [r.demand() for r in requests], order_date=TODAY, max_supplier_share=0.7,
                           milp_solver=HIGHS)


def test_two_members_bundle_into_one_order_at_the_tier_their_joint_volume_reaches():
    holz = offer("s-holz", [(1, "10.00"), (100, "9.00")])
    requests = [
        request("m-huber", "r-1", 60, ship_to=ShipTo(site="Werk 1", postal_code="80331", country="DE")),
        request("m-maier", "r-1", 50),
    ]
    decisions = {"BOARD-18MM": decide([holz], requests)}
    order_ids = dict(zip(placed_suppliers(decisions.values()), ["ord-1"], strict=True))

    [order] = assemble_orders("cycle-1", decisions, {"BOARD-18MM": requests}, order_ids)

    assert (order.order_id, order.supplier_id, order.quantity, order.total) == ("ord-1", "s-holz", 110, Decimal("990.00"))
    [line] = order.lines
    assert (line.line_id, line.sku, line.unit_price) == ("ord-1-1", "BOARD-18MM", Decimal("9.00"))
    assert [(d.member_id, d.quantity, d.savings) for d in line.deliveries] == [
        ("m-huber", 60, Decimal("60.00")),
        ("m-maier", 50, Decimal("50.00")),
    ]


def test_order_total_is_the_exact_sum_of_its_lines_and_cents_appear_only_on_the_wire():
    cheap = offer("s-tiny", [(1, "0.125")])
    requests = [request("m-a", "r-1", 3), request("m-b", "r-1", 5)]
    decisions = {"BOARD-18MM": decide([cheap], requests)}
    [order] = assemble_orders("cycle-1", decisions, {"BOARD-18MM": requests}, {"s-tiny": "ord-9"})

    assert order.total == Decimal("1.000")
    assert order.total == sum(line.quantity * line.unit_price for line in order.lines)


def test_a_request_alone_has_no_savings():
    requests = [request("m-a", "r-1", 5)]
    decisions = {"BOARD-18MM": decide([offer("s-1", [(1, "4.00")])], requests)}
    [order] = assemble_orders("cycle-1", decisions, {"BOARD-18MM": requests}, {"s-1": "ord-1"})
    assert [d.savings for _, d in order.deliveries()] == [Decimal(0)]


def test_one_order_per_supplier_with_a_line_per_sku():
    wood = [request("m-a", "r-1", 10)]
    metal = [OpenRequest("m-b", "r-2", "BOLT-M8", 20, TODAY + timedelta(days=30), "DE")]
    decisions = {
        "BOARD-18MM": decide([offer("s-1", [(1, "5.00")])], wood),
        "BOLT-M8": optimize_bundle(
            [offer("s-1", [(1, "0.10")])], [metal[0].demand()], order_date=TODAY, max_supplier_share=0.7,
            milp_solver=HIGHS,
        ),
    }
    [order] = assemble_orders("cycle-7", decisions, {"BOARD-18MM": wood, "BOLT-M8": metal}, {"s-1": "ord-3"})
    assert [(line.line_id, line.sku, line.quantity) for line in order.lines] == [
        ("ord-3-1", "BOARD-18MM", 10),
        ("ord-3-2", "BOLT-M8", 20),
    ]
    assert order.total == Decimal("52.00")


def test_earliest_delivery_uses_the_fastest_supplier_serving_the_country():
    offers = [offer("slow", [(1, "1")], lead_time_days=9), offer("fast", [(1, "1")], lead_time_days=2),
              offer("elsewhere", [(1, "1")], lead_time_days=0, regions=("FR",))]
    assert earliest_delivery(request("m", "r", 1), offers, TODAY) == TODAY + timedelta(days=2)
    assert earliest_delivery(request("m", "r", 1, country="PL"), offers, TODAY) is None


def test_an_unplaced_request_waits_only_if_the_next_close_can_still_deliver_in_time():
    offers = [offer("s-1", [(1, "1")], lead_time_days=3)]
    next_close = TODAY + timedelta(days=1)
    assert can_wait_for(request("m", "r", 1, days=4), offers, next_close)  # 22nd + 3 = 25th: in time
    assert not can_wait_for(request("m", "r", 1, days=3), offers, next_close)  # 24th < 25th
    assert not can_wait_for(request("m", "r", 1, country="FR"), offers, next_close)  # nobody serves FR


def test_leftovers_split_into_waiting_and_unfulfillable_with_the_optimizers_reason():
    small = offer("s-1", [(1, "10.00")], capacity=50, lead_time_days=3)
    requests = [
        request("m-a", "r-fits", 50, days=10),
        request("m-b", "r-later", 40, days=10),  # no capacity left now, deliverable after next close
        request("m-c", "r-late", 40, days=4),  # no capacity now and too late for the next close
        request("m-d", "r-cheap", 5, days=10, max_unit_price=Decimal("9.00")),  # price above max: may wait
        request("m-e", "r-fr", 5, country="FR"),  # nobody serves FR
    ]
    decision = decide([small], requests)
    leftovers = sort_leftovers(decision, requests, [small], TODAY + timedelta(days=2))

    assert [r.request_id for r in leftovers.waiting] == ["r-later", "r-cheap"]
    assert [(r.request_id, why) for r, why in leftovers.unfulfillable] == [
        ("r-late", UnplacedReason.CAPACITY),
        ("r-fr", UnplacedReason.NO_ELIGIBLE_SUPPLIER),
    ]


def test_a_supplier_answers_an_order_once():
    assert judge_answer(OrderStatus.PLACED, OrderStatus.CONFIRMED) is AnswerOutcome.APPLY
    assert judge_answer(OrderStatus.PLACED, OrderStatus.REJECTED) is AnswerOutcome.APPLY
    assert judge_answer(OrderStatus.CONFIRMED, OrderStatus.CONFIRMED) is AnswerOutcome.REPEATED
    assert judge_answer(OrderStatus.CONFIRMED, OrderStatus.REJECTED) is AnswerOutcome.CONFLICT
    assert judge_answer(OrderStatus.REJECTED, OrderStatus.CONFIRMED) is AnswerOutcome.CONFLICT


def test_each_delivery_carries_its_standalone_price_and_what_bundling_saved():
    cheap = offer("s-tiny", [(1, "0.125"), (6, "0.1")])
    alone = offer("s-solo", [(1, "0.13")])
    requests = [request("m-a", "r-1", 3), request("m-b", "r-1", 5)]
    decisions = {"BOARD-18MM": decide([cheap, alone], requests)}
    [order] = assemble_orders("cycle-1", decisions, {"BOARD-18MM": requests}, {"s-tiny": "ord-9"})

    assert [(d.member_id, d.unit_price, d.standalone_unit_price, d.savings) for _, d in order.deliveries()] == [
        ("m-a", Decimal("0.1"), Decimal("0.125"), Decimal("0.075")),
        ("m-b", Decimal("0.1"), Decimal("0.125"), Decimal("0.125")),
    ]


def test_an_order_book_fed_sku_by_sku_numbers_lines_in_sku_order_and_refuses_skus_out_of_order():
    import pytest

    from services.procurement.domain.orders import OrderBook

    holz, wald = offer("s-holz", [(1, "10.00")], capacity=60), offer("s-wald", [(1, "12.00")])
    board = [request("m-a", "r-1", 50), request("m-b", "r-2", 30)]
    bolts = [request("m-a", "r-3", 20)]
    decisions = {"A-BOLT": decide([holz, wald], bolts), "B-BOARD": decide([holz, wald], board)}
    ids = {"s-holz": "ord-1", "s-wald": "ord-2"}
    book = OrderBook("cycle-1", ids)
    added = [book.add(sku, decisions[sku], {"A-BOLT": bolts, "B-BOARD": board}[sku]) for sku in sorted(decisions)]
    assert [[(s, o, line.line_id, line.quantity) for s, o, line in lines] for lines in added] == [
        [("s-holz", "ord-1", "ord-1-1", 20)],
        [("s-holz", "ord-1", "ord-1-2", 50)],  # r-2 fits nowhere within its standalone price
    ]
    assert book.orders() == assemble_orders("cycle-1", decisions, {"A-BOLT": bolts, "B-BOARD": board}, ids)
    assert all(o.total == sum((line.amount for line in o.lines), Decimal(0)) for o in book.orders())
    with pytest.raises(ValueError, match="ascending"):
        book.add("A-BOLT", decisions["A-BOLT"], bolts)
