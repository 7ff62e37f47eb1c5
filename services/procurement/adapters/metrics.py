"""The procurement service's business metrics; the ops dashboards use exactly these names.

Gauges are recomputed from the database (see `service_layer.watch`), so every instance of a
scaled-out service reports the same value; counters move only after their transaction commits.
"""

from prometheus_client import Counter, Gauge, Histogram

OPEN_DEMAND_QUANTITY = Gauge(
    "alliance_open_demand_quantity", "Quantity of open purchase requests, by category", ["category"]
)
OPEN_DEMAND_REQUESTS = Gauge(
    "alliance_open_demand_requests", "Open purchase requests, by category", ["category"]
)
CYCLES_CLOSED = Counter("alliance_cycles_closed", "Order cycles closed")
CYCLE_DURATION = Histogram(
    "alliance_cycle_duration_seconds",
    "Time to close a cycle: load, solve, write (publishing is the outbox relay's)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
OPTIMIZER_DURATION = Histogram(
    "alliance_optimizer_duration_seconds",
    "Time the optimizer took for one SKU's decision",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
OPTIMIZER_GAP = Gauge(
    "alliance_optimizer_gap",
    "Largest relative cost gap to the proven bound among the last close's SKU decisions",
)
ORDERS = Counter(
    "alliance_orders",
    "Joint orders, by status reached (answered: per line, some of it partial or rejected; escalated: "
    "unanswered too long; risk_flagged: confirmed, but inside a critical risk alert's scope)",
    ["status"],
)
for _status in ("placed", "confirmed", "answered", "rejected", "cancelled", "escalated", "risk_flagged"):
    ORDERS.labels(_status)  # every status shows from the start, at 0
SUPPLIER_DOCUMENTS = Counter(
    "alliance_supplier_documents",
    "Documents in suppliers' own standards (docs/suppliers.md): orders rendered, answers and despatch "
    "advices read, and documents refused as invalid_document, by standard",
    ["standard", "outcome"],
)
for _standard in ("peppol-bis3", "opentrans-2.1"):
    for _outcome in ("rendered", "read", "refused"):
        SUPPLIER_DOCUMENTS.labels(_standard, _outcome)
ORDERS_AWAITING_ANSWER = Gauge(
    "alliance_orders_awaiting_answer", "Placed joint orders the supplier has not answered yet"
)
ORDERS_UNANSWERED = Gauge(
    "alliance_orders_unanswered", "Placed joint orders unanswered past order_answer_timeout_s"
)
BUNDLED_QUANTITY = Counter("alliance_bundled_quantity", "Quantity placed on joint orders")
SAVINGS_EUR = Counter(
    "alliance_savings_eur", "Members' savings against ordering alone, in EUR"
)
SUPPLIER_SHARE_RELAXED = Counter(
    "alliance_supplier_share_relaxed",
    "SKU decisions where no assignment met max_supplier_share and the cap was dropped",
)
UNFULFILLABLE_REQUESTS = Counter(
    "alliance_unfulfillable_requests", "Requests members were told are unfulfillable", ["reason"]
)
RESOURCED_QUANTITY = Counter(
    "alliance_resourced_quantity",
    "Quantity moved to another order after a rejection or a cancellation for a critical risk alert",
)
RISK_ALERTS = Counter(
    "alliance_risk_alerts", "Risk alerts raised, by kind, severity and source", ["kind", "severity", "source"]
)
ACTIVE_ALERTS = Gauge(
    "alliance_active_alerts",
    "Risk alerts in force that procurement acts on (trusted, or corroborated), by severity",
    ["severity"],
)
EXCLUDED_SUPPLIERS = Gauge(
    "alliance_excluded_suppliers", "Suppliers a critical risk alert in force excludes (in its scope)"
)
BUFFER_TARGET = Gauge(
    "alliance_risk_buffer_target_units", "A risk buffer's target at the last close (pooled safety stock)", ["sku"]
)
BUFFER_ON_HAND = Gauge("alliance_risk_buffer_on_hand_units", "Units booked into a risk buffer's warehouse", ["sku"])
BUFFER_ON_ORDER = Gauge(
    "alliance_risk_buffer_on_order_units", "Units placed for a risk buffer, not yet booked as received", ["sku"]
)
BUFFER_CLOSES_BELOW_HALF = Gauge(
    "alliance_risk_buffer_closes_below_half_target",
    "Consecutive closes after which a risk buffer had less than half its target on hand",
    ["sku"],
)
BUFFER_DRAWN = Counter("alliance_risk_buffer_drawn_units", "Units served to subscribers from a risk buffer", ["sku"])
BUFFER_UNMET = Counter(
    "alliance_risk_buffer_unmet_units",
    "Units subscribers needed from a risk buffer that it could not serve (too little stock)",
    ["sku"],
)
BUFFER_COST_SHARED = Counter(
    "alliance_risk_buffer_cost_shared_eur", "Holding cost of risk buffers shared among subscribers, in EUR", ["sku"]
)
SHORTFALL_QUANTITY = Counter(
    "alliance_shortfall_quantity",
    "Quantity suppliers' answers left unserved (partial, rejected or late lines), re-sourced at once",
)
DISPATCHED_QUANTITY = Counter("alliance_dispatched_quantity", "Quantity suppliers reported dispatched")
RECEIVED_QUANTITY = Counter(
    "alliance_received_quantity", "Quantity members' goods receipts reported, by outcome", ["outcome"]
)
for _outcome in ("accepted", "rejected"):
    RECEIVED_QUANTITY.labels(_outcome)
DISCREPANCIES = Counter(
    "alliance_discrepancies", "joint_order.discrepancy reports sent to suppliers, by kind", ["kind"]
)
for _kind in ("rejected", "missing"):
    DISCREPANCIES.labels(_kind)
REQUESTS_COMPLETED = Counter(
    "alliance_requests_completed", "Requests told purchase_request.completed (everything confirmed accepted)"
)
DELIVERIES_OVERDUE = Gauge(
    "alliance_deliveries_overdue",
    "Open delivery escalations: not_dispatched (confirmed goods not dispatched by their expected "
    "delivery), not_received (dispatched goods not received by expected arrival plus the grace)",
    ["kind"],
)
for _kind in ("not_dispatched", "not_received"):
    DELIVERIES_OVERDUE.labels(_kind)
SUPPLIER_OTIF = Gauge(
    "alliance_supplier_otif",
    "Suppliers' on-time-in-full over the rolling window, by supplier and category (absent without data)",
    ["supplier_id", "category"],
)
SUPPLIER_BELOW_FLOOR = Gauge(
    "alliance_supplier_below_otif_floor",
    "1 while a supplier's on-time-in-full for a category is below ALLIANCE_SUPPLIER_OTIF_FLOOR (last resort)",
    ["supplier_id", "category"],
)
