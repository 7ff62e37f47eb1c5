"""Supplier performance from the order lifecycle, per supplier and SKU category over a rolling
window, and what it does to decisions.

- On time: a delivery received in full (accepted + rejected = confirmed) by its promised date (the
  line's `expected_delivery`, else the delivery's `needed_by`). In full: accepted ÷ confirmed, in
  units. OTIF: the share of deliveries both on time and accepted in full. A delivery counts once
  it is received in full or its promised date has passed, if that date is inside the window.
- Line rejection rate: rejected lines ÷ answered lines; answer time: mean hours from placing to
  answering; both over lines answered inside the window.
- A supplier whose OTIF for a category is below the floor is a last resort for that category's
  SKUs, exactly like one under a high-severity alert (`risk.as_last_resort`): used for a request
  only when no other supplier serves it in time; every other optimizer rule is unchanged. It
  comes back as soon as its OTIF over the window is at the floor again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from services.procurement.domain.bundling import Offer
from services.procurement.domain.risk import as_last_resort
from shared.contract import LineStatus

DEFAULT_WINDOW_DAYS = 90
"""The rolling window performance is measured over, in days."""


@dataclass(frozen=True, slots=True)
class AnsweredLine:
    """One order line's answer, as performance counts it."""

    supplier_id: str
    category: str
    line_id: str
    placed_at: datetime
    answered_at: datetime
    status: LineStatus


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One served delivery's outcome: `received_in_full_on` is the day its receipts reached what
    was confirmed (None while they have not)."""

    supplier_id: str
    category: str
    delivery_id: str
    promised: date
    confirmed: int
    accepted: int
    received_in_full_on: date | None

    @property
    def on_time(self) -> bool:
        return self.received_in_full_on is not None and self.received_in_full_on <= self.promised

    @property
    def in_full(self) -> bool:
        return self.accepted >= self.confirmed


@dataclass(frozen=True, slots=True)
class Performance:
    """One supplier's record for one category over the window; rates are None without data."""

    supplier_id: str
    category: str
    deliveries: int = 0
    on_time_deliveries: int = 0
    otif_deliveries: int = 0
    confirmed_units: int = 0
    accepted_units: int = 0
    answered_lines: int = 0
    rejected_lines: int = 0
    answer_hours: float = 0.0

    @property
    def on_time(self) -> float | None:
        return self.on_time_deliveries / self.deliveries if self.deliveries else None

    @property
    def in_full(self) -> float | None:
        return self.accepted_units / self.confirmed_units if self.confirmed_units else None

    @property
    def otif(self) -> float | None:
        return self.otif_deliveries / self.deliveries if self.deliveries else None

    @property
    def line_rejection_rate(self) -> float | None:
        return self.rejected_lines / self.answered_lines if self.answered_lines else None

    @property
    def mean_answer_hours(self) -> float | None:
        return self.answer_hours / self.answered_lines if self.answered_lines else None


def supplier_performance(
    lines: Iterable[AnsweredLine],
    deliveries: Iterable[DeliveryRecord],
    today: date,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> dict[tuple[str, str], Performance]:
    """(supplier_id, category) -> its performance over the `window_days` up to `today`."""
    start = today - timedelta(days=window_days)
    tallies: dict[tuple[str, str], dict[str, float]] = {}

    def add(supplier_id: str, category: str, **counts: float) -> None:
        tally = tallies.setdefault((supplier_id, category), dict.fromkeys(_COUNTS, 0))
        for name, value in counts.items():
            tally[name] += value

    for line in lines:
        if start < line.answered_at.date() <= today:
            hours = (line.answered_at - line.placed_at).total_seconds() / 3600
            add(line.supplier_id, line.category, answered_lines=1,
                rejected_lines=int(line.status is LineStatus.REJECTED), answer_hours=hours)
    for delivery in deliveries:
        measured = delivery.received_in_full_on is not None or delivery.promised < today
        if measured and delivery.promised > start:
            add(delivery.supplier_id, delivery.category, deliveries=1,
                on_time_deliveries=int(delivery.on_time),
                otif_deliveries=int(delivery.on_time and delivery.in_full),
                confirmed_units=delivery.confirmed, accepted_units=delivery.accepted)
    return {key: Performance(*key, **tally) for key, tally in sorted(tallies.items())}  # type: ignore[arg-type]


_COUNTS = ("deliveries", "on_time_deliveries", "otif_deliveries", "confirmed_units", "accepted_units",
           "answered_lines", "rejected_lines", "answer_hours")


@dataclass(frozen=True, slots=True)
class LastResort:
    """A supplier used only as a last resort for a category, and why (for the decision log)."""

    supplier_id: str
    category: str
    otif: float
    floor: float

    @property
    def reason(self) -> str:
        return (f"supplier {self.supplier_id} is a last resort for category {self.category}: on-time-in-full "
                f"{self.otif:.2f} is below the floor {self.floor:.2f}")


def below_floor(performances: Iterable[Performance], floor: float) -> list[LastResort]:
    """The suppliers whose OTIF for a category is below `floor` (no deliveries measured: not below)."""
    return [
        LastResort(p.supplier_id, p.category, p.otif, floor)
        for p in sorted(performances, key=lambda p: (p.supplier_id, p.category))
        if p.otif is not None and p.otif < floor
    ]


def last_resort_suppliers(below: Iterable[LastResort], category: str) -> frozenset[str]:
    """The suppliers a last resort for `category` (for `resourcing.resourcing_offers`)."""
    return frozenset(b.supplier_id for b in below if b.category == category)


def offers_with_performance(
    offers: Mapping[str, Sequence[Offer]], categories: Mapping[str, str], below: Sequence[LastResort]
) -> dict[str, list[Offer]]:
    """Every SKU's offers (already rated by risk, `risk.offers_with_risk`) with the suppliers below
    the floor for the SKU's category made a last resort."""
    rated = {}
    for sku, sku_offers in offers.items():
        last = last_resort_suppliers(below, categories[sku])
        rated[sku] = [as_last_resort(o) if o.supplier_id in last else o for o in sku_offers]
    return rated
