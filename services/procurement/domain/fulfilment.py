"""After the answer: dispatches, goods receipts, discrepancies, completion and escalations (v1.1).

- A delivery moves placed → answered → dispatched → received → completed, or is cancelled with
  its order; quantities add up: what a delivery ships in all its dispatches never exceeds what
  the answer confirmed for it, what a request receives never exceeds what was dispatched for it.
- Only answered, uncancelled orders ship. A dispatch_id is the supplier's, a receipt_id the
  member's: the same one again with the same content changes nothing, with other content it is
  refused.
- A receipt names a request, not a supplier: its units count against the request's dispatched
  units in order of their dispatch's expected arrival (then dispatch_id), each receipt's accepted
  units before its rejected ones. So a request served by two orders is accounted per delivery.
- Rejected goods are reported to their supplier with the receipt; dispatched goods still not
  received `grace_days` after their dispatch's expected arrival are reported as missing, once
  per unit. A request is completed when everything confirmed for it is accepted.
- Escalated for ops: a delivery not (fully) dispatched after its expected delivery date, and a
  dispatch not (fully) received by its expected arrival plus the grace.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum

from services.procurement.domain.answers import Commitment, Refusal
from services.procurement.domain.orders import AnswerOutcome, OrderStatus
from services.procurement.domain.performance import DeliveryRecord
from shared.contract import (
    MISSING_GOODS,
    GoodsRejection,
    JointOrderDiscrepancy,
    JointOrderDispatched,
    PurchaseRequestCompleted,
    PurchaseRequestDispatched,
    PurchaseRequestReceived,
    RejectionReason,
)
from shared.reasons import DeadLetterReason


@dataclass(frozen=True, slots=True)
class Dispatch:
    """One despatch advice as taken; `quantities` are (delivery_id, units), sorted."""

    dispatch_id: str
    order_id: str
    supplier_id: str
    shipped_on: date
    expected_arrival: date
    quantities: tuple[tuple[str, int], ...]
    carrier: str | None = None
    tracking_id: str | None = None

    @classmethod
    def of(cls, data: JointOrderDispatched) -> Dispatch:
        quantities = tuple(sorted((d.delivery_id, d.quantity) for d in data.deliveries))
        return cls(data.dispatch_id, data.order_id, data.supplier_id, data.shipped_on, data.expected_arrival,
                   quantities, data.carrier, data.tracking_id)


def shipped(dispatches: Iterable[Dispatch]) -> dict[str, int]:
    """delivery_id -> units shipped in all of `dispatches`."""
    total: dict[str, int] = {}
    for dispatch in dispatches:
        for delivery_id, units in dispatch.quantities:
            total[delivery_id] = total.get(delivery_id, 0) + units
    return total


def judge_dispatch(
    status: OrderStatus,
    commitments: Sequence[Commitment],
    taken: Sequence[Dispatch],
    earlier: Dispatch | None,
    dispatch: Dispatch,
) -> AnswerOutcome | Refusal:
    """Whether to take `dispatch` of an order held by its sender (`responses.order_held` first):
    `status` is the order's, `commitments` its deliveries as answered, `taken` its dispatches so
    far, `earlier` the supplier's dispatch with the same dispatch_id, if any. APPLY or REPEATED."""
    if earlier is not None:
        if earlier == dispatch:
            return AnswerOutcome.REPEATED
        return Refusal(DeadLetterReason.DISPATCH_ID_REUSED,
                       f"dispatch {dispatch.dispatch_id} was already taken with other content")
    if status is OrderStatus.CANCELLED:
        return Refusal(DeadLetterReason.ORDER_CANCELLED, f"order {dispatch.order_id} was cancelled")
    if status is OrderStatus.PLACED:
        return Refusal(DeadLetterReason.ORDER_NOT_ANSWERED, f"order {dispatch.order_id} is not answered")
    confirmed = {c.delivery_id: c.confirmed for c in commitments}
    so_far = shipped(taken)
    for delivery_id, units in dispatch.quantities:
        if delivery_id not in confirmed:
            return Refusal(DeadLetterReason.UNKNOWN_DELIVERY,
                           f"delivery {delivery_id} is not on order {dispatch.order_id}")
        total = so_far.get(delivery_id, 0) + units
        if total > confirmed[delivery_id]:
            return Refusal(DeadLetterReason.DISPATCH_EXCEEDS_CONFIRMED,
                           f"delivery {delivery_id}: {total} dispatched in all, {confirmed[delivery_id]} confirmed")
    return AnswerOutcome.APPLY


def dispatch_notices(
    commitments: Sequence[Commitment], dispatch: Dispatch
) -> list[tuple[str, PurchaseRequestDispatched]]:
    """(member_id, notice) for each delivery in a taken dispatch: each member its own quantity."""
    by_id = {c.delivery_id: c for c in commitments}
    notices = []
    for delivery_id, units in dispatch.quantities:
        commitment = by_id[delivery_id]
        notices.append((commitment.member_id, PurchaseRequestDispatched(
            request_id=commitment.request_id, order_id=dispatch.order_id, quantity=units,
            shipped_on=dispatch.shipped_on, expected_arrival=dispatch.expected_arrival,
            carrier=dispatch.carrier, tracking_id=dispatch.tracking_id,
        )))
    return notices


@dataclass(frozen=True, slots=True)
class Receipt:
    """One goods receipt as taken."""

    receipt_id: str
    member_id: str
    request_id: str
    received_on: date
    accepted: int
    rejected: int = 0
    reason: GoodsRejection | None = None
    note: str | None = None

    @classmethod
    def of(cls, data: PurchaseRequestReceived) -> Receipt:
        return cls(data.receipt_id, data.member_id, data.request_id, data.received_on, data.quantity_accepted,
                   data.quantity_rejected, data.reason, data.note)

    @property
    def units(self) -> int:
        return self.accepted + self.rejected


@dataclass(frozen=True, slots=True)
class Shipment:
    """One delivery's units in one dispatch: the unit of receipt accounting."""

    dispatch_id: str
    order_id: str
    supplier_id: str
    delivery_id: str
    quantity: int
    expected_arrival: date


class Stage(StrEnum):
    PLACED = "placed"
    ANSWERED = "answered"
    DISPATCHED = "dispatched"
    RECEIVED = "received"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class DeliveryProgress:
    """Where one delivery stands; `missing` counts dispatched units overdue past the grace."""

    delivery_id: str
    order_id: str
    ordered: int
    confirmed: int
    dispatched: int
    accepted: int
    rejected: int
    missing: int

    @property
    def stage(self) -> Stage:
        if self.confirmed and self.accepted >= self.confirmed:
            return Stage.COMPLETED
        if self.accepted or self.rejected:
            return Stage.RECEIVED
        return Stage.DISPATCHED if self.dispatched else Stage.ANSWERED


_STAGE_ORDER = (Stage.PLACED, Stage.ANSWERED, Stage.DISPATCHED, Stage.RECEIVED, Stage.COMPLETED)


def order_stage(status: OrderStatus, deliveries: Iterable[DeliveryProgress]) -> Stage:
    """An order's (or a line's) stage: cancelled or placed as the order is, else the least
    advanced of the deliveries it still serves (answered when it serves none)."""
    if status is OrderStatus.CANCELLED:
        return Stage.CANCELLED
    if status is OrderStatus.PLACED:
        return Stage.PLACED
    stages = [d.stage for d in deliveries if d.confirmed]
    return min(stages, key=_STAGE_ORDER.index) if stages else Stage.ANSWERED


class EscalationKind(StrEnum):
    NOT_DISPATCHED = "not_dispatched"
    """Confirmed units not dispatched by the expected delivery date."""
    NOT_RECEIVED = "not_received"
    """Dispatched units not received by the expected arrival plus the grace."""


@dataclass(frozen=True, slots=True)
class Escalation:
    """Something for ops to chase; `subject` is the delivery_id (not dispatched) or the
    dispatch_id (not received), `due_on` the day it became overdue."""

    kind: EscalationKind
    order_id: str
    supplier_id: str
    subject: str
    quantity: int
    due_on: date


@dataclass(frozen=True, slots=True)
class _Allocation:
    """Received units by shipment, accepted and rejected units by delivery, each receipt's
    rejected units by shipment, and the day each delivery had received all it was confirmed."""

    received: tuple[int, ...]
    accepted: dict[str, int]
    rejected: dict[str, int]
    rejected_by_receipt: dict[str, list[tuple[Shipment, int]]]
    received_in_full_on: dict[str, date]


@dataclass(frozen=True, slots=True)
class RequestLedger:
    """Everything after the answer about one member's request: its deliveries on live orders as
    answered (several when parts were re-sourced), their dispatches and the request's receipts in
    the order they were taken. `awaiting_answer`: a part of it is on an order not answered yet."""

    member_id: str
    request_id: str
    commitments: tuple[Commitment, ...]
    dispatches: tuple[Dispatch, ...] = ()
    receipts: tuple[Receipt, ...] = ()
    awaiting_answer: bool = False
    _allocation: _Allocation = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_allocation", self._allocate())

    @property
    def confirmed(self) -> int:
        return sum(c.confirmed for c in self.commitments)

    @property
    def dispatched(self) -> int:
        return sum(s.quantity for s in self.shipments())

    @property
    def received(self) -> int:
        return sum(r.units for r in self.receipts)

    @property
    def accepted(self) -> int:
        return sum(r.accepted for r in self.receipts)

    def shipments(self) -> list[Shipment]:
        """This request's dispatched units, in the order receipts count against them."""
        mine = {c.delivery_id: c for c in self.commitments}
        found = [
            Shipment(d.dispatch_id, d.order_id, d.supplier_id, delivery_id, units, d.expected_arrival)
            for d in self.dispatches
            for delivery_id, units in d.quantities
            if delivery_id in mine
        ]
        return sorted(found, key=lambda s: (s.expected_arrival, s.dispatch_id, s.delivery_id))

    def _allocate(self) -> _Allocation:
        shipments = self.shipments()
        received = [0] * len(shipments)
        accepted: dict[str, int] = {}
        rejected: dict[str, int] = {}
        by_receipt: dict[str, list[tuple[Shipment, int]]] = {}
        in_full_on: dict[str, date] = {}
        confirmed = {c.delivery_id: c.confirmed for c in self.commitments}
        at = 0
        for receipt in self.receipts:
            for units, tally in ((receipt.accepted, accepted), (receipt.rejected, rejected)):
                while units and at < len(shipments):
                    shipment = shipments[at]
                    taken = min(units, shipment.quantity - received[at])
                    received[at] += taken
                    units -= taken
                    tally[shipment.delivery_id] = tally.get(shipment.delivery_id, 0) + taken
                    if tally is rejected:
                        by_receipt.setdefault(receipt.receipt_id, []).append((shipment, taken))
                    delivery_id = shipment.delivery_id
                    if accepted.get(delivery_id, 0) + rejected.get(delivery_id, 0) >= confirmed[delivery_id]:
                        in_full_on.setdefault(delivery_id, receipt.received_on)
                    if received[at] == shipment.quantity:
                        at += 1
        return _Allocation(tuple(received), accepted, rejected, by_receipt, in_full_on)

    def rejected_discrepancies(self, receipt_id: str) -> list[JointOrderDiscrepancy]:
        """The reports to suppliers of the goods one taken receipt rejected, per delivery."""
        receipt = next(r for r in self.receipts if r.receipt_id == receipt_id)
        reason = receipt.reason or GoodsRejection.OTHER
        return [
            JointOrderDiscrepancy(
                order_id=shipment.order_id, supplier_id=shipment.supplier_id, delivery_id=shipment.delivery_id,
                quantity_rejected=units, quantity_missing=0, reason=reason.value, note=receipt.note,
            )
            for shipment, units in self._allocation.rejected_by_receipt.get(receipt_id, [])
        ]

    def missing(self, today: date, grace_days: int) -> dict[str, int]:
        """delivery_id -> dispatched units not received `grace_days` after their expected arrival."""
        missing: dict[str, int] = {}
        for shipment, received in zip(self.shipments(), self._allocation.received, strict=True):
            if today >= shipment.expected_arrival + timedelta(days=grace_days) and received < shipment.quantity:
                missing[shipment.delivery_id] = missing.get(shipment.delivery_id, 0) + shipment.quantity - received
        return missing

    def missing_discrepancies(
        self, today: date, grace_days: int, reported: Mapping[str, int]
    ) -> list[JointOrderDiscrepancy]:
        """The reports of missing goods due now: per delivery, what is missing beyond what its
        earlier reports (`reported`, by delivery_id) said was."""
        by_id = {c.delivery_id: c for c in self.commitments}
        due = []
        for delivery_id, units in sorted(self.missing(today, grace_days).items()):
            new = units - reported.get(delivery_id, 0)
            if new > 0:
                commitment = by_id[delivery_id]
                due.append(JointOrderDiscrepancy(
                    order_id=commitment.order_id, supplier_id=commitment.supplier_id, delivery_id=delivery_id,
                    quantity_rejected=0, quantity_missing=new, reason=MISSING_GOODS,
                ))
        return due

    def completion(self) -> PurchaseRequestCompleted | None:
        """`purchase_request.completed` once everything confirmed for the request is accepted."""
        confirmed = self.confirmed
        if self.awaiting_answer or not confirmed or self.accepted < confirmed:
            return None
        return PurchaseRequestCompleted(request_id=self.request_id, quantity=self.accepted)

    def progress(self, today: date, grace_days: int) -> list[DeliveryProgress]:
        """Where each of the request's deliveries stands."""
        sent = shipped(self.dispatches)
        missing = self.missing(today, grace_days)
        allocation = self._allocation
        return [
            DeliveryProgress(
                c.delivery_id, c.order_id, c.ordered, c.confirmed, sent.get(c.delivery_id, 0),
                allocation.accepted.get(c.delivery_id, 0), allocation.rejected.get(c.delivery_id, 0),
                missing.get(c.delivery_id, 0),
            )
            for c in self.commitments
        ]

    def performance_records(self, category: str, needed_by: date) -> list[DeliveryRecord]:
        """The request's served deliveries as supplier performance counts them: promised by the
        line's expected delivery, else by the request's `needed_by`."""
        allocation = self._allocation
        return [
            DeliveryRecord(c.supplier_id, category, c.delivery_id, c.expected_delivery or needed_by, c.confirmed,
                           allocation.accepted.get(c.delivery_id, 0),
                           allocation.received_in_full_on.get(c.delivery_id))
            for c in self.commitments
            if c.confirmed
        ]

    def escalations(self, today: date, grace_days: int) -> list[Escalation]:
        """What is overdue about this request now: undispatched confirmed units past their expected
        delivery, and dispatches not fully received past their arrival plus the grace."""
        found = []
        sent = shipped(self.dispatches)
        for c in self.commitments:
            left = c.confirmed - sent.get(c.delivery_id, 0)
            if left > 0 and c.expected_delivery is not None and today > c.expected_delivery:
                found.append(Escalation(EscalationKind.NOT_DISPATCHED, c.order_id, c.supplier_id, c.delivery_id,
                                        left, c.expected_delivery + timedelta(days=1)))
        overdue: dict[tuple[str, str, str], tuple[int, date]] = {}
        for shipment, received in zip(self.shipments(), self._allocation.received, strict=True):
            due_on = shipment.expected_arrival + timedelta(days=grace_days)
            if today >= due_on and received < shipment.quantity:
                key = (shipment.order_id, shipment.supplier_id, shipment.dispatch_id)
                units, _ = overdue.get(key, (0, due_on))
                overdue[key] = (units + shipment.quantity - received, due_on)
        for (order_id, supplier_id, dispatch_id), (units, due_on) in sorted(overdue.items()):
            found.append(Escalation(EscalationKind.NOT_RECEIVED, order_id, supplier_id, dispatch_id, units, due_on))
        return found


def judge_receipt(ledger: RequestLedger | None, receipt: Receipt, earlier: Receipt | None) -> AnswerOutcome | Refusal:
    """Whether to take `receipt`. `ledger` is the request it names among the signing member's own
    (None when it has none by that id: another member's request is unknown to it), `earlier` the
    member's receipt with the same receipt_id, if any (for any of its requests). APPLY or REPEATED."""
    if earlier is not None:
        if earlier == receipt:
            return AnswerOutcome.REPEATED
        return Refusal(RejectionReason.RECEIPT_ID_REUSED,
                       f"receipt {receipt.receipt_id} was already reported with other content")
    if ledger is None:
        return Refusal(RejectionReason.UNKNOWN_REQUEST, f"no request {receipt.request_id} is known")
    dispatched = ledger.dispatched
    if not dispatched:
        return Refusal(RejectionReason.NOT_DISPATCHED, f"nothing was dispatched for request {receipt.request_id}")
    if ledger.received + receipt.units > dispatched:
        return Refusal(RejectionReason.RECEIPT_EXCEEDS_DISPATCH,
                       f"{ledger.received + receipt.units} received in all, {dispatched} dispatched")
    return AnswerOutcome.APPLY


def merge_escalations(found: Iterable[Escalation]) -> list[Escalation]:
    """One escalation per kind, order and subject: a dispatch carries several requests' units."""
    merged: dict[tuple[EscalationKind, str, str], Escalation] = {}
    for escalation in found:
        key = (escalation.kind, escalation.order_id, escalation.subject)
        known = merged.get(key)
        merged[key] = escalation if known is None else replace(known, quantity=known.quantity + escalation.quantity)
    return [merged[key] for key in sorted(merged)]
