"""Shared risk buffers: a pooled safety stock of one SKU for the members subscribed to it.

Pure domain code (standard library only), wired in by the service layer at each cycle close, at
re-sourcing and by the admin API; docs/risk-buffers.md explains the model with a worked example.

Modules: ``buffer`` a buffer as kept (configuration, subscribers, stock); ``sizing`` demand
statistics, the pooled target (z * sqrt(L * Σσ²)), standalone stocks and the cost shares in the core of the pooling game; ``stock`` stock on hand and on order and the
replenishment request; ``draws`` who is served from the buffer and how short stock is split;
``statements`` each subscriber's statement per closed period.
"""

from services.procurement.domain.buffers.buffer import RiskBuffer
from services.procurement.domain.buffers.draws import Draw, DrawClaim, DrawOutcome, draw, qualifies, split_short_stock
from services.procurement.domain.buffers.sizing import (
    MIN_CLOSED_CYCLES,
    BufferSizing,
    DemandStats,
    MemberSizing,
    demand_statistics,
    lead_time_cycles,
    own_history_needed,
    replenishment_lead_days,
    service_factor,
    size_buffer,
)
from services.procurement.domain.buffers.statements import closes_period, period_cycle_numbers, statements
from services.procurement.domain.buffers.stock import (
    MAX_REQUEST_QUANTITY,
    BufferStock,
    OpenLot,
    StockError,
    replenishment_request,
    replenishment_request_id,
)

__all__ = [
    "MAX_REQUEST_QUANTITY",
    "MIN_CLOSED_CYCLES",
    "BufferSizing",
    "BufferStock",
    "DemandStats",
    "Draw",
    "DrawClaim",
    "DrawOutcome",
    "MemberSizing",
    "OpenLot",
    "RiskBuffer",
    "StockError",
    "closes_period",
    "demand_statistics",
    "draw",
    "lead_time_cycles",
    "own_history_needed",
    "period_cycle_numbers",
    "qualifies",
    "replenishment_lead_days",
    "replenishment_request",
    "replenishment_request_id",
    "service_factor",
    "size_buffer",
    "split_short_stock",
    "statements",
]
