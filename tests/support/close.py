"""A cycle close's records rendered in one go, for tests that check what a close publishes
without running one."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.orders import JointOrder
from services.procurement.service_layer.order_records import CloseRecords
from shared.messaging.records import OutboundMessage


def render_close(
    cycle_id: str,
    orders: Sequence[JointOrder],
    unfulfillable: Iterable[tuple[OpenRequest, str]],
    secrets: dict[str, str],
) -> list[OutboundMessage]:
    """Every order's and member's records of a close from its finished orders (what a close
    streams through `CloseRecords`, in one go)."""
    records = CloseRecords(cycle_id)
    for order in orders:
        for line in order.lines:
            records.ordered(order.supplier_id, order.order_id, line)
    for request, reason in unfulfillable:
        records.unfulfillable(request, reason)
    messages = [m for order in orders for m in records.order_messages(order, secrets[order.supplier_id])]
    return messages + records.member_messages()
