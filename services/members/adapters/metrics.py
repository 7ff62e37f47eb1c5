"""The members service's business metrics."""

from prometheus_client import Counter

REQUESTS_ADMITTED = Counter("alliance_requests_admitted", "Purchase requests admitted (first time)")
REQUESTS_REJECTED = Counter("alliance_requests_rejected", "Purchase requests rejected, by reason", ["reason"])
REQUESTS_CANCELLED = Counter(
    "alliance_requests_cancelled", "Cancellations forwarded to procurement (its answer goes to the member)"
)
