"""Open demand: admitted requests waiting for a cycle close, and when one can still wait."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from services.procurement.domain.bundling import Demand, Offer, RiskLevel
from shared.contract import ShipTo


class RequestStatus(StrEnum):
    OPEN = "open"
    ORDERED = "ordered"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"
    UNFULFILLABLE = "unfulfillable"


@dataclass(frozen=True, slots=True)
class OpenRequest:
    member_id: str
    request_id: str
    sku: str
    quantity: int
    needed_by: date
    country: str
    max_unit_price: Decimal | None = None
    ship_to: ShipTo | None = None
    key: str = field(init=False, repr=False, compare=False)
    """Unique across members (request ids are unique per member only); '/' is not in ids. Kept,
    not derived on each use: a close looks 100k requests up by it several times."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.member_id}/{self.request_id}")

    def demand(self) -> Demand:
        return Demand(
            request_id=self.key,
            member_id=self.member_id,
            quantity=self.quantity,
            needed_by=self.needed_by,
            country=self.country,
            max_unit_price=self.max_unit_price,
        )


def earliest_delivery(request: OpenRequest, offers: Sequence[Offer], order_date: date) -> date | None:
    """The soonest any supplier serving the request's country could deliver if ordered on
    `order_date`; None when no supplier of the SKU serves that country, a critical risk alert
    excluding those that do (a request only they could serve cannot wait for them)."""
    lead_times = [
        o.lead_time_days for o in offers
        if request.country in o.regions and o.risk_in(request.country) is not RiskLevel.EXCLUDED
    ]
    if not lead_times:
        return None
    return order_date + timedelta(days=min(lead_times))


def can_wait_for(request: OpenRequest, offers: Sequence[Offer], next_order_date: date) -> bool:
    """Whether a request left unplaced now could still arrive in time if the next close ordered it."""
    arrival = earliest_delivery(request, offers, next_order_date)
    return arrival is not None and arrival <= request.needed_by
