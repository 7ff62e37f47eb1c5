"""Transport metrics every service exports, named by Prometheus conventions.

Business metrics live with the service that owns them (`services/<name>/adapters/metrics.py`).
Labels never carry secrets or member data: only topics, partitions, outcomes and reasons.
"""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "alliance_events_consumed", "Records consumed, by topic and outcome", ["topic", "outcome"]
)
EVENTS_PUBLISHED = Counter(
    "alliance_events_published", "Outbox records sent, by topic and outcome", ["topic", "outcome"]
)
HANDLER_DURATION = Histogram(
    "alliance_handler_duration_seconds",
    "Time to process one consumed batch, transaction included",
    ["topic"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "alliance_consumer_lag", "Records behind the partition's end", ["topic", "partition"]
)
OUTBOX_BACKLOG = Gauge("alliance_outbox_backlog", "Outbox rows not yet confirmed by the broker")
OUTBOX_OLDEST_AGE = Gauge(
    "alliance_outbox_oldest_age_seconds", "Age of the oldest unconfirmed outbox row"
)
INBOX_FORGOTTEN = Counter(
    "alliance_inbox_forgotten", "Inbox rows deleted after the inbox retention"
)
DEAD_LETTERS = Counter("alliance_dead_letters", "Records sent to the dead-letter topic", ["reason"])
QUARANTINED = Counter(
    "alliance_quarantined", "Records quarantined (failed authentication)", ["reason"]
)
HTTP_REFUSED = Counter(
    "alliance_http_refused", "HTTP calls refused before reaching a handler, by reason", ["reason"]
)
