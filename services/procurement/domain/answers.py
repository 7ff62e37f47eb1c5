"""A supplier's answer per line (`joint_order.answered`, v1.1) and what it commits to per delivery.

- An answer names every line of the order exactly once; a `partial` quantity is 1 to the line's
  quantity - 1. `joint_order.confirmed` is every line `accepted` (with the order's expected
  delivery), `joint_order.rejected` every line `rejected`: one path for all three.
- An order is answered once. The same answer again (same status, quantity and expected delivery
  per line) changes nothing; a different one is a conflict.
- Which deliveries a line serves: those whose `needed_by` is on or after the line's
  `expected_delivery` (a later one is *late*, not served); of those, an accepted line serves all,
  a rejected one none, and a partial one fills them by earliest `needed_by`, then the request
  admitted first: whole deliveries while they fit, the first that does not fit in part, the rest
  not at all. Capacity the supplier offered beyond what on-time deliveries take stays unused.
- What a delivery is not served is re-sourced at once (`resourcing.py`); the ordered unit price
  stays binding for what is served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from services.procurement.domain.orders import AnswerOutcome, JointOrder, OrderLine, OrderStatus, delivery_id
from services.procurement.domain.resourcing import DELIVERY_TOO_LATE, SUPPLIER_REJECTED, SUPPLIER_SHORTFALL
from shared.contract import (
    JointOrderAnswered,
    JointOrderConfirmed,
    JointOrderRejected,
    LineAnswer,
    LineStatus,
    PurchaseRequestConfirmed,
    RejectionReason,
)
from shared.reasons import DeadLetterReason


@dataclass(frozen=True, slots=True)
class LineDecision:
    """One line as the supplier answered it; `quantity` is what it will deliver of the line."""

    line_id: str
    status: LineStatus
    quantity: int
    expected_delivery: date | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class OrderAnswer:
    """A whole answer, lines in the order's line order."""

    order_id: str
    supplier_id: str
    lines: tuple[LineDecision, ...]

    @property
    def status(self) -> OrderStatus:
        """What the order becomes: confirmed (all accepted), rejected (all rejected), else answered."""
        statuses = {line.status for line in self.lines}
        if statuses == {LineStatus.ACCEPTED}:
            return OrderStatus.CONFIRMED
        if statuses == {LineStatus.REJECTED}:
            return OrderStatus.REJECTED
        return OrderStatus.ANSWERED

    def says_the_same_as(self, other: OrderAnswer) -> bool:
        """Whether `other` repeats this answer: same status, quantity and date per line (the
        supplier's wording of a reason may differ between a retry and the original)."""
        return [_substance(line) for line in self.lines] == [_substance(line) for line in other.lines]


def _substance(line: LineDecision) -> tuple[str, LineStatus, int, date | None]:
    return line.line_id, line.status, line.quantity, line.expected_delivery


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an answer, a dispatch or a receipt cannot be taken: a dead-letter reason for a
    supplier's record, a rejection reason for a member's receipt (it is told why)."""

    reason: DeadLetterReason | RejectionReason
    detail: str


def whole_order_answer(order: JointOrder, data: JointOrderConfirmed | JointOrderRejected) -> OrderAnswer:
    """v1's answers as line answers: confirmed is every line accepted, rejected every line rejected."""
    if isinstance(data, JointOrderConfirmed):
        lines = [LineDecision(line.line_id, LineStatus.ACCEPTED, line.quantity, data.expected_delivery)
                 for line in order.lines]
    else:
        lines = [LineDecision(line.line_id, LineStatus.REJECTED, 0, None, data.reason) for line in order.lines]
    return OrderAnswer(order.order_id, order.supplier_id, tuple(lines))


def read_answer(order: JointOrder, data: JointOrderAnswered) -> OrderAnswer | Refusal:
    """The answer checked against the order: every line once, partial quantities within the line."""
    lines = {line.line_id: line for line in order.lines}
    answered: dict[str, LineAnswer] = {}
    for answer in data.lines:
        if answer.line_id not in lines:
            return Refusal(DeadLetterReason.UNKNOWN_LINE, f"line {answer.line_id} is not on order {order.order_id}")
        if answer.line_id in answered:
            return Refusal(DeadLetterReason.REPEATED_LINE, f"line {answer.line_id} is answered twice")
        answered[answer.line_id] = answer
    missing = [line_id for line_id in lines if line_id not in answered]
    if missing:
        return Refusal(DeadLetterReason.MISSING_LINE, f"lines not answered: {', '.join(missing)}")
    decisions = []
    for line in order.lines:
        answer = answered[line.line_id]
        if answer.status is LineStatus.PARTIAL:
            assert answer.quantity is not None  # the contract model requires it
            if not 1 <= answer.quantity < line.quantity:
                return Refusal(
                    DeadLetterReason.PARTIAL_QUANTITY_OUT_OF_RANGE,
                    f"line {line.line_id}: partial quantity {answer.quantity} is not 1 to {line.quantity - 1}",
                )
        quantity = {LineStatus.ACCEPTED: line.quantity, LineStatus.REJECTED: 0}.get(answer.status, answer.quantity)
        assert quantity is not None
        decisions.append(LineDecision(line.line_id, answer.status, quantity, answer.expected_delivery, answer.reason))
    return OrderAnswer(order.order_id, order.supplier_id, tuple(decisions))


def judge_line_answer(status: OrderStatus, answered: OrderAnswer | None, answer: OrderAnswer) -> AnswerOutcome:
    """An order is answered once: the first answer stands, the same one again changes nothing.
    `answered` is the answer the order holds (None while placed, or cancelled unanswered)."""
    if status is OrderStatus.PLACED:
        return AnswerOutcome.APPLY
    if answered is not None and answered.says_the_same_as(answer):
        return AnswerOutcome.REPEATED
    return AnswerOutcome.CONFLICT


class Service(StrEnum):
    """How much of a delivery its line serves."""

    WHOLE = "whole"
    PART = "part"
    LATE = "late"
    """Not served: the line's expected delivery is after the delivery's needed_by."""
    NONE = "none"
    """Not served: the line was rejected, or a partial line's quantity ran out before it."""


@dataclass(frozen=True, slots=True)
class Commitment:
    """What the supplier's answer commits it to for one delivery: `confirmed` of `ordered` units
    by `expected_delivery`, at the ordered unit price."""

    order_id: str
    supplier_id: str
    line_id: str
    sku: str
    delivery_id: str
    member_id: str
    request_id: str
    ordered: int
    confirmed: int
    expected_delivery: date | None
    service: Service

    @property
    def shortfall(self) -> int:
        return self.ordered - self.confirmed

    @property
    def resourcing_reason(self) -> str:
        """What the member is told its unserved units were re-sourced for."""
        if self.service is Service.LATE:
            return DELIVERY_TOO_LATE
        return SUPPLIER_SHORTFALL if self.confirmed else SUPPLIER_REJECTED

    def confirmed_notice(self, request_quantity: int) -> PurchaseRequestConfirmed:
        """`purchase_request.confirmed` for a served delivery; `quantity` when this order serves
        only part of the request's `request_quantity` (a partial line, or a re-sourced part)."""
        return PurchaseRequestConfirmed(
            request_id=self.request_id,
            order_id=self.order_id,
            expected_delivery=self.expected_delivery,
            quantity=self.confirmed if self.confirmed < request_quantity else None,
        )


@dataclass(frozen=True, slots=True)
class Shortfall:
    """Units of one request an answer left unserved: to be decided again at once among the SKU's
    other suppliers (`resourcing.request_part`), this one excluded for them."""

    member_id: str
    request_id: str
    sku: str
    quantity: int
    from_order_id: str
    from_supplier_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AnswerEffects:
    commitments: tuple[Commitment, ...]
    """Every delivery of the order, in line and delivery order."""

    @property
    def confirmed(self) -> tuple[Commitment, ...]:
        """The deliveries the order still serves: each member is told `purchase_request.confirmed`."""
        return tuple(c for c in self.commitments if c.confirmed)

    @property
    def shortfalls(self) -> tuple[Shortfall, ...]:
        """What to re-source now, one part per delivery not served in full."""
        return tuple(
            Shortfall(c.member_id, c.request_id, c.sku, c.shortfall, c.order_id, c.supplier_id, c.resourcing_reason)
            for c in self.commitments
            if c.shortfall
        )


def apply_answer(order: JointOrder, answer: OrderAnswer, admitted_at: Mapping[str, datetime]) -> AnswerEffects:
    """What each delivery of `order` gets from `answer`. `admitted_at` (by request key) breaks ties
    between deliveries needed on the same day: the request admitted first is served first."""
    decisions = {decision.line_id: decision for decision in answer.lines}
    commitments = []
    for line in order.lines:
        decision = decisions[line.line_id]
        served = serve_line(line, decision, admitted_at)
        for delivery in line.deliveries:
            key = delivery_id(line.line_id, delivery)
            confirmed, service = served[key]
            commitments.append(Commitment(
                order.order_id, order.supplier_id, line.line_id, line.sku, key, delivery.member_id,
                delivery.request_id, delivery.quantity, confirmed, decision.expected_delivery, service,
            ))
    return AnswerEffects(tuple(commitments))


def serve_line(
    line: OrderLine, decision: LineDecision, admitted_at: Mapping[str, datetime]
) -> dict[str, tuple[int, Service]]:
    """delivery_id -> (units served, how) for one answered line (the module docstring's rule)."""
    served: dict[str, tuple[int, Service]] = {}
    expected = decision.expected_delivery
    on_time = []
    for delivery in line.deliveries:
        if expected is not None and expected > delivery.needed_by:
            served[delivery_id(line.line_id, delivery)] = (0, Service.LATE)
        else:
            on_time.append(delivery)
    left = decision.quantity
    on_time.sort(key=lambda d: (d.needed_by, admitted_at[d.request_key], d.request_key))
    for delivery in on_time:
        units = min(left, delivery.quantity)
        left -= units
        service = Service.WHOLE if units == delivery.quantity else Service.PART if units else Service.NONE
        served[delivery_id(line.line_id, delivery)] = (units, service)
    return served
