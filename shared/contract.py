"""The external contract (../shared/contract.md, v1) as pydantic models.

Inbound models are strict about the fields they know (no coercion of "5" into 5) and ignore
the ones they don't, so an ERP on a newer minor version keeps working. Amounts are decimal
strings on the wire and `Decimal` inside; they are rounded to cents only when written out.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

CENT = Decimal("0.01")
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,4})?$")


def to_cents(amount: Decimal) -> Decimal:
    """Round an amount for the wire; the only place rounding happens."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _parse_amount(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if not isinstance(value, str) or not _AMOUNT.match(value):
        raise ValueError('an amount is a decimal string in EUR such as "9.50"')
    return Decimal(value)


_AMOUNT_SCHEMA = WithJsonSchema({"type": "string", "pattern": _AMOUNT.pattern, "examples": ["9.50"]})

Amount = Annotated[
    Decimal,
    BeforeValidator(_parse_amount),
    _AMOUNT_SCHEMA,
    PlainSerializer(lambda d: str(to_cents(d)), return_type=str),
]
"""An amount in EUR: a decimal string on the wire, rounded to cents when written."""


def _unit_price_text(price: Decimal) -> str:
    """At least cents ("9.00"), more digits only when the catalog has them ("0.125")."""
    exponent = price.as_tuple().exponent
    return str(price.quantize(CENT) if isinstance(exponent, int) and exponent >= -2 else price)


UnitPrice = Annotated[
    Decimal,
    BeforeValidator(_parse_amount),
    _AMOUNT_SCHEMA,
    PlainSerializer(_unit_price_text, return_type=str),
]
"""A unit price as the supplier's catalog states it (not rounded: 0.125 stays 0.125)."""

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]
ALLIANCE_MEMBER_ID = "alliance"
"""Reserved: the `member_id` of the alliance's own deliveries (risk buffer stock); no member may take it."""
Quantity = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]


def _json_integer(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    return value


JSON_INTEGER = BeforeValidator(_json_integer)
"""An integer as JSON Schema has it: 3 and 3.0, not true or "3" (pydantic's lax int takes both,
its strict int neither), for admin bodies and the seed. Last in `Annotated[int, Field(...), JSON_INTEGER]`,
so the document still shows the bounds."""
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]
AlertSummary = Annotated[str, StringConstraints(min_length=1, max_length=500)]
FreeText = Annotated[str, StringConstraints(min_length=1, max_length=500)]
"""A person's words (reasons, notes): v1.1 bounds every free text at 500 characters."""
OMITTED_WHEN_NONE = Field(exclude_if=lambda value: value is None)
"""On a v1.1 field of a v1 document: left out when it has no value, so what a v1 integrator
receives stays exactly as v1 wrote it."""
LineQuantity = Annotated[int, Field(strict=True, ge=1, le=10**12)]
"""A quantity on an order line: several requests of up to 1,000,000 each."""


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a timestamp needs a time zone, e.g. 2026-11-21T10:00:00Z")
    return value


Timestamp = Annotated[datetime, AfterValidator(_aware)]


class ContractModel(BaseModel):
    """Known fields strict, unknown fields ignored (compatible extension)."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True, str_max_length=10_000)


# --- envelope --------------------------------------------------------------------------------


MAX_EVENT_BYTES = 1024 * 1024
"""A record or webhook body is at most 1 MiB (docs/contract.md, extension 4): larger ones are
refused before parsing, and an XML supplier's document, the record's `data`, is bounded by it."""


class CloudEvent(ContractModel):
    """CloudEvents 1.0, structured JSON mode: every record value and every webhook body."""

    specversion: Literal["1.0"]
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    source: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    type: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    time: Annotated[Timestamp, Field(strict=False)]
    datacontenttype: Literal["application/json", "application/xml"] = "application/json"
    dataschema: Annotated[
        Annotated[str, StringConstraints(min_length=1, max_length=256)] | None, OMITTED_WHEN_NONE
    ] = None
    """v1.1: the document an XML supplier's `data` is (its standard's URN or namespace#root)."""
    data: dict[str, Any] | Annotated[str, StringConstraints(max_length=MAX_EVENT_BYTES)]
    """JSON data; for `application/xml` (suppliers in their own standards, v1.1) the XML document,
    as long as the record allows (the 10,000 characters of any other string would refuse an
    answer of more than about thirty lines)."""

    @model_validator(mode="after")
    def _data_is_its_content_type(self) -> CloudEvent:
        if self.datacontenttype == "application/xml":
            if not isinstance(self.data, str) or self.dataschema is None:
                raise ValueError("application/xml data is the XML document as a string, named by dataschema")
        elif not isinstance(self.data, dict):
            raise ValueError("application/json data is a JSON object")
        return self


# --- member ERP -> alliance (erp.purchase-requests) -----------------------------------------


class ShipTo(ContractModel):
    site: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: CountryCode


class PurchaseRequestSubmitted(ContractModel):
    request_id: Identifier
    member_id: Identifier
    sku: Sku
    quantity: Quantity
    needed_by: Annotated[date, Field(strict=False)]
    max_unit_price: Annotated[Amount | None, Field(strict=False)] = None
    ship_to: ShipTo | None = None


class PurchaseRequestCancelled(ContractModel):
    request_id: Identifier
    member_id: Identifier


class GoodsRejection(StrEnum):
    """Why a member refused goods it received (v1.1)."""

    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    QUALITY = "quality"
    OTHER = "other"


MISSING_GOODS = "missing"
"""The `reason` of a discrepancy about goods dispatched but not received within the grace."""


class PurchaseRequestReceived(ContractModel):
    """v1.1 goods receipt from the member's ERP: what arrived for one request, adding up over
    its receipts."""

    request_id: Identifier
    member_id: Identifier
    receipt_id: Identifier
    received_on: Annotated[date, Field(strict=False)]
    quantity_accepted: Annotated[int, Field(strict=True, ge=0, le=1_000_000)]
    quantity_rejected: Annotated[int, Field(strict=True, ge=0, le=1_000_000)] = 0
    reason: Annotated[GoodsRejection | None, Field(strict=False)] = None
    note: FreeText | None = None

    @model_validator(mode="after")
    def _receives_something(self) -> PurchaseRequestReceived:
        if self.quantity_accepted == 0 and self.quantity_rejected == 0:
            raise ValueError("a receipt accepts or rejects at least one unit")
        return self


# --- alliance -> supplier (supplier.orders.<supplier_id>) ------------------------------------


class Delivery(ContractModel):
    member_id: Identifier
    ship_to: ShipTo | None
    quantity: Quantity
    needed_by: Annotated[date, Field(strict=False)]
    delivery_id: Annotated[Identifier | None, OMITTED_WHEN_NONE] = None
    """v1.1: unique within the order and stable when it is re-published; suppliers answer,
    dispatch and are told discrepancies by it. The alliance always sets it."""


class OrderLine(ContractModel):
    line_id: Identifier
    sku: str
    quantity: LineQuantity
    unit_price: Annotated[UnitPrice, Field(strict=False)]
    deliveries: list[Delivery]


class JointOrderPlaced(ContractModel):
    order_id: Identifier
    supplier_id: Identifier
    cycle_id: Identifier
    currency: Literal["EUR"] = "EUR"
    total: Annotated[Amount, Field(strict=False)]
    lines: list[OrderLine]

    @model_validator(mode="after")
    def _total_is_sum_of_lines(self) -> JointOrderPlaced:
        lines_total = sum((line.unit_price * line.quantity for line in self.lines), Decimal(0))
        if to_cents(lines_total) != to_cents(self.total):
            raise ValueError("an order's total must equal the sum of its lines")
        return self


class JointOrderCancelled(ContractModel):
    order_id: Identifier
    supplier_id: Identifier
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class JointOrderDiscrepancy(ContractModel):
    """v1.1: goods of one delivery the member rejected, or still misses after the grace.

    Each report states what is newly found: the rejected goods of one receipt (`reason` is the
    member's), or the dispatched goods newly overdue (`reason` is `missing`)."""

    order_id: Identifier
    supplier_id: Identifier
    delivery_id: Identifier
    quantity_rejected: Annotated[int, Field(strict=True, ge=0, le=10**12)]
    quantity_missing: Annotated[int, Field(strict=True, ge=0, le=10**12)]
    reason: FreeText
    note: FreeText | None = None


# --- supplier -> alliance (supplier.responses) -----------------------------------------------


class JointOrderConfirmed(ContractModel):
    order_id: Identifier
    supplier_id: Identifier
    expected_delivery: Annotated[date | None, Field(strict=False)] = None


class JointOrderRejected(ContractModel):
    order_id: Identifier
    supplier_id: Identifier
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class LineStatus(StrEnum):
    ACCEPTED = "accepted"
    PARTIAL = "partial"
    REJECTED = "rejected"


class LineAnswer(ContractModel):
    """A supplier's answer to one order line (v1.1). `quantity` is what it will deliver of a
    `partial` line (1 to the line's quantity - 1, checked against the order); the other statuses
    carry none, since an accepted line delivers all of it and a rejected one nothing."""

    line_id: Identifier
    status: Annotated[LineStatus, Field(strict=False)]
    quantity: LineQuantity | None = None
    expected_delivery: Annotated[date | None, Field(strict=False)] = None
    reason: FreeText | None = None

    @model_validator(mode="after")
    def _quantity_only_when_partial(self) -> LineAnswer:
        if self.status is LineStatus.PARTIAL and self.quantity is None:
            raise ValueError("a partial line states the quantity it will deliver")
        if self.status is not LineStatus.PARTIAL and self.quantity is not None:
            raise ValueError(f"an {self.status.value} line carries no quantity; use status partial")
        return self


class JointOrderAnswered(ContractModel):
    """v1.1: the supplier's answer per line. Every line of the order appears exactly once (checked
    against the order, with its own reason, since the model cannot see the order)."""

    order_id: Identifier
    supplier_id: Identifier
    lines: Annotated[list[LineAnswer], Field(min_length=1, max_length=10_000)]


class DispatchedDelivery(ContractModel):
    delivery_id: Identifier
    quantity: LineQuantity


class JointOrderDispatched(ContractModel):
    """v1.1 despatch advice: one shipment of some of an order's deliveries; quantities add up
    over the order's dispatches."""

    order_id: Identifier
    supplier_id: Identifier
    dispatch_id: Identifier
    shipped_on: Annotated[date, Field(strict=False)]
    expected_arrival: Annotated[date, Field(strict=False)]
    carrier: FreeText | None = None
    tracking_id: FreeText | None = None
    deliveries: Annotated[list[DispatchedDelivery], Field(min_length=1, max_length=10_000)]

    @model_validator(mode="after")
    def _arrives_after_shipping(self) -> JointOrderDispatched:
        if self.expected_arrival < self.shipped_on:
            raise ValueError("expected_arrival is before shipped_on")
        if len({d.delivery_id for d in self.deliveries}) != len(self.deliveries):
            raise ValueError("a delivery appears more than once in one dispatch")
        return self


# --- member or supplier -> alliance (risk.alerts) --------------------------------------------


class RiskKind(StrEnum):
    DELAY = "delay"
    SHORTAGE = "shortage"
    INSOLVENCY = "insolvency"
    QUALITY = "quality"
    PRICE = "price"
    LOGISTICS = "logistics"
    GEOPOLITICAL = "geopolitical"
    OTHER = "other"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


ALERT_SCOPES = ("supplier_id", "sku", "region")
"""What an alert can concern; it names at least one."""


class RiskAlertRaised(ContractModel):
    alert_id: Identifier
    supplier_id: Identifier | None = None
    sku: Sku | None = None
    region: CountryCode | None = None
    kind: Annotated[RiskKind, Field(strict=False)]
    severity: Annotated[Severity, Field(strict=False)]
    summary: AlertSummary
    valid_until: Annotated[Timestamp | None, Field(strict=False)] = None

    @model_validator(mode="after")
    def _has_scope(self) -> RiskAlertRaised:
        if not any(getattr(self, scope) for scope in ALERT_SCOPES):
            raise ValueError(f"an alert names at least one of {', '.join(ALERT_SCOPES)}")
        return self


class RiskAlertResolved(ContractModel):
    alert_id: Identifier


# --- alliance -> member (webhook / e-mail notices) -------------------------------------------


class PurchaseRequestAccepted(ContractModel):
    request_id: str


class RejectionReason(StrEnum):
    UNKNOWN_SKU = "unknown_sku"
    INVALID_PAYLOAD = "invalid_payload"
    MEMBER_SUSPENDED = "member_suspended"
    DUPLICATE_REQUEST = "duplicate_request"
    ALREADY_ORDERED = "already_ordered"
    UNKNOWN_REQUEST = "unknown_request"
    """Also a receipt for a request_id this member never had admitted (another member's request
    is unknown to it)."""
    NOT_DISPATCHED = "not_dispatched"
    """v1.1: a receipt for a request of which nothing was dispatched yet."""
    RECEIPT_EXCEEDS_DISPATCH = "receipt_exceeds_dispatch"
    """v1.1: the request's receipts would add up to more than was dispatched for it."""
    RECEIPT_ID_REUSED = "receipt_id_reused"
    """Extension: a receipt_id this member used before, with different content."""


class PurchaseRequestRejected(ContractModel):
    request_id: str
    reason: str
    detail: str


class PurchaseRequestOrdered(ContractModel):
    request_id: str
    order_id: str
    supplier_id: str
    quantity: int
    unit_price: Annotated[UnitPrice, Field(strict=False)]
    standalone_unit_price: Annotated[UnitPrice | None, Field(strict=False)]
    savings: Annotated[Amount, Field(strict=False)]


class PurchaseRequestConfirmed(ContractModel):
    request_id: str
    order_id: str
    expected_delivery: Annotated[date | None, Field(strict=False)]
    quantity: Annotated[int | None, OMITTED_WHEN_NONE] = None
    """v1.1: the quantity this order serves, where it is part of the request."""


class PurchaseRequestResourced(ContractModel):
    request_id: str
    from_supplier_id: str
    to_supplier_id: str
    order_id: str
    unit_price: Annotated[UnitPrice, Field(strict=False)]
    reason: str
    standalone_unit_price: Annotated[UnitPrice | None, Field(strict=False)] = None
    """Extension: the best unit price the request would get alone from the suppliers still
    eligible for it (None when none could take it alone)."""
    savings: Annotated[Amount | None, Field(strict=False)] = None
    """Extension: what the new order saves against that, replacing the saving first reported."""
    quantity: Annotated[int | None, OMITTED_WHEN_NONE] = None
    """v1.1: the quantity moved, where it is part of the request."""


class PurchaseRequestUnfulfillable(ContractModel):
    request_id: str
    reason: str
    quantity: Annotated[int | None, OMITTED_WHEN_NONE] = None
    """v1.1: the quantity lost, where it is part of the request."""


class PurchaseRequestDispatched(ContractModel):
    """v1.1: the supplier shipped goods for this request (this member's quantity only)."""

    request_id: str
    order_id: str
    quantity: int
    shipped_on: Annotated[date, Field(strict=False)]
    expected_arrival: Annotated[date, Field(strict=False)]
    carrier: Annotated[str | None, OMITTED_WHEN_NONE] = None
    tracking_id: Annotated[str | None, OMITTED_WHEN_NONE] = None


class PurchaseRequestCompleted(ContractModel):
    """v1.1: every unit ordered for the request was received and accepted."""

    request_id: str
    quantity: int


class PurchaseRequestServedFromBuffer(ContractModel):
    """Risk buffers: a subscriber's request (or part) that its suppliers could not serve in time,
    served from the alliance's buffer of the SKU; what it is not served follows v1."""

    request_id: str
    quantity: int
    unit_price: Annotated[UnitPrice, Field(strict=False)]
    """The buffer's average acquisition cost per unit."""
    warehouse: str
    """The site the goods come from."""


class RiskBufferStatement(ContractModel):
    """Risk buffers: one subscriber's account of one closed statement period, its own figures only."""

    sku: str
    period: str
    """`<first cycle_id>/<last cycle_id>` of the period (cycle ids as in `joint_order.placed`)."""
    cost_share: Annotated[Amount, Field(strict=False)]
    standalone_cost: Annotated[Amount, Field(strict=False)]
    """What a buffer of its own at the same service level would have cost over the same cycles."""
    savings: Annotated[Amount, Field(strict=False)]
    on_hand: int
    """The buffer's stock at the period's close."""
    drawn: int
    """Units this member was served from the buffer in the period."""


class PurchaseRequestWithdrawn(ContractModel):
    """Data of the `purchase_request.cancelled` notice (the member's cancellation took effect)."""

    request_id: str


class RiskAlertNotice(ContractModel):
    alert_id: str
    kind: str
    severity: str
    supplier_id: str | None = None
    sku: str | None = None
    region: str | None = None
    summary: str
    affected_request_ids: list[str]
    status: Literal["raised", "resolved"] = "raised"
    """Extension (docs/contract.md): a second notice with status "resolved" ends the alert."""


class EventType(StrEnum):
    """Every `type` of the external contract."""

    PURCHASE_REQUEST_SUBMITTED = "purchase_request.submitted"
    PURCHASE_REQUEST_CANCELLED = "purchase_request.cancelled"
    JOINT_ORDER_PLACED = "joint_order.placed"
    JOINT_ORDER_CANCELLED = "joint_order.cancelled"
    JOINT_ORDER_CONFIRMED = "joint_order.confirmed"
    JOINT_ORDER_REJECTED = "joint_order.rejected"
    RISK_ALERT_RAISED = "risk_alert.raised"
    RISK_ALERT_RESOLVED = "risk_alert.resolved"
    PURCHASE_REQUEST_ACCEPTED = "purchase_request.accepted"
    PURCHASE_REQUEST_REJECTED = "purchase_request.rejected"
    PURCHASE_REQUEST_ORDERED = "purchase_request.ordered"
    PURCHASE_REQUEST_CONFIRMED = "purchase_request.confirmed"
    PURCHASE_REQUEST_RESOURCED = "purchase_request.resourced"
    PURCHASE_REQUEST_UNFULFILLABLE = "purchase_request.unfulfillable"
    RISK_ALERT_NOTICE = "risk_alert.notice"
    JOINT_ORDER_ANSWERED = "joint_order.answered"
    JOINT_ORDER_DISPATCHED = "joint_order.dispatched"
    JOINT_ORDER_DISCREPANCY = "joint_order.discrepancy"
    PURCHASE_REQUEST_RECEIVED = "purchase_request.received"
    PURCHASE_REQUEST_DISPATCHED = "purchase_request.dispatched"
    PURCHASE_REQUEST_COMPLETED = "purchase_request.completed"
    PURCHASE_REQUEST_SERVED_FROM_BUFFER = "purchase_request.served_from_buffer"
    RISK_BUFFER_STATEMENT = "risk_buffer.statement"


INBOUND_DATA: dict[str, type[ContractModel]] = {
    EventType.PURCHASE_REQUEST_SUBMITTED: PurchaseRequestSubmitted,
    EventType.PURCHASE_REQUEST_CANCELLED: PurchaseRequestCancelled,
    EventType.JOINT_ORDER_CONFIRMED: JointOrderConfirmed,
    EventType.JOINT_ORDER_REJECTED: JointOrderRejected,
    EventType.JOINT_ORDER_ANSWERED: JointOrderAnswered,
    EventType.JOINT_ORDER_DISPATCHED: JointOrderDispatched,
    EventType.PURCHASE_REQUEST_RECEIVED: PurchaseRequestReceived,
    EventType.RISK_ALERT_RAISED: RiskAlertRaised,
    EventType.RISK_ALERT_RESOLVED: RiskAlertResolved,
}
"""Data models of what integrators send us, by event type."""

SUPPLIER_ORDER_DATA: dict[str, type[ContractModel]] = {
    EventType.JOINT_ORDER_PLACED: JointOrderPlaced,
    EventType.JOINT_ORDER_CANCELLED: JointOrderCancelled,
    EventType.JOINT_ORDER_DISCREPANCY: JointOrderDiscrepancy,
}

NOTICE_DATA: dict[str, type[ContractModel]] = {
    EventType.PURCHASE_REQUEST_ACCEPTED: PurchaseRequestAccepted,
    EventType.PURCHASE_REQUEST_REJECTED: PurchaseRequestRejected,
    EventType.PURCHASE_REQUEST_ORDERED: PurchaseRequestOrdered,
    EventType.PURCHASE_REQUEST_CONFIRMED: PurchaseRequestConfirmed,
    EventType.PURCHASE_REQUEST_RESOURCED: PurchaseRequestResourced,
    EventType.PURCHASE_REQUEST_UNFULFILLABLE: PurchaseRequestUnfulfillable,
    EventType.PURCHASE_REQUEST_CANCELLED: PurchaseRequestWithdrawn,
    EventType.RISK_ALERT_NOTICE: RiskAlertNotice,
    EventType.PURCHASE_REQUEST_DISPATCHED: PurchaseRequestDispatched,
    EventType.PURCHASE_REQUEST_COMPLETED: PurchaseRequestCompleted,
    EventType.PURCHASE_REQUEST_SERVED_FROM_BUFFER: PurchaseRequestServedFromBuffer,
    EventType.RISK_BUFFER_STATEMENT: RiskBufferStatement,
}
"""Data models of the webhook notices members receive, by event type."""
