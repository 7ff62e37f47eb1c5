"""Admit a batch of ERP records: one transaction, signatures checked per record, each
member's records in their partition order."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel

from services.members.adapters import metrics
from services.members.adapters.repository import AdmittedRequests, CatalogRepository, MembersRepository
from services.members.domain.admission import (
    ADMISSION_TYPES,
    Outcome,
    Verdict,
    assess_cancellation,
    assess_submission,
    authenticate,
)
from services.members.domain.members import Member
from shared import topics
from shared.contract import (
    CloudEvent,
    EventType,
    PurchaseRequestRejected,
    PurchaseRequestSubmitted,
)
from shared.events.members import (
    PURCHASE_REQUEST_ADMITTED,
    SOURCE,
    WITHDRAW_PURCHASE_REQUEST,
    WithdrawPurchaseRequest,
)
from shared.messaging.envelope import event_record
from shared.messaging.notices import member_notices, notice_id
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork
from shared.signing import SIGNATURE_HEADER

INBOX = "members.admission"


async def admit_batch(
    uow: UnitOfWork, records: Sequence[InboundRecord], topic_prefix: str, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    decoded = [(record, event) for record in records if (event := uow.decode(record, ADMISSION_TYPES))]

    members = await MembersRepository(uow.conn).get_many(r.key_text for r, _ in decoded if r.key_text)
    authentic: list[tuple[InboundRecord, CloudEvent, Member]] = []
    for record, event in decoded:
        member = members.get(record.key_text or "")
        failure = authenticate(record.key_text, event.data, record.header(SIGNATURE_HEADER), record.value or b"", member, now)
        if failure is not None:
            uow.quarantine(record, failure.value, f"event {event.id[:64]!r} failed authentication: {failure.value}")
            continue
        assert member is not None
        authentic.append((record, event, member))

    # Only authenticated events claim inbox ids, so a forgery can't pre-empt a genuine event id.
    first_seen = await uow.claim(INBOX, (f"{m.member_id}:{e.id}" for _, e, m in authentic))
    fresh = []
    for record, event, member in authentic:
        inbox_id = f"{member.member_id}:{event.id}"
        if inbox_id in first_seen:
            first_seen.discard(inbox_id)  # a replay inside the same batch is a duplicate too
            fresh.append((record, event, member))
    if len(fresh) < len(authentic):
        uow.count_consumed(records[0].topic, "duplicate", len(authentic) - len(fresh))

    request_keys = [(m.member_id, str(e.data.get("request_id", ""))) for _, e, m in fresh]
    known = await AdmittedRequests(uow.conn).fingerprints(request_keys)
    skus = await CatalogRepository(uow.conn).skus(str(e.data.get("sku", "")) for _, e, _ in fresh)
    new_rows: list[tuple[str, str, str, bytes]] = []
    outcomes = _Outcomes(records[0].topic)
    for record, event, member in fresh:
        key = (member.member_id, str(event.data.get("request_id", "")))
        if event.type == EventType.PURCHASE_REQUEST_SUBMITTED:
            existing = known.get(key)
            verdict = assess_submission(event.data, member, skus, existing[0] if existing else None)
            if verdict.outcome is Outcome.ACCEPTED:
                assert verdict.request is not None
                known[key] = (verdict.fingerprint, verdict.request.sku)
                new_rows.append((member.member_id, verdict.request_id, verdict.request.sku, verdict.fingerprint))
        else:
            verdict = assess_cancellation(event.data, member, key in known)
        _act(uow, event, member, verdict, known.get(key), topic_prefix, outcomes)
    await AdmittedRequests(uow.conn).add(new_rows)
    outcomes.record(uow, topic_prefix)


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

    def record(self, uow: UnitOfWork, topic_prefix: str) -> None:
        for member_id, notices in self.notices.items():
            uow.publish(member_notices(topic_prefix, SOURCE, member_id, notices))
        for outcome, count in self.consumed.items():
            uow.count_consumed(self.topic, outcome, count)
        uow.after_commit(self._export_metrics)

    def _export_metrics(self) -> None:
        metrics.REQUESTS_ADMITTED.inc(self.admitted)
        metrics.REQUESTS_CANCELLED.inc(self.cancelled)
        for reason, count in self.rejections.items():
            metrics.REQUESTS_REJECTED.labels(reason).inc(count)


def _act(
    uow: UnitOfWork,
    event: CloudEvent,
    member: Member,
    verdict: Verdict,
    admitted: tuple[bytes, str] | None,
    topic_prefix: str,
    outcomes: _Outcomes,
) -> None:
    cause = f"{member.member_id}:{event.id}"
    told = outcomes.notices[member.member_id]
    if verdict.outcome is Outcome.ACCEPTED:
        request = verdict.request
        assert request is not None
        uow.publish(
            event_record(
                topic_prefix + topics.ADMITTED_REQUESTS,
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
    elif verdict.outcome is Outcome.CANCELLATION:
        assert verdict.cancellation is not None and admitted is not None
        command = WithdrawPurchaseRequest(
            request_id=verdict.request_id, member_id=member.member_id, sku=admitted[1]
        )
        uow.publish(
            event_record(
                topic_prefix + topics.ADMITTED_REQUESTS,
                admitted[1],
                WITHDRAW_PURCHASE_REQUEST,
                SOURCE,
                command,
                event_id=notice_id(cause, "withdraw"),
            )
        )
        outcomes.consumed["processed"] += 1
        outcomes.cancelled += 1
