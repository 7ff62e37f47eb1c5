"""The optimizer's public value types: what it is given (offers, demands) and what it answers (a Decision)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum


class RiskLevel(StrEnum):
    """Supplier risk rating: ``high`` suppliers are a last resort, ``excluded`` ones are never used."""

    OK = "ok"
    HIGH = "high"
    EXCLUDED = "excluded"


class UnplacedReason(StrEnum):
    """Why a request was left out of the bundle (see the package docstring for the exact meaning)."""

    NO_ELIGIBLE_SUPPLIER = "no_eligible_supplier"
    PRICE_ABOVE_MAX_UNIT_PRICE = "price_above_max_unit_price"
    CAPACITY = "capacity"


class SolveMethod(StrEnum):
    """How the decision was reached (see "Solving" in the package docstring)."""

    COMBINATORIAL = "combinatorial"
    MILP = "milp"
    HEURISTIC = "heuristic"


@dataclass(frozen=True, slots=True)
class Tier:
    """All-units price break: once a supplier's total reaches ``min_quantity`` every unit costs
    ``unit_price``."""

    min_quantity: int
    unit_price: Decimal

    def __post_init__(self) -> None:
        if self.min_quantity < 0:
            raise ValueError("tier min_quantity must be >= 0")
        if not self.unit_price.is_finite() or self.unit_price < 0:
            raise ValueError("tier unit_price must be a finite, non-negative Decimal")


@dataclass(frozen=True, slots=True)
class Offer:
    """One supplier's catalog item for the SKU, with what limits where, when and how much it delivers."""

    supplier_id: str
    regions: frozenset[str]
    lead_time_days: int
    capacity_per_cycle: int
    min_order_quantity: int
    tiers: tuple[Tier, ...]
    risk: RiskLevel = RiskLevel.OK
    regional_risk: tuple[tuple[str, RiskLevel], ...] = ()
    """(country, risk) pairs that replace ``risk`` for requests shipping to that country (a risk
    alert may cover one region of a supplier only)."""

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError(f"offer {self.supplier_id}: at least one tier is required")
        if self.lead_time_days < 0 or self.capacity_per_cycle < 0 or self.min_order_quantity < 0:
            raise ValueError(f"offer {self.supplier_id}: lead time, capacity and MOQ must be >= 0")
        for lower, upper in zip(self.tiers, self.tiers[1:]):
            if upper.min_quantity <= lower.min_quantity:
                raise ValueError(f"offer {self.supplier_id}: tiers must be sorted by min_quantity")
            if upper.unit_price > lower.unit_price:
                raise ValueError(f"offer {self.supplier_id}: tier prices must not rise with quantity")

    def risk_in(self, country: str) -> RiskLevel:
        """The offer's risk for a request shipping to ``country``."""
        for region, level in self.regional_risk:
            if region == country:
                return level
        return self.risk


@dataclass(frozen=True, slots=True)
class Demand:
    """One open purchase request; ``country`` is the ship-to country, else the member's region."""

    request_id: str
    member_id: str
    quantity: int
    needed_by: date
    country: str
    max_unit_price: Decimal | None = None

    def __post_init__(self) -> None:
        if self.quantity < 1:
            raise ValueError(f"request {self.request_id}: quantity must be >= 1")


@dataclass(frozen=True, slots=True)
class Placement:
    """A placed request: the supplier, the tier price its total reached and the standalone benchmark."""

    request_id: str
    supplier_id: str
    quantity: int
    unit_price: Decimal
    standalone_unit_price: Decimal | None

    @property
    def savings(self) -> Decimal:
        """What pooling saved this request against ordering alone."""
        return savings(self.quantity, self.unit_price, self.standalone_unit_price)


@dataclass(frozen=True, slots=True)
class SupplierOrder:
    """The pooled order sent to one supplier; every unit is billed at ``unit_price``."""

    supplier_id: str
    quantity: int
    unit_price: Decimal

    @property
    def cost(self) -> Decimal:
        return self.quantity * self.unit_price


@dataclass(frozen=True, slots=True)
class SolveStats:
    """How the answer was found (``method``, ``wall_seconds``) and how good it is proven to be:
    ``gap`` is the relative cost gap to the best lower bound (0.0 = optimal), ``quantity_bound`` the
    proven maximum placeable quantity."""

    method: SolveMethod
    wall_seconds: float
    gap: float
    quantity_bound: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The bundle for one SKU and cycle. Mappings keep the input order of the requests."""

    placements: Mapping[str, Placement]
    unplaced: Mapping[str, UnplacedReason]
    supplier_orders: tuple[SupplierOrder, ...]
    placed_quantity: int
    total_cost: Decimal
    share_cap_relaxed: bool
    stats: SolveStats

    @property
    def assignment(self) -> dict[str, str | None]:
        """request_id -> supplier_id, or None when the request is unplaced."""
        chosen: dict[str, str | None] = {rid: p.supplier_id for rid, p in self.placements.items()}
        chosen.update(dict.fromkeys(self.unplaced))
        return chosen


def savings(quantity: int, unit_price: Decimal, standalone_unit_price: Decimal | None) -> Decimal:
    """Saving against ordering alone: ``quantity * (standalone - unit_price)``, 0 without a standalone
    price."""
    if standalone_unit_price is None:
        return Decimal(0)
    return quantity * (standalone_unit_price - unit_price)
