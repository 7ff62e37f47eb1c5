"""The notifications service's metrics (names are part of the operator's surface).

Labels carry channels and outcomes only: never a member, an endpoint or a secret.
"""

from prometheus_client import Counter, Gauge, Histogram

NOTICES = Counter(
    "alliance_notices",
    "Delivery attempts by channel (webhook, email) and outcome: delivered, failed (will be retried), "
    "dead (the last attempt failed)",
    ["channel", "outcome"],
)
DELIVERY_SECONDS = Histogram(
    "alliance_notice_delivery_seconds",
    "From a notice being stored to its delivery, by channel",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600),
)
DEAD = Gauge(
    "alliance_notices_dead", "Deliveries given up after their last attempt, not yet retried"
)
PENDING = Gauge("alliance_notices_pending", "Deliveries waiting for their next attempt")
CIRCUIT_OPEN = Gauge(
    "alliance_circuit_open", "Endpoints whose circuit breaker is open on this instance"
)
