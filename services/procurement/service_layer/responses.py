"""What suppliers send on `supplier.responses`, one path per kind whatever its wording:

- an answer (`joint_order.answered` per line; v1's `joint_order.confirmed` / `.rejected` as every
  line accepted / rejected): each member told what the order serves of its request, and what
  it leaves unserved decided again at once among the SKU's other suppliers (`domain/answers.py`);
- a despatch advice (`joint_order.dispatched`): each member told its own quantity
  (`domain/fulfilment.py`); a run of them is read and written at once (a supplier may ship each
  of thousands of deliveries on its own).

The handler takes the contract's models, so a supplier writing another standard (its documents
read into the same models) is judged by the same rules.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from services.procurement.adapters import metrics
from services.procurement.domain.answers import (
    AnswerEffects,
    OrderAnswer,
    Refusal,
    apply_answer,
    judge_line_answer,
    read_answer,
    whole_order_answer,
)
from services.procurement.domain.catalog import Supplier
from services.procurement.domain.fulfilment import Dispatch, dispatch_notices, judge_dispatch
from services.procurement.domain.orders import AnswerOutcome, OrderRecord, OrderStatus, judge_answer
from services.procurement.domain.resourcing import request_part
from services.procurement.domain.responses import authenticate_response, order_held
from services.procurement.service_layer.publishing import status_message, status_of
from services.procurement.service_layer.receipts import complete_answered
from services.procurement.service_layer.resourcing import DecisionOptions, resource_parts
from services.procurement.service_layer.risk import effects_in_force
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared.contract import (
    CloudEvent,
    EventType,
    JointOrderAnswered,
    JointOrderConfirmed,
    JointOrderDispatched,
    JointOrderRejected,
)
from shared.events.procurement import SOURCE
from shared.messaging.intake import Command, Signed
from shared.messaging.notices import member_notice
from shared.messaging.records import InboundRecord
from shared.reasons import DeadLetterReason
from shared.signing import SIGNATURE_HEADER

INBOX = "procurement.responses"

SupplierAnswer = JointOrderConfirmed | JointOrderRejected | JointOrderAnswered


async def suppliers_by_key(uow: ProcurementUnitOfWork, keys: set[str]) -> dict[str, Supplier]:
    return await uow.suppliers.get_many(keys, with_catalog=False)  # authenticating needs their secrets only


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
    """Answers and dispatches of orders their sender holds, in partition order: dispatches a run
    at a time (what they need read once per run), answers one by one."""
    now = now or datetime.now(UTC)
    batch = _Batch()
    orders = await uow.orders.get_many({c.data.order_id for c in commands})
    dispatches: list[tuple[Command, OrderRecord]] = []
    for command in commands:
        record, data = command.record, command.data
        order = orders.get(data.order_id)
        refused = order_held(order, command.sender)
        if refused is not None:
            uow.quarantine(record, refused, f"event {command.event.id[:64]!r} failed authentication: {refused}")
            continue
        assert order is not None
        if isinstance(data, JointOrderDispatched):
            dispatches.append((command, order))
            continue
        await take_dispatches(uow, dispatches)
        dispatches = []
        outcome = await take_answer(uow, command, order, options, now, batch)
        if outcome is not None:
            uow.count_consumed(record.topic, outcome)
        if outcome == "processed":
            answered = await uow.orders.get(order.order_id)
            assert answered is not None
            orders[order.order_id] = answered
    await take_dispatches(uow, dispatches)


class _Batch:
    """What a batch has done once: the decision lock is taken by the first answer that needs it."""

    def __init__(self) -> None:
        self.locked = False


async def take_answer(
    uow: ProcurementUnitOfWork,
    command: Command,
    order: OrderRecord,
    options: DecisionOptions,
    now: datetime,
    batch: _Batch,
) -> str | None:
    """Judge and apply one answer; returns the consumed outcome (None when set aside)."""
    record, data = command.record, command.data
    placed = await uow.fulfilment.placed_order(order.order_id)
    assert placed is not None
    answer = read_answer(placed.order, data) if isinstance(data, JointOrderAnswered) else whole_order_answer(
        placed.order, data
    )
    if isinstance(answer, Refusal):
        uow.dead_letter(record, answer.reason, answer.detail)
        return None
    effects = apply_answer(placed.order, answer, placed.admitted_at)
    if effects.shortfalls and not batch.locked:
        await uow.lock_decisions()  # re-sourcing uses capacity a close also decides on
        batch.locked = True
        current = await uow.orders.get(order.order_id)
        assert current is not None
        order = current
    held = await uow.fulfilment.answer(order.order_id)
    if held is None and order.status is not OrderStatus.PLACED:  # answered before line answers were kept
        outcome = judge_answer(order.status, answer.status)
    else:
        outcome = judge_line_answer(order.status, held, answer)
    if outcome is AnswerOutcome.REPEATED:
        return "duplicate"
    if outcome is AnswerOutcome.CONFLICT:
        uow.dead_letter(record, DeadLetterReason.CONFLICTING_ANSWER, f"order {order.order_id} was already "
                        f"{order.status.value}")
        return None
    await _apply(uow, order, data, answer, effects, placed.requested, options, now)
    return "processed"


async def _apply(
    uow: ProcurementUnitOfWork,
    order: OrderRecord,
    data: SupplierAnswer,
    answer: OrderAnswer,
    effects: AnswerEffects,
    requested: dict[str, int],
    options: DecisionOptions,
    now: datetime,
) -> None:
    orders, requests = uow.orders, uow.requests
    status = answer.status
    dates = [line.expected_delivery for line in answer.lines if line.expected_delivery is not None]
    reason = data.reason if isinstance(data, JointOrderRejected) else None
    await orders.record_answer(order.order_id, status, expected_delivery=max(dates, default=None), reason=reason)
    await uow.fulfilment.record_answer(answer, effects.commitments)
    served = effects.confirmed
    for commitment in served:
        notice = commitment.confirmed_notice(requested[f"{commitment.member_id}/{commitment.request_id}"])
        uow.publish(member_notice(SOURCE, commitment.member_id, EventType.PURCHASE_REQUEST_CONFIRMED, notice,
                                  f"{order.order_id}:{commitment.request_id}"))
    await requests.confirm(list(dict.fromkeys((c.member_id, c.request_id) for c in served)))
    shortfalls = effects.shortfalls
    if shortfalls:
        keys = list(dict.fromkeys((s.member_id, s.request_id) for s in shortfalls))
        await requests.exclude_supplier_for(keys, order.supplier_id)
        on_order = {r.key: r for r in await requests.on_order(order.order_id)}
        parts = [(request_part(on_order[f"{s.member_id}/{s.request_id}"], s.quantity), s.reason) for s in shortfalls]
        in_force = await effects_in_force(uow, now, options.corroboration)
        await resource_parts(uow, order, parts, options, in_force, now)
    await complete_answered(uow, order.order_id)
    answered = await orders.get(order.order_id)
    assert answered is not None
    skus = tuple(await orders.skus(order.order_id))
    uow.publish(status_message(status_of(answered, status.value, skus, reason=reason)))
    unserved = sum(s.quantity for s in shortfalls)

    def record() -> None:
        metrics.ORDERS.labels(status.value).inc()
        metrics.SHORTFALL_QUANTITY.inc(unserved)

    uow.after_commit(record)


async def take_dispatches(uow: ProcurementUnitOfWork, commands: list[tuple[Command, OrderRecord]]) -> None:
    """Judge and take a run of despatch advices (each with the order it ships, as it stands):
    what they name is read at once, then each is judged against it and the ones before it."""
    if not commands:
        return
    fulfilment = uow.fulfilment
    dispatches = [Dispatch.of(command.data) for command, _ in commands]
    named = {(d.order_id, delivery_id) for d in dispatches for delivery_id, _ in d.quantities}
    committed = await fulfilment.commitments_of(named)
    taken: dict[str, list[Dispatch]] = {}
    for earlier in await fulfilment.dispatches_of(named):
        taken.setdefault(earlier.order_id, []).append(earlier)
    by_id = await fulfilment.dispatches_named((d.supplier_id, d.dispatch_id) for d in dispatches)
    new: list[Dispatch] = []
    outcomes: Counter[str] = Counter()
    for (command, order), dispatch in zip(commands, dispatches, strict=True):
        commitments = [committed[key] for delivery_id, _ in dispatch.quantities
                       if (key := (dispatch.order_id, delivery_id)) in committed]
        verdict = judge_dispatch(order.status, commitments, taken.get(order.order_id, []),
                                 by_id.get((dispatch.supplier_id, dispatch.dispatch_id)), dispatch)
        if isinstance(verdict, Refusal):
            uow.dead_letter(command.record, verdict.reason, verdict.detail)
            continue
        if verdict is AnswerOutcome.REPEATED:
            outcomes["duplicate"] += 1
            continue
        new.append(dispatch)
        taken.setdefault(order.order_id, []).append(dispatch)
        by_id[(dispatch.supplier_id, dispatch.dispatch_id)] = dispatch
        for member_id, notice in dispatch_notices(commitments, dispatch):
            uow.publish(member_notice(SOURCE, member_id, EventType.PURCHASE_REQUEST_DISPATCHED, notice,
                                      f"{dispatch.supplier_id}:{dispatch.dispatch_id}:{notice.request_id}"))
        outcomes["processed"] += 1
    await fulfilment.add_dispatches(new)
    topic = commands[0][0].record.topic
    for outcome, count in outcomes.items():
        uow.count_consumed(topic, outcome, count)
    units = sum(quantity for d in new for _, quantity in d.quantities)
    uow.after_commit(lambda: metrics.DISPATCHED_QUANTITY.inc(units))
