"""Events owned by the members service."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from shared.contract import RiskAlertRaised, Severity, ShipTo
from shared.events import InternalModel

MEMBER_REGISTERED = "alliance.member.registered"
MEMBER_UPDATED = "alliance.member.updated"
PURCHASE_REQUEST_ADMITTED = "alliance.purchase_request.admitted"
WITHDRAW_PURCHASE_REQUEST = "alliance.purchase_request.withdraw"
PURCHASE_REQUEST_RECEIVED = "alliance.purchase_request.received"
"""A member's authenticated goods receipt for procurement: the contract's `purchase_request.received`
data as the ERP sent it (`shared.contract.PurchaseRequestReceived`), keyed by the request's SKU."""

SOURCE = "alliance/members"


class Interests(InternalModel):
    categories: tuple[str, ...] = ()
    min_risk_severity: Severity = Severity.MEDIUM


class MemberProfile(InternalModel):
    """A member as the other services project it.

    It carries the webhook secret, sealed (shared/sealing.py), because notifications signs the
    member's webhooks with it. The ERP secret never leaves the members service.
    """

    member_id: str
    name: str
    status: Literal["active", "suspended"]
    region: str
    email: str | None = None
    locale: Literal["de", "en"] = "de"
    webhook_url: str | None = None
    sealed_webhook_secret: str | None = None
    """Fernet token of the webhook secret, opened with ALLIANCE_SEALING_KEYS."""
    interests: Interests = Interests()
    peppol_id: str | None = None
    """`<scheme>:<id>`: names the member as a delivery party in XML suppliers' orders."""
    vat_id: str | None = None


class PurchaseRequestAdmitted(InternalModel):
    """An authenticated, valid request from an active member, handed to procurement."""

    request_id: str
    member_id: str
    sku: str
    quantity: int
    needed_by: date
    max_unit_price: Decimal | None = None
    ship_to: ShipTo | None = None
    country: str
    """Where it ships: ship_to.country, else the member's region."""


class WithdrawPurchaseRequest(InternalModel):
    """The member asked to cancel; procurement decides whether it still can."""

    request_id: str
    member_id: str
    sku: str


RISK_ALERT_REPORTED = "alliance.risk_alert.reported"
RISK_ALERT_WITHDRAWN = "alliance.risk_alert.withdrawn"


class RiskAlertReported(InternalModel):
    """A member's authenticated `risk_alert.raised`, forwarded to procurement's alert registry.

    `reporter_member_id` lets procurement count distinct corroborating members; it never
    leaves procurement (notices name no reporter).
    """

    reporter_member_id: str
    alert: RiskAlertRaised


class RiskAlertWithdrawn(InternalModel):
    """A member's authenticated `risk_alert.resolved` for an alert it raised."""

    reporter_member_id: str
    alert_id: str
