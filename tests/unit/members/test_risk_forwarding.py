"""Members' risk alerts on `risk.alerts` as the members service's consumer takes them: the
declared intake over a unit of work in memory. A member's authentic alert goes to procurement
as a report; suppliers' records on the shared topic are procurement's and skipped here."""

from __future__ import annotations

from typing import Any

from services.members.domain.members import Member, MemberStatus
from services.members.entrypoints.messaging import subscriptions
from shared import topics
from shared.contract import EventType
from shared.events.members import RISK_ALERT_REPORTED, RISK_ALERT_WITHDRAWN
from shared.messaging.records import InboundRecord
from shared.reasons import DeadLetterReason, QuarantineReason
from shared.settings import Settings
from tests.support.erp import cloud_event, signed
from tests.support.fake_members import FakeMembersUnitOfWork
from tests.support.intake import intake_of

SETTINGS = Settings(topic_prefix="test.")
ALERTS = SETTINGS.topic(topics.RISK_ALERTS)
risk_intake = intake_of(subscriptions(SETTINGS), ALERTS)

HUBER = Member("m-huber", "Huber", MemberStatus.ACTIVE, "DE", "huber-secret")
BERG = Member("m-berg", "Berg", MemberStatus.SUSPENDED, "DE", "berg-secret")
ALERT = {"alert_id": "a-1", "supplier_id": "s-holz", "kind": "delay", "severity": "high", "summary": "trucks stuck"}


def alert_record(
    data: dict[str, Any], key: str = "m-huber", secret: str = "huber-secret",
    event_type: str = EventType.RISK_ALERT_RAISED, event_id: str = "e-1",
) -> InboundRecord:
    value = cloud_event(event_type, "erp/test", data, event_id)
    return InboundRecord(ALERTS, 0, 0, key.encode(), value, tuple(signed(secret, value)))


async def deliver(*records: InboundRecord) -> FakeMembersUnitOfWork:
    uow = FakeMembersUnitOfWork([HUBER, BERG], topic_prefix=SETTINGS.topic_prefix)
    async with uow:
        await risk_intake(uow, list(records))
    return uow


async def test_a_members_alert_and_its_resolution_go_to_procurement_keyed_by_the_member():
    uow = await deliver(alert_record(ALERT),
                        alert_record({"alert_id": "a-1"}, event_type=EventType.RISK_ALERT_RESOLVED, event_id="e-2"))

    reported, withdrawn = uow.events(topics.RISK_REPORTS)
    assert (reported.key, reported.type, reported.data["reporter_member_id"], reported.data["alert"]["severity"]) == (
        "m-huber", RISK_ALERT_REPORTED, "m-huber", "high"
    )
    assert (withdrawn.key, withdrawn.type, withdrawn.data["alert_id"]) == ("m-huber", RISK_ALERT_WITHDRAWN, "a-1")
    assert uow.outcomes(ALERTS) == {"processed": 2}


async def test_a_suppliers_record_is_skipped_and_a_forged_members_one_quarantined():
    uow = await deliver(alert_record(ALERT, key="s-holz", secret="holz-secret"),
                        alert_record(ALERT, secret="guessed", event_id="e-2"))

    assert [q.reason for q in uow.quarantined] == [QuarantineReason.BAD_SIGNATURE]
    assert uow.events(topics.RISK_REPORTS) == []
    assert uow.outcomes(ALERTS) == {"skipped": 1, "quarantined": 1}


async def test_an_authentic_alert_the_member_may_not_raise_is_dead_lettered_with_its_reason():
    uow = await deliver(alert_record(ALERT, key="m-berg", secret="berg-secret"),
                        alert_record({**ALERT, "severity": "apocalyptic"}, event_id="e-2"))

    assert [d.reason for d in uow.dead_letters] == [DeadLetterReason.MEMBER_SUSPENDED, DeadLetterReason.INVALID_PAYLOAD]
    assert uow.events(topics.RISK_REPORTS) == []
