"""Joint orders: what the optimizer's decisions become for suppliers and members.

One order per supplier and decision round (a cycle close, or the re-sourcing of a rejected
order), one line per SKU, one delivery per placed request. Amounts stay exact `Decimal`s;
the order's total is the sum of its lines by construction, and cents appear only on the wire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from services.procurement.domain.bundling import Decision, Offer, UnplacedReason, savings
from services.procurement.domain.demand import OpenRequest, can_wait_for
from shared.contract import ShipTo


class OrderStatus(StrEnum):
    PLACED = "placed"
    CONFIRMED = "confirmed"
    """Answered with every line accepted (`joint_order.confirmed`, or a line answer saying so)."""
    ANSWERED = "answered"
    """Answered per line, some partial or rejected and something still delivered."""
    REJECTED = "rejected"
    """Answered with every line rejected."""
    CANCELLED = "cancelled"
    """By the alliance, before the supplier confirmed it (a critical risk alert covers it)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One placed request on an order line."""

    member_id: str
    request_id: str
    quantity: int
    needed_by: date
    ship_to: ShipTo | None
    unit_price: Decimal
    standalone_unit_price: Decimal | None

    @property
    def savings(self) -> Decimal:
        return savings(self.quantity, self.unit_price, self.standalone_unit_price)

    @property
    def request_key(self) -> str:
        """As `OpenRequest.key`: request ids are unique per member only."""
        return f"{self.member_id}/{self.request_id}"


def delivery_id(line_id: str, delivery: Delivery) -> str:
    """The delivery's id in `joint_order.placed`: derived from its line and request, so it is the
    same however often the order is rendered, and it shows the supplier no request id."""
    digest = hashlib.blake2b(delivery.request_key.encode(), digest_size=6).hexdigest()
    return f"{line_id}-{digest}"


@dataclass(frozen=True, slots=True)
class OrderLine:
    line_id: str
    sku: str
    unit_price: Decimal
    deliveries: tuple[Delivery, ...]
    quantity: int = field(init=False, compare=False)
    """The sum of the deliveries' quantities (kept: a line of a large close has thousands)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantity", sum(d.quantity for d in self.deliveries))

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class JointOrder:
    order_id: str
    supplier_id: str
    cycle_id: str
    lines: tuple[OrderLine, ...]
    replaces_order_id: str | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def quantity(self) -> int:
        return sum(line.quantity for line in self.lines)

    def deliveries(self) -> Iterable[tuple[OrderLine, Delivery]]:
        for line in self.lines:
            for delivery in line.deliveries:
                yield line, delivery


def placed_suppliers(decisions: Iterable[Decision]) -> list[str]:
    """The suppliers that get an order from these decisions, sorted (one order id each)."""
    return sorted({order.supplier_id for d in decisions for order in d.supplier_orders})


def assemble_orders(
    cycle_id: str,
    decisions: Mapping[str, Decision],
    requests: Mapping[str, Sequence[OpenRequest]],
    order_ids: Mapping[str, str],
    replaces_order_id: str | None = None,
) -> list[JointOrder]:
    """Turn per-SKU decisions into one order per supplier, lines sorted by SKU."""
    book = OrderBook(cycle_id, order_ids, replaces_order_id)
    for sku in sorted(decisions):
        book.add(sku, decisions[sku], requests[sku])
    return book.orders()


class OrderBook:
    """A decision round's orders built SKU by SKU as the decisions come, SKUs in ascending order:
    one order per supplier, one line per SKU numbered in SKU order (`<order_id>-<n>`), one
    delivery per placed request in the order of the SKU's requests. `order_ids` is read when a
    supplier gets its first line, so ids may be added to it as suppliers win."""

    def __init__(self, cycle_id: str, order_ids: Mapping[str, str], replaces_order_id: str | None = None) -> None:
        self.cycle_id = cycle_id
        self.replaces_order_id = replaces_order_id
        self._order_ids = order_ids
        self._lines: dict[str, list[OrderLine]] = {}
        self._last_sku: str | None = None

    def add(
        self, sku: str, decision: Decision, requests: Sequence[OpenRequest]
    ) -> list[tuple[str, str, OrderLine]]:
        """The SKU's decision over `requests` (the ones it was made for, in that order); returns
        the new lines as (supplier id, order id, line)."""
        if self._last_sku is not None and sku <= self._last_sku:
            raise ValueError(f"SKU {sku!r} comes after {self._last_sku!r}: add SKUs in ascending order")
        self._last_sku = sku
        placements = decision.placements
        per_supplier: dict[str, list[Delivery]] = {}
        prices: dict[str, Decimal] = {}
        for request in requests:
            placement = placements.get(request.key)
            if placement is None:
                continue
            supplier_id = placement.supplier_id
            deliveries = per_supplier.get(supplier_id)
            if deliveries is None:
                deliveries = per_supplier[supplier_id] = []
            deliveries.append(Delivery(
                request.member_id, request.request_id, request.quantity, request.needed_by, request.ship_to,
                placement.unit_price, placement.standalone_unit_price,
            ))
            prices[supplier_id] = placement.unit_price
        if sum(len(d) for d in per_supplier.values()) != len(placements):
            raise ValueError(f"SKU {sku!r}: the decision places requests it was not given")
        added = []
        for supplier_id, deliveries in per_supplier.items():
            order_id = self._order_ids[supplier_id]
            lines = self._lines.setdefault(supplier_id, [])
            line = OrderLine(f"{order_id}-{len(lines) + 1}", sku, prices[supplier_id], tuple(deliveries))
            lines.append(line)
            added.append((supplier_id, order_id, line))
        return added

    def orders(self) -> list[JointOrder]:
        """The orders so far, sorted by supplier id."""
        return [
            JointOrder(self._order_ids[s], s, self.cycle_id, tuple(self._lines[s]), self.replaces_order_id)
            for s in sorted(self._lines)
        ]


@dataclass(frozen=True, slots=True)
class Leftovers:
    """The requests a close did not place: those that can wait for the next close, and those
    that cannot, with the reason the optimizer gave for not placing them now."""

    waiting: tuple[OpenRequest, ...]
    unfulfillable: tuple[tuple[OpenRequest, UnplacedReason], ...]


def sort_leftovers(
    decision: Decision,
    requests: Sequence[OpenRequest],
    offers: Sequence[Offer],
    next_order_date: date,
) -> Leftovers:
    waiting: list[OpenRequest] = []
    unfulfillable: list[tuple[OpenRequest, UnplacedReason]] = []
    for request in requests:
        reason = decision.unplaced.get(request.key)
        if reason is None:
            continue
        if can_wait_for(request, offers, next_order_date):
            waiting.append(request)
        else:
            unfulfillable.append((request, reason))
    return Leftovers(tuple(waiting), tuple(unfulfillable))


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """A joint order as stored, without its lines: what answers and escalation act on."""

    order_id: str
    supplier_id: str
    cycle_id: str
    status: OrderStatus
    total: Decimal
    quantity: int
    placed_at: datetime
    replaces_order_id: str | None = None
    answered_at: datetime | None = None
    expected_delivery: date | None = None
    rejection_reason: str | None = None
    escalated_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancellation_reason: str | None = None
    risk_flagged_at: datetime | None = None
    risk_flag: str | None = None
    """Why ops should look at this confirmed order: a critical risk alert covers it."""


@dataclass(frozen=True, slots=True)
class LineSummary:
    """An order line as stored, without its deliveries: what an order's detail shows."""

    line_id: str
    sku: str
    quantity: int
    unit_price: Decimal


class AnswerOutcome(StrEnum):
    APPLY = "apply"
    REPEATED = "repeated"
    """The same answer again (a supplier's retry): nothing changes."""
    CONFLICT = "conflict"
    """A different answer to an order already answered: kept for ops, not applied."""


def judge_answer(current: OrderStatus, answer: OrderStatus) -> AnswerOutcome:
    """A supplier answers a placed order once; the first answer stands."""
    if current is OrderStatus.PLACED:
        return AnswerOutcome.APPLY
    return AnswerOutcome.REPEATED if current is answer else AnswerOutcome.CONFLICT
