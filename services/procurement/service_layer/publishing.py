"""What procurement publishes: the contract's records for suppliers, our own order events, and
the exposure to a risk alert (`joint_order.placed` and the notices of placing orders are
rendered by `order_records.py`).

`joint_order.placed`, `joint_order.cancelled` and `joint_order.discrepancy` carry an
`alliance-signature` header made with the supplier's current secret (an extension of the
contract, which defines signatures only on what we receive), so a supplier can check a record
really comes from the alliance. Its timestamp is the moment the record was made; the record's CloudEvent `time` is the same moment.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from services.procurement.domain.orders import JointOrder, OrderRecord
from services.procurement.domain.risk import Alert
from shared import topics
from shared.contract import EventType, JointOrderCancelled, JointOrderDiscrepancy
from shared.events.procurement import (
    JOINT_ORDER_EVENT_TYPES,
    RISK_EXPOSURE_ASSESSED,
    SOURCE,
    JointOrderStatus,
    MemberExposure,
    RiskExposureAssessed,
)
from shared.messaging.envelope import event_bytes, event_record
from shared.messaging.records import OutboundMessage
from shared.signing import SIGNATURE_HEADER, sign


def placed_status_message(order: JointOrder) -> OutboundMessage:
    """Our own `alliance.joint_order.placed`, for the other services' projections."""
    return status_message(
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
    )


def cancelled_message(order: OrderRecord, reason: str, supplier_secret: str) -> OutboundMessage:
    """`joint_order.cancelled` for the supplier, signed like its orders."""
    data = JointOrderCancelled(order_id=order.order_id, supplier_id=order.supplier_id, reason=reason)
    now = time.time()
    value = event_bytes(
        EventType.JOINT_ORDER_CANCELLED, SOURCE, data, event_id=f"{order.order_id}.cancelled",
        time=datetime.fromtimestamp(now, UTC),
    )
    return signed_for_supplier(order.supplier_id, value, supplier_secret, now)


def discrepancy_message(report: JointOrderDiscrepancy, event_id: str, supplier_secret: str) -> OutboundMessage:
    """`joint_order.discrepancy` for the supplier, signed like its orders; `event_id` names what
    the report is about, so a report is made once (`FulfilmentRepository.add_discrepancies`)."""
    now = time.time()
    value = event_bytes(EventType.JOINT_ORDER_DISCREPANCY, SOURCE, report, event_id=event_id,
                        time=datetime.fromtimestamp(now, UTC))
    return signed_for_supplier(report.supplier_id, value, supplier_secret, now)


def signed_for_supplier(
    supplier_id: str, value: bytes, secret: str, signed_at: float, compressed: bool = False
) -> OutboundMessage:
    """A record on the supplier's topic, signed at `signed_at` (the event's `time`) with its secret;
    `compressed` for an XML supplier's order document (contract extension in docs/contract.md)."""
    return OutboundMessage(
        topic=topics.supplier_orders(supplier_id),
        key=supplier_id.encode(),
        value=value,
        headers=((SIGNATURE_HEADER, sign(secret, value, signed_at).encode()),),
        compressed=compressed,
    )


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


def status_message(status: JointOrderStatus) -> OutboundMessage:
    return event_record(
        topics.PROCUREMENT_EVENTS,
        status.supplier_id,
        JOINT_ORDER_EVENT_TYPES[status.status],
        SOURCE,
        status,
        event_id=f"{status.order_id}.{status.status}.internal",
    )


def exposure_message(
    alert: Alert,
    status: str,
    categories: tuple[str, ...],
    exposed: Mapping[str, Sequence[str]],
) -> OutboundMessage:
    """`alliance.risk_alert.exposure_assessed`, keyed and identified by the alert's key (never
    its reporter), once per alert and status."""
    assessed = RiskExposureAssessed(
        alert_id=alert.key,
        status=status,  # type: ignore[arg-type]
        kind=alert.kind.value,
        severity=alert.severity.value,
        supplier_id=alert.scope.supplier_id,
        sku=alert.scope.sku,
        region=alert.scope.region,
        summary=alert.summary,
        categories=categories,
        exposed=tuple(MemberExposure(member_id=m, affected_request_ids=tuple(ids)) for m, ids in exposed.items()),
    )
    return event_record(
        topics.PROCUREMENT_EVENTS,
        alert.key,
        RISK_EXPOSURE_ASSESSED,
        SOURCE,
        assessed,
        event_id=f"{alert.key}.{status}",
    )
