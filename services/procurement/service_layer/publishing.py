"""What placing an order publishes: the contract's record for the supplier, and our own event.

`joint_order.placed` carries an `alliance-signature` header made with the supplier's current
secret (an extension of the contract, which defines signatures only on what we receive), so
a supplier can check an order really comes from the alliance. Its timestamp is the moment
the order was placed; the record's CloudEvent `time` is the same moment.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime

from services.procurement.domain.orders import JointOrder, OrderRecord
from shared import topics
from shared.contract import EventType
from shared.events.procurement import JOINT_ORDER_EVENT_TYPES, SOURCE, JointOrderStatus
from shared.messaging.envelope import event_message, new_event
from shared.messaging.records import OutboundMessage
from shared.signing import SIGNATURE_HEADER, sign


def placed_messages(topic_prefix: str, order: JointOrder, supplier_secret: str) -> list[OutboundMessage]:
    """The signed record for the supplier and our own `alliance.joint_order.placed`."""
    now = time.time()
    event = new_event(
        EventType.JOINT_ORDER_PLACED,
        SOURCE,
        order.placed_event(),
        event_id=f"{order.order_id}.placed",
        time=datetime.fromtimestamp(now, UTC),
    )
    message = event_message(
        topic_prefix + topics.supplier_orders(order.supplier_id), order.supplier_id, event
    )
    signature = sign(supplier_secret, message.value, now)
    signed = replace(message, headers=((SIGNATURE_HEADER, signature.encode()),))
    return [signed, status_message(
        topic_prefix,
        JointOrderStatus(
            order_id=order.order_id,
            supplier_id=order.supplier_id,
            cycle_id=order.cycle_id,
            status="placed",
            total=order.total,
            quantity=order.quantity,
            skus=tuple(line.sku for line in order.lines),
            replaces_order_id=order.replaces_order_id,
        ),
    )]


def status_of(record: OrderRecord, status: str, skus: tuple[str, ...], reason: str | None = None) -> JointOrderStatus:
    return JointOrderStatus(
        order_id=record.order_id,
        supplier_id=record.supplier_id,
        cycle_id=record.cycle_id,
        status=status,  # type: ignore[arg-type]
        total=record.total,
        quantity=record.quantity,
        skus=skus,
        replaces_order_id=record.replaces_order_id,
        expected_delivery=record.expected_delivery,
        reason=reason,
    )


def status_message(topic_prefix: str, status: JointOrderStatus) -> OutboundMessage:
    event = new_event(
        JOINT_ORDER_EVENT_TYPES[status.status],
        SOURCE,
        status,
        event_id=f"{status.order_id}.{status.status}.internal",
    )
    return event_message(topic_prefix + topics.PROCUREMENT_EVENTS, status.supplier_id, event)
