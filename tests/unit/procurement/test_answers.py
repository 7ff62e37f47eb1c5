"""Answers per line (`joint_order.answered`): checking them against the order, which deliveries a
partial or late line serves, and re-sourcing the rest as request parts under every optimizer rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.answers import (
    LineDecision,
    Refusal,
    Service,
    apply_answer,
    judge_line_answer,
    read_answer,
    whole_order_answer,
)
from services.procurement.domain.bundling import Tier, optimize_bundle
from services.procurement.domain.catalog import CatalogItem, Supplier
from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.orders import AnswerOutcome, JointOrder, OrderStatus, assemble_orders, delivery_id
from services.procurement.domain.resourcing import (
    DELIVERY_TOO_LATE,
    SUPPLIER_REJECTED,
    SUPPLIER_SHORTFALL,
    request_part,
    resourcing_offers,
)
from shared.contract import JointOrderAnswered, JointOrderConfirmed, JointOrderRejected, LineStatus
from shared.reasons import DeadLetterReason

SKU = "BOARD-18MM"
TODAY = date(2026, 12, 1)
ADMITTED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def supplier(supplier_id: str, *tiers: tuple[int, str], capacity: int = 1000) -> Supplier:
    item = CatalogItem(SKU, "Birch plywood", "wood", "piece", capacity, 1,
                       tuple(Tier(q, Decimal(p)) for q, p in tiers))
    return Supplier(supplier_id, supplier_id, ("DE",), 3, "secret", catalog=(item,))


SUPPLIERS = [supplier("s-1", (1, "10.00"), (100, "9.00")), supplier("s-2", (1, "9.50"))]
M1 = OpenRequest("m-1", "r-1", SKU, 60, date(2026, 12, 20), "DE")
M2 = OpenRequest("m-2", "r-2", SKU, 50, date(2026, 12, 22), "DE")
ADMITTED_AT = {M1.key: ADMITTED, M2.key: ADMITTED + timedelta(minutes=5)}


def place(requests: list[OpenRequest], suppliers: list[Supplier] = SUPPLIERS) -> list[JointOrder]:
    offers = [s.offer(s.catalog[0]) for s in suppliers]
    decision = optimize_bundle(offers, [r.demand() for r in requests], order_date=TODAY, max_supplier_share=1,
                               milp_solver=HIGHS)
    order_ids = {s.supplier_id: f"ord-{n}" for n, s in enumerate(suppliers, 1)}
    return assemble_orders("c-1", {SKU: decision}, {SKU: requests}, order_ids)


def answered(order: JointOrder, *lines: dict) -> JointOrderAnswered:
    return JointOrderAnswered.model_validate({"order_id": order.order_id, "supplier_id": order.supplier_id,
                                              "lines": list(lines)})


def the_joint_order() -> JointOrder:
    (order,) = place([M1, M2])
    assert order.supplier_id == "s-1" and order.lines[0].quantity == 110
    assert order.lines[0].unit_price == Decimal("9.00")
    return order


def test_a_partial_line_serves_the_earliest_needed_delivery_whole_and_the_next_in_part():
    order = the_joint_order()
    line = order.lines[0]
    answer = read_answer(order, answered(order, {"line_id": line.line_id, "status": "partial", "quantity": 80,
                                                 "expected_delivery": "2026-12-15"}))
    assert not isinstance(answer, Refusal)
    assert answer.status is OrderStatus.ANSWERED
    effects = apply_answer(order, answer, ADMITTED_AT)
    served = {(c.member_id, c.confirmed, c.service) for c in effects.commitments}
    assert served == {("m-1", 60, Service.WHOLE), ("m-2", 20, Service.PART)}
    (shortfall,) = effects.shortfalls
    assert (shortfall.member_id, shortfall.request_id, shortfall.quantity, shortfall.reason) == (
        "m-2", "r-2", 30, SUPPLIER_SHORTFALL)
    notices = {c.member_id: c.confirmed_notice(c.ordered) for c in effects.confirmed}
    assert notices["m-1"].quantity is None  # served whole: v1's notice
    assert notices["m-2"].quantity == 20
    assert notices["m-2"].expected_delivery == date(2026, 12, 15)
    m1 = next(c for c in effects.confirmed if c.member_id == "m-1")
    assert m1.confirmed_notice(request_quantity=90).quantity == 60  # a part of a larger request


def test_the_unserved_part_is_resourced_to_the_next_supplier_at_its_price_as_a_request_of_its_own():
    order = the_joint_order()
    line = order.lines[0]
    answer = read_answer(order, answered(order, {"line_id": line.line_id, "status": "partial", "quantity": 80}))
    assert not isinstance(answer, Refusal)
    (shortfall,) = apply_answer(order, answer, ADMITTED_AT).shortfalls
    part = request_part(M2, shortfall.quantity)
    offers = resourcing_offers(SUPPLIERS, SKU, {shortfall.from_supplier_id}, {"s-1": 80})
    decision = optimize_bundle(offers, [part.demand()], order_date=TODAY, max_supplier_share=0.7, milp_solver=HIGHS)
    (new_order,) = assemble_orders("c-1", {SKU: decision}, {SKU: [part]}, {"s-2": "ord-9"}, order.order_id)
    (_, delivery), = new_order.deliveries()
    assert (new_order.supplier_id, new_order.replaces_order_id) == ("s-2", "ord-1")
    assert (delivery.request_id, delivery.quantity, delivery.unit_price) == ("r-2", 30, Decimal("9.50"))
    assert delivery.standalone_unit_price == Decimal("9.50")  # 30 alone, s-1 excluded for them
    assert delivery.savings == Decimal(0)
    assert order.lines[0].unit_price == Decimal("9.00")  # what s-1 delivers stays at the ordered price


def test_parts_resourced_together_earn_the_tier_they_reach_and_report_the_saving_of_each_part():
    """Two members' late deliveries re-sourced at once pool into s-3's 100 tier; each part's saving
    is against what that member would pay alone for its part."""
    suppliers = [supplier("s-1", (1, "10.00"), (100, "9.00")), supplier("s-3", (1, "9.80"), (100, "9.20"))]
    first = OpenRequest("m-1", "r-1", SKU, 60, date(2026, 12, 10), "DE")
    second = OpenRequest("m-2", "r-2", SKU, 50, date(2026, 12, 11), "DE")
    (order,) = [o for o in place([first, second], suppliers) if o.supplier_id == "s-1"]
    answer = read_answer(order, answered(order, {"line_id": order.lines[0].line_id, "status": "accepted",
                                                 "expected_delivery": "2026-12-12"}))
    assert not isinstance(answer, Refusal)
    effects = apply_answer(order, answer, {first.key: ADMITTED, second.key: ADMITTED})
    assert effects.confirmed == ()
    assert {(s.request_id, s.quantity, s.reason) for s in effects.shortfalls} == {
        ("r-1", 60, DELIVERY_TOO_LATE), ("r-2", 50, DELIVERY_TOO_LATE)}
    parts = [request_part(first, 60), request_part(second, 50)]
    offers = resourcing_offers(suppliers, SKU, {"s-1"}, {"s-1": 110})
    decision = optimize_bundle(offers, [p.demand() for p in parts], order_date=TODAY, max_supplier_share=0.7,
                               milp_solver=HIGHS)
    placed = {key: (p.unit_price, p.standalone_unit_price, p.savings) for key, p in decision.placements.items()}
    assert placed == {
        first.key: (Decimal("9.20"), Decimal("9.80"), Decimal("36.00")),
        second.key: (Decimal("9.20"), Decimal("9.80"), Decimal("30.00")),
    }


def test_a_moved_expected_delivery_after_needed_by_resources_that_delivery_only():
    order = the_joint_order()
    line = order.lines[0]
    answer = read_answer(order, answered(order, {"line_id": line.line_id, "status": "accepted",
                                                 "expected_delivery": "2026-12-21"}))
    assert not isinstance(answer, Refusal)
    effects = apply_answer(order, answer, ADMITTED_AT)
    assert {(c.member_id, c.confirmed, c.service) for c in effects.commitments} == {
        ("m-1", 0, Service.LATE), ("m-2", 50, Service.WHOLE)}
    assert [(s.member_id, s.quantity, s.reason) for s in effects.shortfalls] == [("m-1", 60, DELIVERY_TOO_LATE)]


def test_a_partial_line_late_for_one_delivery_serves_the_others_and_leaves_its_extra_unused():
    order = the_joint_order()
    answer = read_answer(order, answered(order, {"line_id": order.lines[0].line_id, "status": "partial",
                                                 "quantity": 100, "expected_delivery": "2026-12-21"}))
    assert not isinstance(answer, Refusal)
    effects = apply_answer(order, answer, ADMITTED_AT)
    assert {(c.member_id, c.confirmed) for c in effects.commitments} == {("m-1", 0), ("m-2", 50)}


def test_deliveries_needed_the_same_day_are_served_in_the_order_their_requests_were_admitted():
    late_admitted = OpenRequest("m-1", "r-1", SKU, 60, date(2026, 12, 20), "DE")
    early_admitted = OpenRequest("m-2", "r-2", SKU, 50, date(2026, 12, 20), "DE")
    (order,) = place([late_admitted, early_admitted])
    answer = read_answer(order, answered(order, {"line_id": order.lines[0].line_id, "status": "partial",
                                                 "quantity": 55}))
    assert not isinstance(answer, Refusal)
    admitted = {late_admitted.key: ADMITTED + timedelta(hours=1), early_admitted.key: ADMITTED}
    effects = apply_answer(order, answer, admitted)
    assert {(c.member_id, c.confirmed, c.service) for c in effects.commitments} == {
        ("m-2", 50, Service.WHOLE), ("m-1", 5, Service.PART)}


def test_a_whole_order_confirmation_is_every_line_accepted():
    order = the_joint_order()
    line = order.lines[0]
    confirmed = whole_order_answer(order, JointOrderConfirmed(order_id=order.order_id, supplier_id="s-1",
                                                              expected_delivery=date(2026, 12, 15)))
    per_line = read_answer(order, answered(order, {"line_id": line.line_id, "status": "accepted",
                                                   "expected_delivery": "2026-12-15"}))
    assert per_line == confirmed
    assert confirmed.status is OrderStatus.CONFIRMED
    effects = apply_answer(order, confirmed, ADMITTED_AT)
    assert effects.shortfalls == () and [c.confirmed for c in effects.confirmed] == [60, 50]
    assert all(c.confirmed_notice(c.ordered).quantity is None for c in effects.confirmed)


def test_a_whole_order_rejection_is_every_line_rejected_and_resources_everything():
    order = the_joint_order()
    rejected = whole_order_answer(order, JointOrderRejected(order_id=order.order_id, supplier_id="s-1",
                                                            reason="sold out"))
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.lines == (LineDecision(order.lines[0].line_id, LineStatus.REJECTED, 0, None, "sold out"),)
    effects = apply_answer(order, rejected, ADMITTED_AT)
    assert [(s.request_id, s.quantity, s.reason) for s in effects.shortfalls] == [
        ("r-1", 60, SUPPLIER_REJECTED), ("r-2", 50, SUPPLIER_REJECTED)]


def test_the_same_answer_again_changes_nothing_and_a_different_one_conflicts():
    order = the_joint_order()
    line_id = order.lines[0].line_id
    first = read_answer(order, answered(order, {"line_id": line_id, "status": "partial", "quantity": 80,
                                                "reason": "short"}))
    retry = read_answer(order, answered(order, {"line_id": line_id, "status": "partial", "quantity": 80,
                                                "reason": "short of stock"}))
    other = read_answer(order, answered(order, {"line_id": line_id, "status": "partial", "quantity": 70}))
    assert not isinstance(first, Refusal) and not isinstance(retry, Refusal) and not isinstance(other, Refusal)
    assert judge_line_answer(OrderStatus.PLACED, None, first) is AnswerOutcome.APPLY
    assert judge_line_answer(OrderStatus.ANSWERED, first, retry) is AnswerOutcome.REPEATED
    assert judge_line_answer(OrderStatus.ANSWERED, first, other) is AnswerOutcome.CONFLICT
    assert judge_line_answer(OrderStatus.CANCELLED, None, first) is AnswerOutcome.CONFLICT
    confirmed = whole_order_answer(order, JointOrderConfirmed(order_id=order.order_id, supplier_id="s-1"))
    all_accepted = read_answer(order, answered(order, {"line_id": line_id, "status": "accepted"}))
    assert not isinstance(all_accepted, Refusal)
    assert judge_line_answer(OrderStatus.CONFIRMED, confirmed, all_accepted) is AnswerOutcome.REPEATED


@pytest.mark.parametrize(("lines", "reason"), [
    ([{"line_id": "ord-1-1", "status": "accepted"}, {"line_id": "ord-1-7", "status": "accepted"}],
     DeadLetterReason.UNKNOWN_LINE),
    ([{"line_id": "ord-1-1", "status": "accepted"}, {"line_id": "ord-1-1", "status": "rejected"}],
     DeadLetterReason.REPEATED_LINE),
    ([{"line_id": "ord-1-1", "status": "partial", "quantity": 110}], DeadLetterReason.PARTIAL_QUANTITY_OUT_OF_RANGE),
    ([{"line_id": "ord-1-1", "status": "partial", "quantity": 111}], DeadLetterReason.PARTIAL_QUANTITY_OUT_OF_RANGE),
])
def test_an_answer_that_does_not_fit_the_order_is_refused_with_its_reason(lines, reason):
    order = the_joint_order()
    refusal = read_answer(order, answered(order, *lines))
    assert isinstance(refusal, Refusal) and refusal.reason is reason


def test_an_answer_leaving_out_a_line_is_refused():
    first = OpenRequest("m-1", "r-1", SKU, 60, date(2026, 12, 20), "DE")
    other = OpenRequest("m-1", "r-9", "OTHER", 5, date(2026, 12, 20), "DE")
    offers = [s.offer(s.catalog[0]) for s in SUPPLIERS[:1]]
    decisions = {sku: optimize_bundle(offers, [r.demand()], order_date=TODAY, max_supplier_share=1, milp_solver=HIGHS)
                 for sku, r in ((SKU, first), ("OTHER", other))}
    (order,) = assemble_orders("c-1", decisions, {SKU: [first], "OTHER": [other]}, {"s-1": "ord-1"})
    refusal = read_answer(order, answered(order, {"line_id": "ord-1-1", "status": "accepted"}))
    assert isinstance(refusal, Refusal) and refusal.reason is DeadLetterReason.MISSING_LINE
    assert "ord-1-2" in refusal.detail


@pytest.mark.parametrize("line", [
    {"line_id": "ord-1-1", "status": "partial"},
    {"line_id": "ord-1-1", "status": "accepted", "quantity": 80},
    {"line_id": "ord-1-1", "status": "partial", "quantity": 0},
    {"line_id": "ord-1-1", "status": "rejected", "reason": "x" * 501},
    {"line_id": "ord 1", "status": "accepted"},
    {"line_id": "ord-1-1", "status": "maybe"},
])
def test_a_malformed_line_answer_is_invalid_payload(line):
    with pytest.raises(ValidationError):
        JointOrderAnswered.model_validate({"order_id": "ord-1", "supplier_id": "s-1", "lines": [line]})


def test_delivery_ids_are_stable_unique_and_name_no_request():
    order = the_joint_order()
    line = order.lines[0]
    ids = [delivery_id(line.line_id, d) for d in line.deliveries]
    assert ids == [delivery_id(line.line_id, d) for d in the_joint_order().lines[0].deliveries]
    assert len(set(ids)) == 2 and all(i.startswith(f"{line.line_id}-") and "r-" not in i for i in ids)
