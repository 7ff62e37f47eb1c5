"""What the participants observed, counted where they observed it: the ERPs count what they
sent, the suppliers the orders they received, the members' receivers the notices they got.
The demo's numbers come only from these outside views, never from the platform's databases.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.contract import to_cents

RequestKey = tuple[str, str]
"""(member_id, request_id): request ids are unique per member only."""

CLOSING_NOTICES = {
    "purchase_request.ordered", "purchase_request.unfulfillable", "purchase_request.cancelled",
    "purchase_request.served_from_buffer",
}
RATE_WINDOW_S = 5.0
STATEMENT_FIELDS = {"sku", "period", "cost_share", "standalone_cost", "savings", "on_hand", "drawn"}


@dataclass(frozen=True)
class Line:
    """A placed request as its member knows it."""

    quantity: int
    unit_price: Decimal
    standalone_unit_price: Decimal | None
    """The best price the member would have had alone; None if it could not have bought alone."""

    @property
    def savings(self) -> Decimal:
        if self.standalone_unit_price is None:
            return Decimal(0)
        return (self.standalone_unit_price - self.unit_price) * self.quantity


@dataclass
class Scoreboard:
    started: float = field(default_factory=time.monotonic)
    moments: list[tuple[float, str]] = field(default_factory=list)
    """(seconds since start, what happened): the story the live view tells."""

    requests_sent: int = 0
    cancellations_sent: int = 0
    alerts_raised: int = 0
    submitted: set[RequestKey] = field(default_factory=set)
    skus: dict[RequestKey, str] = field(default_factory=dict)
    _recent_sends: deque[float] = field(default_factory=deque)

    notices: Counter[str] = field(default_factory=Counter)
    accepted: set[RequestKey] = field(default_factory=set)
    closed: set[RequestKey] = field(default_factory=set)
    ordered: dict[RequestKey, Line] = field(default_factory=dict)
    resourced: dict[RequestKey, tuple[datetime, Decimal]] = field(default_factory=dict)
    """The latest re-sourcing of a request (by event time: webhooks may arrive out of order)."""
    unfulfillable: set[RequestKey] = field(default_factory=set)
    rejection_reasons: Counter[str] = field(default_factory=Counter)
    unfulfillable_reasons: Counter[str] = field(default_factory=Counter)
    ordered_with_standalone: int = 0
    ordered_rational: int = 0
    """`purchase_request.ordered` notices with unit_price <= standalone_unit_price."""
    bad_signatures: int = 0
    duplicate_deliveries: int = 0
    foreign_notices: int = 0
    """Notices naming a request the receiving member never sent: must stay 0."""

    served_from_buffer: dict[RequestKey, int] = field(default_factory=dict)
    """Units each request was served from a risk buffer."""
    buffer_savings: dict[str, Decimal] = field(default_factory=dict)
    """Each subscriber's savings, summed over the `risk_buffer.statement`s it received."""
    statements: int = 0
    foreign_statements: int = 0
    """Statements carrying more than the contract's fields of one member's own account: must stay 0."""
    buffers: list[dict[str, Any]] = field(default_factory=list)
    """The risk buffers as the operator last saw them (GET /admin/buffers)."""
    buffer_units_booked: int = 0

    orders_received: set[str] = field(default_factory=set)
    orders_confirmed: int = 0
    orders_rejected: int = 0
    orders_cancelled: int = 0
    unsigned_orders: int = 0
    cycles_closed: int = 0
    orders_answered_per_line: int = 0
    dispatches_sent: int = 0
    shipments_pending: int = 0
    """Orders a supplier confirmed and has not finished shipping yet."""
    to_receive: deque[tuple[str, str, int]] = field(default_factory=deque)
    """(member_id, request_id, quantity) dispatched to a member and not yet received by its ERP."""
    receipts_sent: int = 0
    receipts_short: int = 0
    receipts_damaged: int = 0
    discrepancies: Counter[str] = field(default_factory=Counter)
    """joint_order.discrepancy reports the suppliers received, by reason."""
    supplier_otif: dict[str, float | None] = field(default_factory=dict)
    """Each supplier's on-time-in-full at the end (GET /admin/suppliers/{id}/performance)."""
    order_documents: Counter[str] = field(default_factory=Counter)
    """Orders XML suppliers received as documents valid against their standard's schema, by standard."""
    answer_documents: Counter[str] = field(default_factory=Counter)
    despatch_documents: Counter[str] = field(default_factory=Counter)
    orders_in_wrong_format: int = 0
    """Orders an XML supplier got as JSON, or as a document not valid in its standard: must stay 0."""

    def note(self, text: str) -> None:
        self.moments.append((time.monotonic() - self.started, text))

    def request_sent(self, member_id: str, request_id: str, sku: str | None = None) -> None:
        now = time.monotonic()
        self.requests_sent += 1
        self.submitted.add((member_id, request_id))
        if sku is not None:
            self.skus[(member_id, request_id)] = sku
        self._recent_sends.append(now)
        while self._recent_sends and self._recent_sends[0] < now - RATE_WINDOW_S:
            self._recent_sends.popleft()

    def requests_per_second(self) -> float:
        now = time.monotonic()
        window = min(RATE_WINDOW_S, max(now - self.started, 1e-9))
        return sum(1 for t in self._recent_sends if t >= now - window) / window

    @property
    def open_demand(self) -> int:
        return len(self.accepted - self.closed)

    @property
    def orders_unanswered(self) -> int:
        return len(self.orders_received) - self.orders_confirmed - self.orders_rejected

    def notice(self, member_id: str, event: dict[str, Any]) -> None:
        """One webhook notice (a CloudEvent), already authenticated and deduplicated."""
        notice_type, data = event["type"], event["data"]
        self.notices[notice_type] += 1
        if notice_type == "risk_alert.notice":
            return
        if notice_type == "risk_buffer.statement":
            self.statements += 1
            self.foreign_statements += set(data) != STATEMENT_FIELDS
            self.buffer_savings[member_id] = self.buffer_savings.get(member_id, Decimal(0)) + Decimal(data["savings"])
            return
        key = (member_id, data["request_id"])
        if key not in self.submitted:
            self.foreign_notices += 1
            return
        if notice_type == "purchase_request.accepted":
            self.accepted.add(key)
        elif notice_type == "purchase_request.rejected":
            self.rejection_reasons[data["reason"]] += 1
        elif notice_type == "purchase_request.unfulfillable":
            self.unfulfillable_reasons[data["reason"]] += 1
            if data.get("quantity") is None:  # a lost part leaves the rest of the request placed
                self.unfulfillable.add(key)
        elif notice_type == "purchase_request.dispatched":
            self.to_receive.append((member_id, data["request_id"], data["quantity"]))
        elif notice_type == "purchase_request.ordered":
            self._ordered(key, data)
        elif notice_type == "purchase_request.served_from_buffer":
            self.served_from_buffer[key] = self.served_from_buffer.get(key, 0) + data["quantity"]
        elif notice_type == "purchase_request.resourced" and data.get("quantity") is None:
            at = datetime.fromisoformat(event["time"])
            if key not in self.resourced or self.resourced[key][0] < at:
                self.resourced[key] = (at, Decimal(data["unit_price"]))
        if notice_type in CLOSING_NOTICES:
            self.closed.add(key)

    def _ordered(self, key: RequestKey, data: dict[str, Any]) -> None:
        standalone = data.get("standalone_unit_price")
        line = Line(
            data["quantity"], Decimal(data["unit_price"]), None if standalone is None else Decimal(standalone)
        )
        self.ordered[key] = line
        if line.standalone_unit_price is not None:
            self.ordered_with_standalone += 1
            self.ordered_rational += line.unit_price <= line.standalone_unit_price

    def lines(self) -> list[Line]:
        """The placed requests as they stand: at their re-sourced price, without the unfulfillable."""
        return [
            Line(line.quantity, self.resourced[key][1], line.standalone_unit_price)
            if key in self.resourced
            else line
            for key, line in self.ordered.items()
            if key not in self.unfulfillable and key not in self.served_from_buffer
        ]

    def buffer_summary(self) -> dict[str, Any]:
        """Pooled against summed standalone stock per buffer (the operator's view), what the
        members were served and told (their webhooks), each subscriber's savings (its statements)."""
        served_by_member: Counter[str] = Counter()
        for (member_id, _), units in self.served_from_buffer.items():
            served_by_member[member_id] += units
        subscribers = {m for b in self.buffers for m in b["subscribers"]}
        return {
            "buffers": [
                {
                    "sku": b["sku"],
                    "subscribers": b["subscribers"],
                    "target": (b["sizing"] or {}).get("target", 0),
                    "pooled_safety_stock": (b["sizing"] or {}).get("safety_stock", "0"),
                    "standalone_stock_summed": (b["sizing"] or {}).get("standalone_stock_summed", "0"),
                    "on_hand": b["on_hand"],
                    "on_order": b["on_order"],
                    "subscriber_requests_served": sum(
                        1 for key in self.served_from_buffer if self.skus.get(key) == b["sku"]
                    ),
                    "non_subscriber_requests_unfulfillable": sum(
                        1 for key in self.unfulfillable
                        if self.skus.get(key) == b["sku"] and key[0] not in b["subscribers"]
                    ),
                }
                for b in self.buffers
            ],
            "units_booked": self.buffer_units_booked,
            "requests_served": len(self.served_from_buffer),
            "units_served": sum(self.served_from_buffer.values()),
            "served_non_subscribers": sorted(set(served_by_member) - subscribers),
            "statements": self.statements,
            "statements_with_foreign_fields": self.foreign_statements,
            "subscriber_savings_eur": {m: str(to_cents(v)) for m, v in sorted(self.buffer_savings.items())},
        }

    def summary(self) -> dict[str, Any]:
        """The machine-readable result; the live view and the summary table show parts of it."""
        lines = self.lines()
        alone = [
            (line, line.standalone_unit_price) for line in lines if line.standalone_unit_price is not None
        ]
        standalone_spend = sum((standalone * line.quantity for line, standalone in alone), Decimal(0))
        savings = sum((line.savings for line in lines), Decimal(0))
        return {
            "elapsed_seconds": round(time.monotonic() - self.started, 1),
            "requests_sent": self.requests_sent,
            "cancellations_sent": self.cancellations_sent,
            "requests_accepted": len(self.accepted),
            "requests_rejected": dict(self.rejection_reasons),
            "requests_placed": len(lines),
            "requests_resourced": self.notices["purchase_request.resourced"],
            "requests_unfulfillable": dict(self.unfulfillable_reasons),
            "requests_cancelled": self.notices["purchase_request.cancelled"],
            "open_demand": self.open_demand,
            "cycles_closed": self.cycles_closed,
            "orders_received_by_suppliers": len(self.orders_received),
            "orders_confirmed": self.orders_confirmed,
            "orders_rejected": self.orders_rejected,
            "orders_cancelled": self.orders_cancelled,
            "spend_eur": str(to_cents(sum((line.unit_price * line.quantity for line in lines), Decimal(0)))),
            "savings_eur": str(to_cents(savings)),
            "savings_percent": (
                round(float(savings / standalone_spend * 100), 2) if standalone_spend else None
            ),
            "lines_with_standalone_price": len(alone),
            "lines_only_possible_jointly": len(lines) - len(alone),
            "individually_rational_share": (
                self.ordered_rational / self.ordered_with_standalone if self.ordered_with_standalone else None
            ),
            "ordered_notices_with_standalone_price": self.ordered_with_standalone,
            "lines_above_standalone_after_resourcing": sum(
                line.unit_price > standalone for line, standalone in alone
            ),
            "risk_buffers": self.buffer_summary(),
            "alerts_raised": self.alerts_raised,
            "alerts_routed": self.notices["risk_alert.notice"],
            "notices": dict(self.notices),
            "webhook_bad_signatures": self.bad_signatures,
            "webhook_duplicate_deliveries": self.duplicate_deliveries,
            "foreign_notices": self.foreign_notices,
            "unsigned_supplier_orders": self.unsigned_orders,
            "orders_answered_per_line": self.orders_answered_per_line,
            "dispatches_sent": self.dispatches_sent,
            "requests_dispatched": self.notices["purchase_request.dispatched"],
            "receipts_sent": self.receipts_sent,
            "receipts_short": self.receipts_short,
            "receipts_damaged": self.receipts_damaged,
            "requests_completed": self.notices["purchase_request.completed"],
            "discrepancies": dict(self.discrepancies),
            "supplier_otif": dict(self.supplier_otif),
            "order_documents_received": dict(self.order_documents),
            "answer_documents_sent": dict(self.answer_documents),
            "despatch_documents_sent": dict(self.despatch_documents),
            "supplier_orders_in_wrong_format": self.orders_in_wrong_format,
        }
