"""Admission of ERP purchase requests as the members service's consumer runs it: the declared
intake of `erp.purchase-requests` (decode, authenticate, inbox, the handler) over a unit of
work in memory. The rules themselves are tested pure in test_admission.py."""

from __future__ import annotations

from typing import Any

import pytest

from services.members.domain.members import Member, MemberStatus
from services.members.entrypoints.messaging import subscriptions
from shared import topics
from shared.contract import EventType, RejectionReason
from shared.events.members import PURCHASE_REQUEST_ADMITTED, PURCHASE_REQUEST_RECEIVED, WITHDRAW_PURCHASE_REQUEST
from shared.events.notices import MEMBER_NOTICES_REQUESTED
from shared.messaging.records import InboundRecord
from shared.reasons import DeadLetterReason, QuarantineReason
from shared.settings import Settings
from tests.support.erp import cloud_event, signed
from tests.support.fake_members import FakeAdmittedRequests, FakeMembersUnitOfWork
from tests.support.intake import intake_of

SETTINGS = Settings(topic_prefix="test.")
REQUESTS = SETTINGS.topic(topics.PURCHASE_REQUESTS)
admission = intake_of(subscriptions(SETTINGS), REQUESTS)

HUBER = Member("m-huber", "Huber", MemberStatus.ACTIVE, "DE", "huber-secret")
BERG = Member("m-berg", "Berg", MemberStatus.SUSPENDED, "AT", "berg-secret")
REQUEST = {"request_id": "r-1", "member_id": "m-huber", "sku": "BOARD-18MM", "quantity": 60, "needed_by": "2027-01-20"}


@pytest.fixture
def uow() -> FakeMembersUnitOfWork:
    return FakeMembersUnitOfWork([HUBER, BERG], skus=["BOARD-18MM"], topic_prefix=SETTINGS.topic_prefix)


def erp_record(
    data: dict[str, Any],
    key: str = "m-huber",
    secret: str = "huber-secret",
    event_type: str = EventType.PURCHASE_REQUEST_SUBMITTED,
    event_id: str = "e-1",
    offset: int = 0,
) -> InboundRecord:
    value = cloud_event(event_type, "erp/test", data, event_id)
    return InboundRecord(REQUESTS, 0, offset, key.encode(), value, tuple(signed(secret, value)))


async def deliver(uow: FakeMembersUnitOfWork, *records: InboundRecord) -> None:
    """One batch, in one transaction, as the consumer hands it over."""
    async with uow:
        await admission(uow, list(records))


def notices(uow: FakeMembersUnitOfWork) -> list[tuple[str, str, dict[str, Any]]]:
    """(member, notice type, data) of every notice the members were sent."""
    return [
        (event.key or "", notice["notice_type"], notice["data"])
        for event in uow.events(topics.MEMBER_NOTICES, MEMBER_NOTICES_REQUESTED)
        for notice in event.data["notices"]
    ]


async def test_an_accepted_request_is_admitted_for_procurement_and_its_member_told(uow):
    await deliver(uow, erp_record(REQUEST))

    [admitted] = uow.events(topics.ADMITTED_REQUESTS)
    assert admitted.topic == SETTINGS.topic(topics.ADMITTED_REQUESTS)
    assert (admitted.key, admitted.type) == ("BOARD-18MM", PURCHASE_REQUEST_ADMITTED)
    assert admitted.data["member_id"] == "m-huber" and admitted.data["quantity"] == 60
    assert admitted.data["country"] == "DE", "no ship_to: the member's region"
    assert notices(uow) == [("m-huber", EventType.PURCHASE_REQUEST_ACCEPTED, {"request_id": "r-1"})]
    assert uow.outcomes(REQUESTS) == {"processed": 1}
    assert uow.dead_letters == [] and uow.quarantined == []


@pytest.mark.parametrize(
    ("key", "secret", "data", "reason"),
    [
        ("m-huber", "guessed", REQUEST, QuarantineReason.BAD_SIGNATURE),
        ("m-ghost", "huber-secret", REQUEST, QuarantineReason.UNKNOWN_MEMBER),
        ("m-huber", "huber-secret", {**REQUEST, "member_id": "m-berg"}, QuarantineReason.KEY_NOT_MEMBER),
    ],
)
async def test_a_record_its_member_did_not_sign_is_quarantined_and_nobody_told(uow, key, secret, data, reason):
    await deliver(uow, erp_record(data, key=key, secret=secret))

    assert [(q.reason, q.key) for q in uow.quarantined] == [(reason, key.encode())]
    assert uow.published == uow.messages(topics.QUARANTINE), "no admission, no notice"
    assert uow.outcomes(REQUESTS) == {"quarantined": 1}
    assert uow.inbox.get("members.admission", set()) == set(), "a forgery claims no event id"


async def test_a_suspended_member_is_told_its_request_is_rejected(uow):
    await deliver(uow, erp_record({**REQUEST, "member_id": "m-berg"}, key="m-berg", secret="berg-secret"))

    assert uow.events(topics.ADMITTED_REQUESTS) == []
    [(member, notice_type, data)] = notices(uow)
    assert (member, notice_type, data["reason"]) == (
        "m-berg", EventType.PURCHASE_REQUEST_REJECTED, RejectionReason.MEMBER_SUSPENDED
    )
    assert uow.outcomes(REQUESTS) == {"rejected": 1}


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({**REQUEST, "quantity": 0}, RejectionReason.INVALID_PAYLOAD),
        ({key: value for key, value in REQUEST.items() if key != "sku"}, RejectionReason.INVALID_PAYLOAD),
        ({**REQUEST, "sku": "NOT-SOLD"}, RejectionReason.UNKNOWN_SKU),
    ],
)
async def test_an_authentic_request_it_cannot_admit_is_answered_with_the_reason(uow, data, reason):
    """The member signed it: it hears why (the intake validates nothing itself for this topic)."""
    await deliver(uow, erp_record(data))

    [(member, notice_type, rejection)] = notices(uow)
    assert (member, notice_type, rejection["reason"], rejection["request_id"]) == (
        "m-huber", EventType.PURCHASE_REQUEST_REJECTED, reason, "r-1"
    )
    assert uow.events(topics.ADMITTED_REQUESTS) == [] and uow.dead_letters == []


async def test_an_unreadable_record_is_dead_lettered(uow):
    unreadable = InboundRecord(REQUESTS, 0, 7, b"m-huber", b"{not json", tuple(signed("huber-secret", b"{not json")))
    await deliver(uow, unreadable)

    [dead] = uow.dead_letters
    assert (dead.reason, dead.topic, dead.offset) == (DeadLetterReason.NOT_JSON, REQUESTS, 7)
    assert uow.outcomes(REQUESTS) == {"dead_lettered": 1}


async def test_a_redelivered_event_is_counted_once_as_a_duplicate(uow):
    record = erp_record(REQUEST)
    await deliver(uow, record, record)
    await deliver(uow, record)

    assert len(uow.events(topics.ADMITTED_REQUESTS)) == 1
    assert len(notices(uow)) == 1
    assert uow.outcomes(REQUESTS) == {"processed": 1, "duplicate": 2}


async def test_a_resubmission_is_accepted_again_and_a_reused_request_id_rejected(uow):
    await deliver(uow, erp_record(REQUEST, event_id="e-1"))
    await deliver(uow, erp_record(REQUEST, event_id="e-2"), erp_record({**REQUEST, "quantity": 61}, event_id="e-3"))

    assert len(uow.events(topics.ADMITTED_REQUESTS)) == 1, "never bundled twice"
    told = [(notice_type, data.get("reason")) for _, notice_type, data in notices(uow)]
    assert told == [
        (EventType.PURCHASE_REQUEST_ACCEPTED, None),
        (EventType.PURCHASE_REQUEST_ACCEPTED, None),
        (EventType.PURCHASE_REQUEST_REJECTED, RejectionReason.DUPLICATE_REQUEST),
    ]


async def test_a_cancellation_withdraws_an_admitted_request_and_an_unknown_one_is_rejected(uow):
    cancel = {"request_id": "r-1", "member_id": "m-huber"}
    await deliver(uow, erp_record(REQUEST, event_id="e-1"))
    await deliver(
        uow,
        erp_record(cancel, event_type=EventType.PURCHASE_REQUEST_CANCELLED, event_id="e-2"),
        erp_record({**cancel, "request_id": "r-9"}, event_type=EventType.PURCHASE_REQUEST_CANCELLED, event_id="e-3"),
    )

    [withdraw] = uow.events(topics.ADMITTED_REQUESTS, WITHDRAW_PURCHASE_REQUEST)
    assert withdraw.key == "BOARD-18MM", "keyed like the request, so procurement sees them in order"
    assert (withdraw.data["member_id"], withdraw.data["request_id"]) == ("m-huber", "r-1")
    [*_, (_, notice_type, rejection)] = notices(uow)
    assert (notice_type, rejection["reason"]) == (EventType.PURCHASE_REQUEST_REJECTED, RejectionReason.UNKNOWN_REQUEST)


async def test_a_batch_that_fails_leaves_nothing_behind_so_its_redelivery_is_admitted(uow, monkeypatch):
    async def broken(self, rows):
        raise ConnectionError("database went away")

    monkeypatch.setattr(FakeAdmittedRequests, "add", broken)
    with pytest.raises(ConnectionError):
        await deliver(uow, erp_record(REQUEST))
    assert uow.published == [] and uow.consumed == {} and uow.inbox.get("members.admission", set()) == set()

    monkeypatch.undo()
    await deliver(uow, erp_record(REQUEST))
    assert len(uow.events(topics.ADMITTED_REQUESTS, PURCHASE_REQUEST_ADMITTED)) == 1


RECEIPT = {"request_id": "r-1", "member_id": "m-huber", "receipt_id": "gr-1", "received_on": "2027-01-18",
           "quantity_accepted": 55, "quantity_rejected": 5, "reason": "damaged"}


async def test_a_goods_receipt_for_an_own_request_is_forwarded_to_procurement_keyed_by_its_sku(uow):
    await deliver(uow, erp_record(REQUEST))
    await deliver(uow, erp_record(RECEIPT, event_type=EventType.PURCHASE_REQUEST_RECEIVED, event_id="e-2"))

    received = [e for e in uow.events(topics.ADMITTED_REQUESTS) if e.type == PURCHASE_REQUEST_RECEIVED]
    assert [(e.key, e.data) for e in received] == [("BOARD-18MM", {**RECEIPT, "note": None})]
    assert [n for n in notices(uow) if n[1] != EventType.PURCHASE_REQUEST_ACCEPTED] == []


@pytest.mark.parametrize(("receipt", "reason"), [
    ({**RECEIPT, "request_id": "r-404"}, RejectionReason.UNKNOWN_REQUEST),
    ({**RECEIPT, "quantity_accepted": 0, "quantity_rejected": 0}, RejectionReason.INVALID_PAYLOAD),
    ({**RECEIPT, "reason": "stolen"}, RejectionReason.INVALID_PAYLOAD),
])
async def test_a_receipt_that_cannot_be_taken_is_rejected_to_its_member_and_not_forwarded(uow, receipt, reason):
    await deliver(uow, erp_record(REQUEST))
    await deliver(uow, erp_record(receipt, event_type=EventType.PURCHASE_REQUEST_RECEIVED, event_id="e-2"))

    assert [e for e in uow.events(topics.ADMITTED_REQUESTS) if e.type == PURCHASE_REQUEST_RECEIVED] == []
    assert [(m, t, d["reason"]) for m, t, d in notices(uow) if t == EventType.PURCHASE_REQUEST_REJECTED] == [
        ("m-huber", EventType.PURCHASE_REQUEST_REJECTED, reason)]


async def test_a_receipt_signed_by_another_member_is_quarantined():
    uow = FakeMembersUnitOfWork([HUBER, BERG], skus=["BOARD-18MM"], topic_prefix=SETTINGS.topic_prefix)
    await deliver(uow, erp_record(REQUEST))
    await deliver(uow, erp_record(RECEIPT, secret="berg-secret", event_type=EventType.PURCHASE_REQUEST_RECEIVED,
                                  event_id="e-2"))
    assert [q.reason for q in uow.quarantined] == [QuarantineReason.BAD_SIGNATURE]
