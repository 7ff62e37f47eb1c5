"""Open demand from the members service: admitted requests join it, withdrawals leave it while
they are still open (once a request is on a placed order it is too late); members' goods
receipts come the same way, after the members service's admission checks."""

from __future__ import annotations

from pydantic import BaseModel

from services.procurement.domain.demand import RequestStatus
from services.procurement.service_layer.receipts import take_receipts
from services.procurement.service_layer.unit_of_work import ProcurementUnitOfWork
from shared.contract import (
    EventType,
    PurchaseRequestReceived,
    PurchaseRequestRejected,
    PurchaseRequestWithdrawn,
    RejectionReason,
)
from shared.events.members import PurchaseRequestAdmitted, WithdrawPurchaseRequest
from shared.events.procurement import SOURCE
from shared.messaging.intake import Command
from shared.messaging.notices import member_notice

INBOX = "procurement.demand"
_NOTHING_TO_ORDER = (RequestStatus.OPEN, RequestStatus.WITHDRAWN, RequestStatus.UNFULFILLABLE)
"""States in which a withdrawal takes effect (or already has): nothing is, or will be, ordered."""


async def take_demand(uow: ProcurementUnitOfWork, commands: list[Command]) -> None:
    """Admissions join the open demand; withdrawals leave it while nothing is ordered yet; goods
    receipts are checked against what was dispatched (`receipts.py`).

    An admission is idempotent by its (member, request) key, so it claims no inbox row: a
    redelivered one adds nothing. A withdrawal tells the member something, so it does."""
    topic = commands[0].record.topic
    admitted = [c.data for c in commands if isinstance(c.data, PurchaseRequestAdmitted)]
    added = await uow.requests.add(admitted)
    if added:
        uow.count_consumed(topic, "processed", added)
    if len(admitted) > added:
        uow.count_consumed(topic, "duplicate", len(admitted) - added)
    withdrawals = [c for c in commands if isinstance(c.data, WithdrawPurchaseRequest)]
    if withdrawals:
        await uow.lock_decisions_shared()  # a close in progress decides first
    for command in withdrawals:
        await _withdraw(uow, command.data, command.cause)
        uow.count_consumed(topic, "processed")
    receipts = [c for c in commands if isinstance(c.data, PurchaseRequestReceived)]
    if receipts:
        await take_receipts(uow, receipts)


async def _withdraw(uow: ProcurementUnitOfWork, command: WithdrawPurchaseRequest, cause: str) -> None:
    requests = uow.requests
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
    uow.publish(member_notice(SOURCE, command.member_id, notice_type, data, cause))
