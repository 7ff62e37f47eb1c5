"""Events owned by the procurement service, on `alliance.procurement.events`.

- `alliance.catalog_item.listed` (key: sku) when a SKU is new to the alliance or its category
  or unit changed; the members service learns the SKUs it may admit from it.
- `alliance.cycle.closed` (key: cycle_id) once per close, with its counts.
- `alliance.joint_order.<status>` (key: supplier_id) for each step of an order's life:
  placed, confirmed, answered (per line, some of it partial or rejected), rejected, escalated
  (unanswered past `order_answer_timeout_s`), cancelled (by the alliance, when a critical risk
  alert covers an unconfirmed order).
- `alliance.delivery.escalated` (key: supplier_id) when confirmed goods are not dispatched by
  their expected delivery, or dispatched goods not received by their expected arrival plus
  `ALLIANCE_RECEIPT_GRACE_DAYS`.
- `alliance.risk_alert.exposure_assessed` (key: the alert's key) when an alert is raised and
  when it ends: who is exposed, for notifications to warn.
They carry no member data: what a member is told goes to that member alone, as a notice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from shared.events import InternalModel

CATALOG_ITEM_LISTED = "alliance.catalog_item.listed"
CYCLE_CLOSED = "alliance.cycle.closed"
JOINT_ORDER_PLACED = "alliance.joint_order.placed"
JOINT_ORDER_CONFIRMED = "alliance.joint_order.confirmed"
JOINT_ORDER_REJECTED = "alliance.joint_order.rejected"
JOINT_ORDER_ESCALATED = "alliance.joint_order.escalated"
JOINT_ORDER_CANCELLED = "alliance.joint_order.cancelled"
JOINT_ORDER_ANSWERED = "alliance.joint_order.answered"
JOINT_ORDER_EVENT_TYPES = {
    "placed": JOINT_ORDER_PLACED,
    "confirmed": JOINT_ORDER_CONFIRMED,
    "answered": JOINT_ORDER_ANSWERED,
    "rejected": JOINT_ORDER_REJECTED,
    "escalated": JOINT_ORDER_ESCALATED,
    "cancelled": JOINT_ORDER_CANCELLED,
}

SOURCE = "alliance/procurement"


class CatalogItemListed(InternalModel):
    sku: str
    category: str
    name: str
    unit: str


class CycleClosed(InternalModel):
    cycle_id: str
    trigger: Literal["schedule", "admin"]
    order_date: date
    requests_considered: int
    requests_placed: int
    quantity_placed: int
    orders: int
    unfulfillable: int
    waiting: int


class JointOrderStatus(InternalModel):
    """One step of a joint order's life; `reason` says why it was rejected, escalated or
    cancelled."""

    order_id: str
    supplier_id: str
    cycle_id: str
    status: Literal["placed", "confirmed", "answered", "rejected", "escalated", "cancelled"]
    total: Decimal
    quantity: int
    skus: tuple[str, ...]
    replaces_order_id: str | None = None
    expected_delivery: date | None = None
    reason: str | None = None


DELIVERY_ESCALATED = "alliance.delivery.escalated"


class DeliveryEscalated(InternalModel):
    """Goods overdue, for ops: `subject` is the delivery_id (not dispatched) or the dispatch_id
    (not received); `due_on` the day it became overdue."""

    kind: Literal["not_dispatched", "not_received"]
    order_id: str
    supplier_id: str
    subject: str
    quantity: int
    due_on: date


RISK_EXPOSURE_ASSESSED = "alliance.risk_alert.exposure_assessed"


class MemberExposure(InternalModel):
    member_id: str
    affected_request_ids: tuple[str, ...]
    """This member's own requests inside the alert's scope (open, or on an order not yet
    confirmed or delivered)."""


class RiskExposureAssessed(InternalModel):
    """Who is exposed to an alert: once when it is raised, once more when it ends.

    Keyed by alert_id on `alliance.procurement.events`; `alert_id` is procurement's key of the
    alert (a hash of who raised it and its id), the same in both events and naming nobody.
    Notifications routes one `risk_alert.notice` per member and status: to every exposed member,
    with its own request ids, and to members whose interests include one of `categories` at or
    above their minimum severity. The reporter is never named here, so no notice can name it.
    """

    alert_id: str
    status: Literal["raised", "resolved"]
    kind: str
    severity: str
    supplier_id: str | None = None
    sku: str | None = None
    region: str | None = None
    summary: str
    categories: tuple[str, ...]
    """The catalog categories inside the scope (the SKU's, or all a supplier offers)."""
    exposed: tuple[MemberExposure, ...]
