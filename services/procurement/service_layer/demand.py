"""Open demand from the members service: admitted requests join it, withdrawals leave it while
they are still open (once a request is on a placed order it is too late)."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ValidationError

from services.procurement.adapters.repository import RequestsRepository, lock_decisions_shared
from services.procurement.domain.demand import RequestStatus
from shared.contract import (
    EventType,
    PurchaseRequestRejected,
    PurchaseRequestWithdrawn,
    RejectionReason,
)
from shared.events.members import (
    PURCHASE_REQUEST_ADMITTED,
    WITHDRAW_PURCHASE_REQUEST,
    PurchaseRequestAdmitted,
    WithdrawPurchaseRequest,
)
from shared.events.procurement import SOURCE
from shared.messaging.envelope import validation_summary
from shared.messaging.notices import member_notice
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork

INBOX = "procurement.demand"
_MODELS: dict[str, type[BaseModel]] = {
    PURCHASE_REQUEST_ADMITTED: PurchaseRequestAdmitted,
    WITHDRAW_PURCHASE_REQUEST: WithdrawPurchaseRequest,
}
_NOTHING_TO_ORDER = (RequestStatus.OPEN, RequestStatus.WITHDRAWN, RequestStatus.UNFULFILLABLE)
"""States in which a withdrawal takes effect (or already has): nothing is, or will be, ordered."""


async def take_demand(uow: UnitOfWork, records: Sequence[InboundRecord], topic_prefix: str) -> None:
    events: list[tuple[InboundRecord, str, BaseModel]] = []
    for record in records:
        event = uow.decode(record, _MODELS)
        if event is None:
            continue
        try:
            events.append((record, event.id, _MODELS[event.type].model_validate(event.data)))
        except ValidationError as error:
            uow.dead_letter(record, "invalid_payload", validation_summary(error))

    # An admission is idempotent by its (member, request) key, so it needs no inbox row: a
    # redelivered one adds nothing. A withdrawal tells the member something, so it claims one.
    topic = records[0].topic
    admitted = [data for _, _, data in events if isinstance(data, PurchaseRequestAdmitted)]
    added = await RequestsRepository(uow.conn).add(admitted)
    if added:
        uow.count_consumed(topic, "processed", added)
    commands = [(r, i, data) for r, i, data in events if isinstance(data, WithdrawPurchaseRequest)]
    first_seen = await uow.claim(INBOX, (event_id for _, event_id, _ in commands))
    withdrawals = [(r, i, data) for r, i, data in commands if i in first_seen]
    duplicates = len(admitted) - added + len(commands) - len(withdrawals)
    if duplicates:
        uow.count_consumed(topic, "duplicate", duplicates)
    if withdrawals:
        await lock_decisions_shared(uow.conn)  # a close in progress decides first
    for record, event_id, command in withdrawals:
        assert isinstance(command, WithdrawPurchaseRequest)
        await _withdraw(uow, command, event_id, topic_prefix)
        uow.count_consumed(record.topic, "processed")


async def _withdraw(uow: UnitOfWork, command: WithdrawPurchaseRequest, cause: str, topic_prefix: str) -> None:
    requests = RequestsRepository(uow.conn)
    status = await requests.status(command.member_id, command.request_id)
    if status in _NOTHING_TO_ORDER:
        if status is RequestStatus.OPEN:
            await requests.set_status(command.member_id, command.request_id, RequestStatus.WITHDRAWN)
        notice_type: str = EventType.PURCHASE_REQUEST_CANCELLED
        data: BaseModel = PurchaseRequestWithdrawn(request_id=command.request_id)
    elif status is None:
        notice_type = EventType.PURCHASE_REQUEST_REJECTED
        data = PurchaseRequestRejected(
            request_id=command.request_id,
            reason=RejectionReason.UNKNOWN_REQUEST,
            detail="procurement has no request with this request_id",
        )
    else:
        notice_type = EventType.PURCHASE_REQUEST_REJECTED
        data = PurchaseRequestRejected(
            request_id=command.request_id,
            reason=RejectionReason.ALREADY_ORDERED,
            detail="the request is on a joint order already placed with a supplier",
        )
    uow.publish(member_notice(topic_prefix, SOURCE, command.member_id, notice_type, data, cause))
