"""Topic names, once. External names are the contract's; a deployment may add a prefix."""

from __future__ import annotations

from collections.abc import Iterable

# external (../shared/contract.md)
PURCHASE_REQUESTS = "erp.purchase-requests"
SUPPLIER_ORDERS_PREFIX = "supplier.orders."
SUPPLIER_RESPONSES = "supplier.responses"
RISK_ALERTS = "risk.alerts"

# internal, owned by the producing service
MEMBER_EVENTS = "alliance.members.events"
"""members -> all: registry changes (member registered/updated/suspended...), keyed by member."""
ADMITTED_REQUESTS = "alliance.members.admitted-requests"
"""members -> procurement: admitted and withdrawn purchase requests, keyed by SKU."""
RISK_REPORTS = "alliance.members.risk-reports"
"""members -> procurement: members' authenticated risk alerts, keyed by the reporting member."""
MEMBER_NOTICES = "alliance.notices"
"""members, procurement -> notifications: what to tell one member, keyed by member."""
PROCUREMENT_EVENTS = "alliance.procurement.events"
"""procurement -> all: catalog changes, cycles, orders, risk exposure."""
DEAD_LETTERS = "alliance.dead-letters"
QUARANTINE = "alliance.quarantine"


def supplier_orders(supplier_id: str) -> str:
    return f"{SUPPLIER_ORDERS_PREFIX}{supplier_id}"


def all_topics(prefix: str, supplier_ids: Iterable[str] = ()) -> list[str]:
    """Every topic the platform uses, for creating them at start."""
    names = [
        PURCHASE_REQUESTS,
        SUPPLIER_RESPONSES,
        RISK_ALERTS,
        MEMBER_EVENTS,
        ADMITTED_REQUESTS,
        RISK_REPORTS,
        MEMBER_NOTICES,
        PROCUREMENT_EVENTS,
        DEAD_LETTERS,
        QUARANTINE,
    ]
    names += [supplier_orders(s) for s in supplier_ids]
    return [prefix + name for name in names]
