"""Supplier answers on `supplier.responses`: a confirmation is passed on to each member on the
order; a rejection re-sources the order's requests at once among the SKU's other suppliers."""

from __future__ import annotations

from datetime import UTC, datetime

from services.procurement.adapters import metrics
from services.procurement.domain.catalog import Supplier
from services.procurement.domain.orders import AnswerOutcome, OrderRecord, OrderStatus, judge_answer
from services.procurement.domain.resourcing import SUPPLIER_REJECTED
from services.procurement.domain.responses import authenticate_response, order_held
from services.procurement.service_layer.publishing import status_message, status_of
from services.procurement.service_layer.resourcing import DecisionOptions, resource_order
from services.procurement.service_layer.risk import effects_in_force
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared.contract import (
    CloudEvent,
    EventType,
    JointOrderConfirmed,
    JointOrderRejected,
    PurchaseRequestConfirmed,
)
from shared.events.procurement import SOURCE
from shared.messaging.intake import Command, Signed
from shared.messaging.notices import member_notice
from shared.messaging.records import InboundRecord
from shared.reasons import DeadLetterReason
from shared.signing import SIGNATURE_HEADER

INBOX = "procurement.responses"


async def suppliers_by_key(uow: ProcurementUnitOfWork, keys: set[str]) -> dict[str, Supplier]:
    return await uow.suppliers.get_many(keys)


def _signed_by_its_supplier(
    record: InboundRecord, event: CloudEvent, supplier: Supplier | None, now: datetime
) -> str | None:
    return authenticate_response(record.key_text, event.data, record.header(SIGNATURE_HEADER), record.value or b"",
                                 supplier, now)


SIGNED_BY_SUPPLIERS = Signed(suppliers_by_key, _signed_by_its_supplier, lambda supplier: supplier.supplier_id)
"""A supplier's answer: keyed by the supplier, signed with its secret, naming it."""


async def take_responses(
    uow: ProcurementUnitOfWork, commands: list[Command], options: DecisionOptions, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    orders = uow.orders
    locked = False
    for command in commands:
        record, data = command.record, command.data
        order = await orders.get(data.order_id)
        refused = order_held(order, command.sender)
        if refused is not None:
            uow.quarantine(record, refused, f"event {command.event.id[:64]!r} failed authentication: {refused}")
            continue
        assert order is not None
        status = OrderStatus.CONFIRMED if isinstance(data, JointOrderConfirmed) else OrderStatus.REJECTED
        if status is OrderStatus.REJECTED and not locked:
            await uow.lock_decisions()  # re-sourcing uses capacity a close also decides on
            locked = True
            order = await orders.get(order.order_id)
            assert order is not None
        outcome = judge_answer(order.status, status)
        if outcome is AnswerOutcome.REPEATED:
            uow.count_consumed(record.topic, "duplicate")
            continue
        if outcome is AnswerOutcome.CONFLICT:
            detail = f"order {order.order_id} was already {order.status.value}"
            uow.dead_letter(record, DeadLetterReason.CONFLICTING_ANSWER, detail)
            continue
        if isinstance(data, JointOrderConfirmed):
            await _confirm(uow, order, data)
        else:
            assert isinstance(data, JointOrderRejected)
            await _reject(uow, order, data, options, now)
        uow.count_consumed(record.topic, "processed")


async def _confirm(uow: ProcurementUnitOfWork, order: OrderRecord, data: JointOrderConfirmed) -> None:
    orders, requests = uow.orders, uow.requests
    await orders.record_answer(order.order_id, OrderStatus.CONFIRMED, expected_delivery=data.expected_delivery)
    for request in await requests.on_order(order.order_id):
        confirmed = PurchaseRequestConfirmed(
            request_id=request.request_id, order_id=order.order_id, expected_delivery=data.expected_delivery
        )
        uow.publish(
            member_notice(
                SOURCE,
                request.member_id,
                EventType.PURCHASE_REQUEST_CONFIRMED,
                confirmed,
                f"{order.order_id}:{request.request_id}",
            )
        )
    await requests.confirm_order(order.order_id)
    answered = await orders.get(order.order_id)
    assert answered is not None
    skus = tuple(await orders.skus(order.order_id))
    uow.publish(status_message(status_of(answered, "confirmed", skus)))
    uow.after_commit(lambda: metrics.ORDERS.labels("confirmed").inc())


async def _reject(
    uow: ProcurementUnitOfWork,
    order: OrderRecord,
    data: JointOrderRejected,
    options: DecisionOptions,
    now: datetime,
) -> None:
    """Decide the rejected order's requests again without that supplier, in this transaction."""
    orders, requests = uow.orders, uow.requests
    await orders.record_answer(order.order_id, OrderStatus.REJECTED, reason=data.reason)
    await requests.exclude_supplier(order.order_id, order.supplier_id)
    in_force = await effects_in_force(uow, now, options.corroboration)
    resourced = await resource_order(uow, order, SUPPLIER_REJECTED, options, in_force, now)
    rejected = await orders.get(order.order_id)
    assert rejected is not None
    uow.publish(
        status_message(status_of(rejected, "rejected", resourced.skus, reason=data.reason))
    )
    uow.after_commit(lambda: metrics.ORDERS.labels("rejected").inc())
