"""After the answer: dispatches and receipts add up, discrepancies after the grace, completion,
escalations and stages; the issue's example from the partial answer to the completed request."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.answers import AnswerEffects, Commitment, Refusal, apply_answer, read_answer
from services.procurement.domain.bundling import Tier, optimize_bundle
from services.procurement.domain.catalog import CatalogItem, Supplier
from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.fulfilment import (
    Dispatch,
    Escalation,
    EscalationKind,
    Receipt,
    RequestLedger,
    Stage,
    dispatch_notices,
    judge_dispatch,
    judge_receipt,
    merge_escalations,
    order_stage,
)
from services.procurement.domain.orders import AnswerOutcome, JointOrder, OrderRecord, OrderStatus, assemble_orders
from services.procurement.domain.performance import DeliveryRecord
from services.procurement.domain.resourcing import request_part, resourcing_offers
from services.procurement.domain.responses import order_held
from shared.contract import (
    JointOrderAnswered,
    JointOrderDiscrepancy,
    JointOrderDispatched,
    PurchaseRequestCompleted,
    PurchaseRequestReceived,
    RejectionReason,
)
from shared.reasons import DeadLetterReason, QuarantineReason
from shared.settings import Settings

SKU = "BOARD-18MM"
TODAY = date(2026, 12, 1)
GRACE = Settings.model_fields["receipt_grace_days"].default
ADMITTED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def supplier(supplier_id: str, *tiers: tuple[int, str]) -> Supplier:
    item = CatalogItem(SKU, "Birch plywood", "wood", "piece", 1000, 1, tuple(Tier(q, Decimal(p)) for q, p in tiers))
    return Supplier(supplier_id, supplier_id, ("DE",), 3, "secret", catalog=(item,))


SUPPLIERS = [supplier("s-1", (1, "10.00"), (100, "9.00")), supplier("s-2", (1, "9.50"))]
M1 = OpenRequest("m-1", "r-1", SKU, 60, date(2026, 12, 20), "DE")
M2 = OpenRequest("m-2", "r-2", SKU, 50, date(2026, 12, 22), "DE")


def decide(requests: list[OpenRequest], suppliers: list[Supplier], order_ids: dict[str, str],
           replaces: str | None = None, ordered: dict[str, int] | None = None) -> list[JointOrder]:
    excluded = {s.supplier_id for s in suppliers} - set(order_ids)
    offers = resourcing_offers(suppliers, SKU, excluded, ordered or {})
    decision = optimize_bundle(offers, [r.demand() for r in requests], order_date=TODAY, max_supplier_share=1,
                               milp_solver=HIGHS)
    return assemble_orders("c-1", {SKU: decision}, {SKU: requests}, order_ids, replaces)


def answer(order: JointOrder, lines: list[dict]) -> AnswerEffects:
    data = JointOrderAnswered.model_validate({"order_id": order.order_id, "supplier_id": order.supplier_id,
                                              "lines": lines})
    read = read_answer(order, data)
    assert not isinstance(read, Refusal)
    admitted = {M1.key: ADMITTED, M2.key: ADMITTED + timedelta(minutes=1)}
    return apply_answer(order, read, admitted)


def dispatch(order_id: str, supplier_id: str, dispatch_id: str, arrival: date, *deliveries: tuple[str, int],
             carrier: str | None = "DHL") -> Dispatch:
    return Dispatch.of(JointOrderDispatched.model_validate({
        "order_id": order_id, "supplier_id": supplier_id, "dispatch_id": dispatch_id,
        "shipped_on": str(arrival - timedelta(days=2)), "expected_arrival": str(arrival), "carrier": carrier,
        "deliveries": [{"delivery_id": d, "quantity": q} for d, q in deliveries],
    }))


def receipt(member_id: str, request_id: str, receipt_id: str, accepted: int, rejected: int = 0,
            reason: str | None = None) -> Receipt:
    return Receipt.of(PurchaseRequestReceived.model_validate({
        "request_id": request_id, "member_id": member_id, "receipt_id": receipt_id, "received_on": "2026-12-15",
        "quantity_accepted": accepted, "quantity_rejected": rejected, "reason": reason,
    }))


def of(effects: AnswerEffects, member_id: str) -> Commitment:
    return next(c for c in effects.commitments if c.member_id == member_id)


def test_the_issues_example_from_a_partial_answer_to_completion():
    """m-1 60 and m-2 50 on one line of 110; s-1 answers partial 80: m-1 served whole, m-2 20, m-2's
    other 30 re-sourced to s-2; two dispatches, two receipts (m-2's short by 5), a discrepancy of
    5 missing after the grace, completed for m-1 only."""
    (first,) = decide([M1, M2], SUPPLIERS, {"s-1": "ord-1"})
    first_answer = answer(first, [{"line_id": "ord-1-1", "status": "partial", "quantity": 80,
                                   "expected_delivery": "2026-12-15"}])
    assert [(c.member_id, c.confirmed) for c in first_answer.confirmed] == [("m-1", 60), ("m-2", 20)]
    (shortfall,) = first_answer.shortfalls
    part = request_part(M2, shortfall.quantity)
    (second,) = decide([part], SUPPLIERS, {"s-2": "ord-2"}, "ord-1", {"s-1": 80})
    (_, moved), = second.deliveries()
    assert (moved.quantity, moved.unit_price, moved.savings) == (30, Decimal("9.50"), Decimal(0))
    second_answer = answer(second, [{"line_id": "ord-2-1", "status": "accepted", "expected_delivery": "2026-12-16"}])

    m1, m2_first, m2_second = of(first_answer, "m-1"), of(first_answer, "m-2"), of(second_answer, "m-2")
    dsp_1 = dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 60), (m2_first.delivery_id, 20))
    dsp_2 = dispatch("ord-2", "s-2", "dsp-1", date(2026, 12, 15), (m2_second.delivery_id, 30), carrier=None)
    assert judge_dispatch(OrderStatus.ANSWERED, first_answer.commitments, [], None, dsp_1) is AnswerOutcome.APPLY
    assert judge_dispatch(OrderStatus.CONFIRMED, second_answer.commitments, [], None, dsp_2) is AnswerOutcome.APPLY
    told = dispatch_notices(first_answer.commitments, dsp_1) + dispatch_notices(second_answer.commitments, dsp_2)
    assert sorted((member, n.request_id, n.order_id, n.quantity, n.carrier or "") for member, n in told) == [
        ("m-1", "r-1", "ord-1", 60, "DHL"), ("m-2", "r-2", "ord-1", 20, "DHL"), ("m-2", "r-2", "ord-2", 30, "")]
    assert "carrier" not in told[-1][1].model_dump(mode="json")

    m1_ledger = RequestLedger("m-1", "r-1", (m1,), (dsp_1,))
    m2_ledger = RequestLedger("m-2", "r-2", (m2_first, m2_second), (dsp_1, dsp_2))
    m1_receipt, m2_receipt = receipt("m-1", "r-1", "gr-1", 60), receipt("m-2", "r-2", "gr-1", 45)
    assert judge_receipt(m1_ledger, m1_receipt, None) is AnswerOutcome.APPLY
    assert judge_receipt(m2_ledger, m2_receipt, None) is AnswerOutcome.APPLY
    m1_ledger = replace(m1_ledger, receipts=(m1_receipt,))
    m2_ledger = replace(m2_ledger, receipts=(m2_receipt,))

    assert m1_ledger.completion() == PurchaseRequestCompleted(request_id="r-1", quantity=60)
    assert m2_ledger.completion() is None
    before_grace = date(2026, 12, 15) + timedelta(days=GRACE - 1)
    assert m2_ledger.missing_discrepancies(before_grace, GRACE, {}) == []
    after_grace = date(2026, 12, 15) + timedelta(days=GRACE)
    assert m2_ledger.missing_discrepancies(after_grace, GRACE, {}) == [JointOrderDiscrepancy(
        order_id="ord-2", supplier_id="s-2", delivery_id=m2_second.delivery_id,
        quantity_rejected=0, quantity_missing=5, reason="missing")]
    assert m2_ledger.missing_discrepancies(after_grace, GRACE, {m2_second.delivery_id: 5}) == []
    assert m1_ledger.missing_discrepancies(after_grace, GRACE, {}) == []

    stages = {(p.order_id, p.stage, p.accepted, p.missing) for p in m2_ledger.progress(after_grace, GRACE)}
    assert stages == {("ord-1", Stage.COMPLETED, 20, 0), ("ord-2", Stage.RECEIVED, 25, 5)}
    assert order_stage(OrderStatus.ANSWERED, m1_ledger.progress(after_grace, GRACE)) is Stage.COMPLETED
    assert order_stage(OrderStatus.CONFIRMED, m2_ledger.progress(after_grace, GRACE)) is Stage.RECEIVED
    assert m2_ledger.escalations(after_grace, GRACE) == [
        Escalation(EscalationKind.NOT_RECEIVED, "ord-2", "s-2", "dsp-1", 5, after_grace)]


def the_answered_order() -> tuple[AnswerEffects, Commitment, Commitment]:
    (order,) = decide([M1, M2], SUPPLIERS, {"s-1": "ord-1"})
    effects = answer(order, [{"line_id": "ord-1-1", "status": "partial", "quantity": 80,
                              "expected_delivery": "2026-12-15"}])
    return effects, of(effects, "m-1"), of(effects, "m-2")


def test_a_delivery_may_ship_in_several_dispatches_up_to_what_was_confirmed():
    effects, m1, m2 = the_answered_order()
    first = dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 40))
    second = dispatch("ord-1", "s-1", "dsp-2", date(2026, 12, 15), (m1.delivery_id, 20), (m2.delivery_id, 20))
    assert judge_dispatch(OrderStatus.ANSWERED, effects.commitments, [first], None, second) is AnswerOutcome.APPLY
    one_more = dispatch("ord-1", "s-1", "dsp-3", date(2026, 12, 15), (m2.delivery_id, 1))
    refusal = judge_dispatch(OrderStatus.ANSWERED, effects.commitments, [first, second], None, one_more)
    assert isinstance(refusal, Refusal) and refusal.reason is DeadLetterReason.DISPATCH_EXCEEDS_CONFIRMED


@pytest.mark.parametrize(("status", "reason"), [
    (OrderStatus.PLACED, DeadLetterReason.ORDER_NOT_ANSWERED),
    (OrderStatus.CANCELLED, DeadLetterReason.ORDER_CANCELLED),
])
def test_only_answered_uncancelled_orders_ship(status, reason):
    effects, m1, _ = the_answered_order()
    refusal = judge_dispatch(status, effects.commitments, [], None,
                             dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 1)))
    assert isinstance(refusal, Refusal) and refusal.reason is reason


def test_a_dispatch_of_an_unknown_delivery_or_beyond_a_rejected_line_is_refused():
    effects, m1, _ = the_answered_order()
    unknown = dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), ("ord-1-1-000000000000", 1))
    refusal = judge_dispatch(OrderStatus.ANSWERED, effects.commitments, [], None, unknown)
    assert isinstance(refusal, Refusal) and refusal.reason is DeadLetterReason.UNKNOWN_DELIVERY
    nothing_confirmed = [replace(c, confirmed=0) for c in effects.commitments]
    refusal = judge_dispatch(OrderStatus.REJECTED, nothing_confirmed, [], None,
                             dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 1)))
    assert isinstance(refusal, Refusal) and refusal.reason is DeadLetterReason.DISPATCH_EXCEEDS_CONFIRMED


def test_a_replayed_dispatch_id_changes_nothing_with_the_same_content_and_is_refused_with_other_content():
    effects, m1, _ = the_answered_order()
    first = dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 40))
    again = judge_dispatch(OrderStatus.ANSWERED, effects.commitments, [first], first, first)
    assert again is AnswerOutcome.REPEATED
    changed = dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 41))
    refusal = judge_dispatch(OrderStatus.ANSWERED, effects.commitments, [first], first, changed)
    assert isinstance(refusal, Refusal) and refusal.reason is DeadLetterReason.DISPATCH_ID_REUSED


@pytest.mark.parametrize("data", [
    {"expected_arrival": "2026-12-01"},
    {"deliveries": [{"delivery_id": "d-1", "quantity": 1}, {"delivery_id": "d-1", "quantity": 2}]},
    {"deliveries": []},
    {"deliveries": [{"delivery_id": "d-1", "quantity": 0}]},
    {"carrier": "x" * 501},
])
def test_a_malformed_dispatch_is_invalid_payload(data):
    valid = {"order_id": "ord-1", "supplier_id": "s-1", "dispatch_id": "dsp-1", "shipped_on": "2026-12-02",
             "expected_arrival": "2026-12-04", "deliveries": [{"delivery_id": "d-1", "quantity": 1}]}
    with pytest.raises(ValidationError):
        JointOrderDispatched.model_validate({**valid, **data})


def test_receipts_add_up_to_at_most_what_was_dispatched_for_the_request():
    _, m1, _ = the_answered_order()
    ledger = RequestLedger("m-1", "r-1", (m1,))
    refusal = judge_receipt(ledger, receipt("m-1", "r-1", "gr-1", 10), None)
    assert isinstance(refusal, Refusal) and refusal.reason is RejectionReason.NOT_DISPATCHED
    ledger = replace(ledger, dispatches=(dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 40)),))
    ledger = replace(ledger, receipts=(receipt("m-1", "r-1", "gr-1", 30),))
    assert judge_receipt(ledger, receipt("m-1", "r-1", "gr-2", 5, 5, "damaged"), None) is AnswerOutcome.APPLY
    refusal = judge_receipt(ledger, receipt("m-1", "r-1", "gr-2", 11), None)
    assert isinstance(refusal, Refusal) and refusal.reason is RejectionReason.RECEIPT_EXCEEDS_DISPATCH


def test_a_replayed_receipt_id_changes_nothing_with_the_same_content_and_is_rejected_with_other_content():
    _, m1, _ = the_answered_order()
    first = receipt("m-1", "r-1", "gr-1", 30)
    ledger = RequestLedger("m-1", "r-1", (m1,),
                           (dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 60)),), (first,))
    assert judge_receipt(ledger, first, first) is AnswerOutcome.REPEATED
    refusal = judge_receipt(ledger, receipt("m-1", "r-1", "gr-1", 29), first)
    assert isinstance(refusal, Refusal) and refusal.reason is RejectionReason.RECEIPT_ID_REUSED
    refusal = judge_receipt(None, receipt("m-1", "r-1", "gr-1", 29), first)
    assert isinstance(refusal, Refusal) and refusal.reason is RejectionReason.RECEIPT_ID_REUSED


def test_a_receipt_for_a_request_the_member_does_not_have_is_unknown_request():
    """Receipts are looked up among the signing member's own requests: another member's request
    id finds nothing there, and is answered exactly like an id nobody has."""
    refusal = judge_receipt(None, receipt("m-2", "r-1", "gr-1", 1), None)
    assert isinstance(refusal, Refusal) and refusal.reason is RejectionReason.UNKNOWN_REQUEST


@pytest.mark.parametrize("data", [
    {"quantity_accepted": 0},
    {"quantity_accepted": -1},
    {"quantity_accepted": "5"},
    {"reason": "lost"},
    {"note": "x" * 501},
    {"receipt_id": ""},
])
def test_a_malformed_receipt_is_invalid_payload(data):
    valid = {"request_id": "r-1", "member_id": "m-1", "receipt_id": "gr-1", "received_on": "2026-12-15",
             "quantity_accepted": 1}
    with pytest.raises(ValidationError):
        PurchaseRequestReceived.model_validate({**valid, **data})


def test_rejected_goods_are_reported_to_the_supplier_of_the_units_they_were():
    """m-2's units arrive from s-1 (20, earlier) and s-2 (30): a receipt accepting 15 and rejecting
    10 rejects s-1's last 5 and s-2's first 5, each reported to its supplier."""
    (first,) = decide([M1, M2], SUPPLIERS, {"s-1": "ord-1"})
    first_answer = answer(first, [{"line_id": "ord-1-1", "status": "partial", "quantity": 80}])
    (second,) = decide([request_part(M2, 30)], SUPPLIERS, {"s-2": "ord-2"}, "ord-1")
    second_answer = answer(second, [{"line_id": "ord-2-1", "status": "accepted"}])
    m2_first, m2_second = of(first_answer, "m-2"), of(second_answer, "m-2")
    dispatches = (dispatch("ord-2", "s-2", "dsp-7", date(2026, 12, 16), (m2_second.delivery_id, 30)),
                  dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m2_first.delivery_id, 20)))
    bad = receipt("m-2", "r-2", "gr-1", 15, 10, "damaged")
    ledger = RequestLedger("m-2", "r-2", (m2_first, m2_second), dispatches, (bad,))
    reported = [(d.supplier_id, d.delivery_id, d.quantity_rejected, d.quantity_missing, d.reason)
                for d in ledger.rejected_discrepancies("gr-1")]
    assert reported == [("s-1", m2_first.delivery_id, 5, 0, "damaged"), ("s-2", m2_second.delivery_id, 5, 0, "damaged")]
    assert ledger.completion() is None
    ledger = replace(ledger, receipts=(bad, receipt("m-2", "r-2", "gr-2", 25)))
    assert ledger.completion() is None  # 40 of 50 accepted: the rejected goods are not replaced
    assert [p.stage for p in ledger.progress(date(2026, 12, 31), GRACE)] == [Stage.RECEIVED, Stage.RECEIVED]


def test_missing_goods_are_reported_once_per_unit_as_more_become_overdue():
    _, m1, _ = the_answered_order()
    dispatches = (dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 10), (m1.delivery_id, 20)),
                  dispatch("ord-1", "s-1", "dsp-2", date(2026, 12, 12), (m1.delivery_id, 40)))
    ledger = RequestLedger("m-1", "r-1", (m1,), dispatches, (receipt("m-1", "r-1", "gr-1", 15),))
    day = date(2026, 12, 10 + GRACE)
    (first,) = ledger.missing_discrepancies(day, GRACE, {})
    assert first.quantity_missing == 5
    assert ledger.missing_discrepancies(day, GRACE, {m1.delivery_id: 5}) == []
    (second,) = ledger.missing_discrepancies(day + timedelta(days=2), GRACE, {m1.delivery_id: 5})
    assert second.quantity_missing == 40


def test_confirmed_goods_not_dispatched_by_the_expected_delivery_are_escalated():
    _, m1, m2 = the_answered_order()
    ledger = RequestLedger("m-1", "r-1", (m1,),
                           (dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 16), (m1.delivery_id, 50)),))
    assert ledger.escalations(date(2026, 12, 15), GRACE) == []
    assert ledger.escalations(date(2026, 12, 16), GRACE) == [
        Escalation(EscalationKind.NOT_DISPATCHED, "ord-1", "s-1", m1.delivery_id, 10, date(2026, 12, 16))]
    other = RequestLedger("m-2", "r-2", (m2,), ledger.dispatches)
    day = date(2026, 12, 16 + GRACE)
    merged = merge_escalations([*ledger.escalations(day, GRACE), *other.escalations(day, GRACE)])
    assert sorted((e.kind, e.subject, e.quantity) for e in merged) == sorted([
        (EscalationKind.NOT_DISPATCHED, m1.delivery_id, 10),
        (EscalationKind.NOT_DISPATCHED, m2.delivery_id, 20),
        (EscalationKind.NOT_RECEIVED, "dsp-1", 50),
    ])


def test_a_request_waits_for_completion_while_a_part_of_it_awaits_an_answer():
    _, m1, _ = the_answered_order()
    ledger = RequestLedger("m-1", "r-1", (m1,),
                           (dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 60)),),
                           (receipt("m-1", "r-1", "gr-1", 60),), awaiting_answer=True)
    assert ledger.completion() is None
    assert replace(ledger, awaiting_answer=False).completion() == PurchaseRequestCompleted(request_id="r-1",
                                                                                           quantity=60)


def test_an_order_is_placed_or_cancelled_as_its_status_says_and_otherwise_as_far_as_its_deliveries_are():
    effects, m1, _ = the_answered_order()
    ledger = RequestLedger("m-1", "r-1", (m1,))
    assert order_stage(OrderStatus.PLACED, []) is Stage.PLACED
    assert order_stage(OrderStatus.CANCELLED, ledger.progress(TODAY, GRACE)) is Stage.CANCELLED
    assert order_stage(OrderStatus.ANSWERED, ledger.progress(TODAY, GRACE)) is Stage.ANSWERED
    shipped = replace(ledger, dispatches=(dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 1)),))
    assert order_stage(OrderStatus.ANSWERED, shipped.progress(TODAY, GRACE)) is Stage.DISPATCHED
    assert order_stage(OrderStatus.REJECTED, [p for c in effects.commitments
                                              for p in RequestLedger(c.member_id, c.request_id,
                                                                     (replace(c, confirmed=0),)).progress(TODAY, GRACE)]
                       ) is Stage.ANSWERED


def test_a_dispatch_of_another_suppliers_order_is_quarantined():
    record = OrderRecord("ord-1", "s-1", "c-1", OrderStatus.ANSWERED, Decimal(990), 110, ADMITTED)
    assert order_held(record, SUPPLIERS[1]) is QuarantineReason.ORDER_NOT_HELD
    assert order_held(None, SUPPLIERS[1]) is QuarantineReason.ORDER_NOT_HELD
    assert order_held(record, SUPPLIERS[0]) is None


def test_a_ledger_tells_supplier_performance_when_each_delivery_was_received_in_full():
    _, m1, _ = the_answered_order()
    dispatches = (dispatch("ord-1", "s-1", "dsp-1", date(2026, 12, 14), (m1.delivery_id, 60)),)
    first = replace(receipt("m-1", "r-1", "gr-1", 30), received_on=date(2026, 12, 14))
    second = replace(receipt("m-1", "r-1", "gr-2", 25, 5, "damaged"), received_on=date(2026, 12, 16))
    ledger = RequestLedger("m-1", "r-1", (m1,), dispatches, (first,))
    assert ledger.performance_records("wood", M1.needed_by) == [
        DeliveryRecord("s-1", "wood", m1.delivery_id, date(2026, 12, 15), 60, 30, None)]
    ledger = replace(ledger, receipts=(first, second))
    (record,) = ledger.performance_records("wood", M1.needed_by)
    assert (record.accepted, record.received_in_full_on, record.on_time, record.in_full) == (
        55, date(2026, 12, 16), False, False)
