"""The metrics the services register, read from prometheus_client's registry: what dashboards
(tests/deploy/test_compose.py) and alert rules (tests/deploy/test_prometheus_rules.py) may use."""

from __future__ import annotations

from prometheus_client import REGISTRY

import services.members.adapters.metrics
import services.notifications.adapters.metrics
import services.procurement.adapters.metrics  # noqa: F401
import shared.metrics  # noqa: F401  (importing these four registers every alliance_* metric)


def _exported_metrics() -> tuple[frozenset[str], frozenset[str]]:
    """The alliance_* metrics the services' code registers, named as Prometheus shows them
    (counters with `_total`), and which of them are histograms (queried through their
    _bucket, _sum and _count series)."""
    names, histograms = set(), set()
    for family in REGISTRY.collect():
        if not family.name.startswith("alliance_"):
            continue
        names.add(f"{family.name}_total" if family.type == "counter" else family.name)
        if family.type == "histogram":
            histograms.add(family.name)
    return frozenset(names), frozenset(histograms)


EXPORTED_METRICS, HISTOGRAMS = _exported_metrics()
KNOWN_METRICS = EXPORTED_METRICS | {"up"}
