"""Admit ERP records that passed the intake (authenticated by their member, new): one
transaction per batch, each member's records in their partition order."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from pydantic import BaseModel

from services.members.adapters import metrics
from services.members.domain.admission import (
    Outcome,
    Verdict,
    assess_cancellation,
    assess_receipt,
    assess_submission,
    authenticate,
)
from services.members.domain.members import Member
from services.members.service_layer.unit_of_work import MembersUnitOfWork
from shared import topics
from shared.contract import (
    CloudEvent,
    EventType,
    PurchaseRequestRejected,
    PurchaseRequestSubmitted,
)
from shared.events.members import (
    PURCHASE_REQUEST_ADMITTED,
    PURCHASE_REQUEST_RECEIVED,
    SOURCE,
    WITHDRAW_PURCHASE_REQUEST,
    WithdrawPurchaseRequest,
)
from shared.messaging.envelope import event_record
from shared.messaging.intake import Command, Signed
from shared.messaging.notices import member_notices, notice_id
from shared.messaging.records import InboundRecord
from shared.signing import SIGNATURE_HEADER

INBOX = "members.admission"


async def members_by_key(uow: MembersUnitOfWork, keys: set[str]) -> dict[str, Member]:
    return await uow.members.get_many(keys)


def _signed_by_its_member(record: InboundRecord, event: CloudEvent, member: Member | None, now: datetime) -> str | None:
    signature = record.header(SIGNATURE_HEADER)
    return authenticate(record.key_text, event.data, signature, record.value or b"", member, now)


SIGNED_BY_MEMBERS = Signed(members_by_key, _signed_by_its_member, lambda member: member.member_id)
"""An ERP's record: keyed by its member, signed with the member's ERP secret, naming it."""


async def admit(uow: MembersUnitOfWork, commands: list[Command]) -> None:
    """Decide each authenticated, new submission or cancellation; answer every member once."""
    request_keys = [(c.sender.member_id, str(c.data.get("request_id", ""))) for c in commands]
    known = await uow.admitted.fingerprints(request_keys)
    skus = await uow.catalog.skus(str(c.data.get("sku", "")) for c in commands)
    new_rows: list[tuple[str, str, str, bytes]] = []
    outcomes = _Outcomes(commands[0].record.topic)
    for command in commands:
        member: Member = command.sender
        key = (member.member_id, str(command.data.get("request_id", "")))
        if command.event.type == EventType.PURCHASE_REQUEST_SUBMITTED:
            existing = known.get(key)
            verdict = assess_submission(command.data, member, skus, existing[0] if existing else None)
            if verdict.outcome is Outcome.ACCEPTED:
                assert verdict.request is not None
                known[key] = (verdict.fingerprint, verdict.request.sku)
                new_rows.append((member.member_id, verdict.request_id, verdict.request.sku, verdict.fingerprint))
        elif command.event.type == EventType.PURCHASE_REQUEST_RECEIVED:
            verdict = assess_receipt(command.data, key in known)
        else:
            verdict = assess_cancellation(command.data, member, key in known)
        _act(uow, command.cause, member, verdict, known.get(key), outcomes)
    await uow.admitted.add(new_rows)
    outcomes.record(uow)


def admitted_data(request: PurchaseRequestSubmitted, member: Member) -> dict[str, object]:
    """`PurchaseRequestAdmitted` in its JSON-ready form: the request's fields as validated
    (a model per request would cost more than the rest of its admission) plus where it ships."""
    return {**request.__dict__, "country": request.ship_to.country if request.ship_to else member.region}


class _Outcomes:
    """What a batch decided, written once per batch: one notice record per member (not per
    request) and one metric update per counter, which keeps the hot path short."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.notices: dict[str, list[tuple[str, BaseModel | dict[str, object], str]]] = defaultdict(list)
        self.consumed: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.admitted = 0
        self.cancelled = 0

    def record(self, uow: MembersUnitOfWork) -> None:
        for member_id, notices in self.notices.items():
            uow.publish(member_notices(SOURCE, member_id, notices))
        for outcome, count in self.consumed.items():
            uow.count_consumed(self.topic, outcome, count)
        uow.after_commit(self._export_metrics)

    def _export_metrics(self) -> None:
        metrics.REQUESTS_ADMITTED.inc(self.admitted)
        metrics.REQUESTS_CANCELLED.inc(self.cancelled)
        for reason, count in self.rejections.items():
            metrics.REQUESTS_REJECTED.labels(reason).inc(count)


def _act(
    uow: MembersUnitOfWork,
    cause: str,
    member: Member,
    verdict: Verdict,
    admitted: tuple[bytes, str] | None,
    outcomes: _Outcomes,
) -> None:
    told = outcomes.notices[member.member_id]
    if verdict.outcome is Outcome.ACCEPTED:
        request = verdict.request
        assert request is not None
        uow.publish(
            event_record(
                topics.ADMITTED_REQUESTS,
                request.sku,
                PURCHASE_REQUEST_ADMITTED,
                SOURCE,
                admitted_data(request, member),
                event_id=notice_id(cause, "admitted"),
            )
        )
        outcomes.admitted += 1
    if verdict.outcome in (Outcome.ACCEPTED, Outcome.RESUBMITTED):
        told.append((EventType.PURCHASE_REQUEST_ACCEPTED, {"request_id": verdict.request_id}, cause))
        outcomes.consumed["processed"] += 1
    elif verdict.outcome is Outcome.REJECTED:
        rejection = PurchaseRequestRejected(request_id=verdict.request_id, reason=verdict.reason, detail=verdict.detail)
        told.append((EventType.PURCHASE_REQUEST_REJECTED, rejection, cause))
        outcomes.consumed["rejected"] += 1
        outcomes.rejections[verdict.reason] += 1
    elif verdict.outcome is Outcome.RECEIPT:
        assert verdict.receipt is not None and admitted is not None
        uow.publish(
            event_record(
                topics.ADMITTED_REQUESTS,
                admitted[1],
                PURCHASE_REQUEST_RECEIVED,
                SOURCE,
                verdict.receipt,
                event_id=notice_id(cause, "received"),
            )
        )
        outcomes.consumed["processed"] += 1
    elif verdict.outcome is Outcome.CANCELLATION:
        assert verdict.cancellation is not None and admitted is not None
        command = WithdrawPurchaseRequest(
            request_id=verdict.request_id, member_id=member.member_id, sku=admitted[1]
        )
        uow.publish(
            event_record(
                topics.ADMITTED_REQUESTS,
                admitted[1],
                WITHDRAW_PURCHASE_REQUEST,
                SOURCE,
                command,
                event_id=notice_id(cause, "withdraw"),
            )
        )
        outcomes.consumed["processed"] += 1
        outcomes.cancelled += 1
