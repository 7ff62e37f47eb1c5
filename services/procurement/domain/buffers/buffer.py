"""A risk buffer as procurement keeps it: its configuration, its subscribers and its stock."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from services.procurement.domain.buffers.stock import BufferStock
from shared.contract import ShipTo


@dataclass(frozen=True, slots=True)
class RiskBuffer:
    sku: str
    warehouse: ShipTo
    service_level: float
    holding_cost_per_unit_and_cycle: Decimal
    history_cycles: int = 12
    statement_every_cycles: int = 10
    subscribers: tuple[str, ...] = ()
    """In member id order."""
    stock: BufferStock = field(default_factory=BufferStock)
