"""What a supplier's order response or despatch advice says, whatever standard it came in, and
how that becomes the contract's data, the same for every standard.

A joint order line with several deliveries is written as one document line per delivery, whose
id is the delivery's `delivery_id` (docs/suppliers.md). A supplier answers and ships per
document line (or answers a whole line by its `line_id`); here the answers are added up per
order line, because the contract answers per line: what the supplier confirms of a line is the
sum of what it confirms of the line's deliveries, and the alliance then decides which
deliveries a partial line serves, exactly as for a JSON answer. The result is the data a JSON supplier would have sent, validated by the same
contract model and judged by the same rules and reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from shared.contract import EventType, JointOrderPlaced, LineStatus
from shared.documents.parties import Party
from shared.documents.safe_xml import InvalidDocument

DEFAULT_REJECTION = "rejected in the supplier's order response"
"""The reason of a rejection that gives none (the contract requires one)."""
MAX_REASON_CHARS = 500


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PER_LINE = "per_line"


@dataclass(frozen=True, slots=True)
class AnsweredLine:
    """A supplier's answer to one document line: a delivery, or a whole order line."""

    document_line_id: str
    confirmed_quantity: int | None
    """None: all of it, as ordered; 0: none of it; otherwise what it will deliver."""
    expected_delivery: date | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SupplierAnswer:
    """An order response, read: answers `order_id`, from whoever `seller_ids` name."""

    order_id: str
    seller_ids: frozenset[str]
    """The ids the document gives its seller: a `<scheme>:<id>` peppol id or the alliance's id."""
    outcome: Outcome
    expected_delivery: date | None = None
    reason: str | None = None
    lines: tuple[AnsweredLine, ...] = ()

    def contract_data(self, order: JointOrderPlaced, supplier: Party) -> tuple[EventType, dict[str, Any]]:
        """The event type and data a JSON supplier would have sent for this answer. `order` is
        the one `order_id` names: an answer to an order the signer does not hold is refused
        before, as a JSON one is (`order_not_held`)."""
        head = {"order_id": self.order_id, "supplier_id": _supplier_id(self.seller_ids, supplier)}
        if self.outcome is Outcome.ACCEPTED:
            return EventType.JOINT_ORDER_CONFIRMED, _without_none(head | {"expected_delivery": _iso(self.expected_delivery)})
        if self.outcome is Outcome.REJECTED:
            return EventType.JOINT_ORDER_REJECTED, head | {"reason": _reason([self.reason]) or DEFAULT_REJECTION}
        return EventType.JOINT_ORDER_ANSWERED, head | {"lines": self._line_answers(order)}

    def _line_answers(self, order: JointOrderPlaced) -> list[dict[str, Any]]:
        """One answer per order line whose deliveries are all answered, or which a document line
        answers whole (naming its `line_id`: what a large order's response needs to fit a record).
        A line with a delivery left unanswered is left out (`missing_line`), one answered twice
        appears twice (`repeated_line`), and a document line that is neither a delivery nor a
        line of the order stands for an unknown line (`unknown_line`): the contract's reasons."""
        by_id: dict[str, list[AnsweredLine]] = {}
        for answered in self.lines:
            by_id.setdefault(answered.document_line_id, []).append(answered)
        known = {line.line_id for line in order.lines} | {d.delivery_id for line in order.lines for d in line.deliveries}
        answers: list[dict[str, Any]] = []
        for line in order.lines:
            whole = by_id.get(line.line_id, [])
            answered = [by_id.get(d.delivery_id or "", []) for d in line.deliveries]
            if whole:
                answer = _line_answer(line.line_id, line.quantity, [(line.quantity, whole[0])], self.expected_delivery)
                answers.extend([answer] * (len(whole) + max(len(a) for a in answered)))
            elif all(answered):
                answer = _line_answer(line.line_id, line.quantity, [
                    (d.quantity, a[0]) for d, a in zip(line.deliveries, answered, strict=True)
                ], self.expected_delivery)
                answers.extend([answer] * max(len(a) for a in answered))
        for document_line_id, unknown in by_id.items():
            if document_line_id not in known:
                answers.extend(_unknown_line_answer(a, self.expected_delivery) for a in unknown)
        return answers


def _line_answer(
    line_id: str, line_quantity: int, picks: list[tuple[int, AnsweredLine]], default_date: date | None
) -> dict[str, Any]:
    """A line's answer from its deliveries' (ordered quantity, answer)."""
    confirmed = 0
    for ordered, answered in picks:
        quantity = ordered if answered.confirmed_quantity is None else answered.confirmed_quantity
        if quantity > ordered:
            raise InvalidDocument(
                f"document line {answered.document_line_id} confirms {quantity}, more than the {ordered} ordered"
            )
        confirmed += quantity
    if confirmed == line_quantity:
        status, quantity_field = LineStatus.ACCEPTED, None
    elif confirmed == 0:
        status, quantity_field = LineStatus.REJECTED, None
    else:
        status, quantity_field = LineStatus.PARTIAL, confirmed
    dates = [a.expected_delivery for _, a in picks if a.expected_delivery is not None]
    expected = max(dates) if dates else default_date
    return _without_none({
        "line_id": line_id,
        "status": status.value,
        "quantity": quantity_field,
        "expected_delivery": None if status is LineStatus.REJECTED else _iso(expected),
        "reason": _reason(a.reason for _, a in picks),
    })


def _unknown_line_answer(answered: AnsweredLine, default_date: date | None) -> dict[str, Any]:
    """A document line that is no delivery of the order, as the line answer it stands for."""
    confirmed = answered.confirmed_quantity
    if confirmed is None:
        status = LineStatus.ACCEPTED
    else:
        status = LineStatus.REJECTED if confirmed == 0 else LineStatus.PARTIAL
    return _without_none({
        "line_id": answered.document_line_id,
        "status": status.value,
        "quantity": confirmed if status is LineStatus.PARTIAL else None,
        "expected_delivery": _iso(answered.expected_delivery or default_date),
        "reason": _reason([answered.reason]),
    })


@dataclass(frozen=True, slots=True)
class ShippedLine:
    document_line_id: str
    """The order's document line it ships: a `delivery_id`."""
    quantity: int


@dataclass(frozen=True, slots=True)
class SupplierDespatch:
    """A despatch advice, read."""

    order_id: str
    seller_ids: frozenset[str]
    dispatch_id: str
    shipped_on: date | None
    expected_arrival: date | None
    """None: the document gives no arrival date; the goods are then expected the day they ship."""
    carrier: str | None
    tracking_id: str | None
    lines: tuple[ShippedLine, ...]

    def contract_data(self, supplier: Party) -> tuple[EventType, dict[str, Any]]:
        """The `joint_order.dispatched` a JSON supplier would have sent. Several document lines
        of one delivery (packages, lots) add up; lines that ship nothing are left out."""
        shipped: dict[str, int] = {}
        for line in self.lines:
            if line.quantity:
                shipped[line.document_line_id] = shipped.get(line.document_line_id, 0) + line.quantity
        data = {
            "order_id": self.order_id,
            "supplier_id": _supplier_id(self.seller_ids, supplier),
            "dispatch_id": self.dispatch_id,
            "shipped_on": _iso(self.shipped_on),
            "expected_arrival": _iso(self.expected_arrival or self.shipped_on),
            "carrier": self.carrier,
            "tracking_id": self.tracking_id,
            "deliveries": [{"delivery_id": d, "quantity": q} for d, q in shipped.items()],
        }
        return EventType.JOINT_ORDER_DISPATCHED, _without_none(data)


def _supplier_id(seller_ids: frozenset[str], supplier: Party) -> str:
    """The signer's id when the document names it as seller; otherwise the id the document gives,
    so the answer is quarantined as one naming another supplier (`key_not_supplier`)."""
    if supplier.party_id in seller_ids or (supplier.peppol_id is not None and supplier.peppol_id in seller_ids):
        return supplier.party_id
    return min(seller_ids, default="")


def _reason(texts: Iterable[str | None]) -> str | None:
    distinct = list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
    return "; ".join(distinct)[:MAX_REASON_CHARS] or None


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}
