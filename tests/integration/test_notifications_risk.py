"""Risk notices with notifications as a real process: exposure assessments published on the
broker as procurement publishes them, signed webhooks to a real receiver, e-mail to a real SMTP
server. Exposed members hear of their own requests, interested members hear with none, nobody
else hears anything, a redelivery tells nobody twice, the resolution tells the same members
once more, and the member that reported the alert is named nowhere."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared import topics
from shared.contract import Severity
from shared.events.members import MEMBER_REGISTERED, Interests, MemberProfile
from shared.events.procurement import (
    CATALOG_ITEM_LISTED,
    RISK_EXPOSURE_ASSESSED,
    SOURCE,
    CatalogItemListed,
    MemberExposure,
    RiskExposureAssessed,
)
from shared.messaging.envelope import event_record
from shared.messaging.records import OutboundMessage
from tests.support.notifications import (
    FAST,
    metric,
    publish,
    secret_of,
    verified_event,
    wait_for_members,
)
from tests.support.receivers import SmtpSink, eventually
from tests.support.services import SEALING_BOX, Platform, platform
from tools.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

REPORTER = "m-reporter"
"""Raised both alerts (procurement knows it; the assessments never name it)."""
INTERESTS = {
    REPORTER: (("wood",), Severity.CRITICAL),
    "m-exposed-a": ((), Severity.MEDIUM),
    "m-exposed-b": (("metal",), Severity.CRITICAL),
    "m-interested": (("wood", "metal"), Severity.MEDIUM),
    "m-picky": (("wood",), Severity.CRITICAL),
    "m-bystander": (("metal",), Severity.LOW),
}


@pytest.fixture
async def running(
    kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path
) -> AsyncIterator[Platform]:
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path) as started:
        yield started


def profile(running: Platform, member_id: str, receiver: WebhookReceiver) -> OutboundMessage:
    categories, min_severity = INTERESTS[member_id]
    member = MemberProfile(
        member_id=member_id,
        name=f"{member_id} GmbH",
        status="active",
        region="DE",
        email=f"buyer@{member_id}.example",
        locale="en" if member_id.endswith("b") else "de",
        webhook_url=receiver.url(f"/{member_id}"),
        sealed_webhook_secret=SEALING_BOX.seal(secret_of(member_id)),
        interests=Interests(categories=categories, min_risk_severity=min_severity),
    )
    return event_record(running.topic(topics.MEMBER_EVENTS), member_id, MEMBER_REGISTERED, "alliance/members", member)


def assessment(
    running: Platform,
    alert_id: str,
    status: str,
    categories: tuple[str, ...],
    exposed: list[tuple[str, tuple[str, ...]]],
) -> OutboundMessage:
    """What procurement's outbox publishes: keyed by alert id, on its events topic."""
    exposure = RiskExposureAssessed(
        alert_id=alert_id,
        status=status,  # type: ignore[arg-type]
        kind="insolvency",
        severity="high",
        supplier_id="s-holz",
        summary="The supplier has filed for insolvency",
        categories=categories,
        exposed=tuple(
            MemberExposure(member_id=member, affected_request_ids=ids) for member, ids in exposed
        ),
    )
    return event_record(running.topic(topics.PROCUREMENT_EVENTS), alert_id, RISK_EXPOSURE_ASSESSED, SOURCE, exposure)


def catalog_listing(running: Platform) -> OutboundMessage:
    listed = CatalogItemListed(sku="BOARD-18MM", category="wood", name="Board", unit="piece")
    return event_record(running.topic(topics.PROCUREMENT_EVENTS), "BOARD-18MM", CATALOG_ITEM_LISTED, SOURCE, listed)


async def test_exposed_and_interested_members_are_told_once_and_once_more_when_resolved(
    running: Platform,
) -> None:
    receiver = WebhookReceiver()
    await receiver.start()
    sink = SmtpSink()
    sink.start()
    try:
        service = await running.start(
            "notifications",
            ALLIANCE_SMTP_HOST="127.0.0.1",
            ALLIANCE_SMTP_PORT=str(sink.port),
            ALLIANCE_SMTP_SECURITY="none",
            **FAST,
        )
        await publish(running, [profile(running, member, receiver) for member in INTERESTS])
        await wait_for_members(service, set(INTERESTS))

        exposure = [
            ("m-exposed-a", ("r-a1", "r-a2")),
            ("m-exposed-b", ("r-b1",)),
            ("m-exposed-b", ("r-b1", "r-b2")),
        ]
        raised = assessment(running, "a-1", "raised", ("wood",), exposure)
        await publish(running, [catalog_listing(running), raised])
        await eventually(lambda: len(receiver.received) >= 3, 60, "the alert's three notices")

        repeated = assessment(running, "a-1", "raised", ("wood",), exposure)
        resolved = assessment(running, "a-1", "resolved", ("wood",), exposure[:1])
        await publish(running, [raised, repeated, resolved])
        await eventually(lambda: len(receiver.received) >= 6, 60, "the three all-clears")
        await eventually(lambda: len(sink.messages) >= 6, 30, "the six e-mails")

        # The reporter itself exposed by a second alert hears of its own request only.
        second = assessment(
            running,
            "a-2",
            "raised",
            ("stone",),
            [(REPORTER, ("r-rep-1",)), ("m-exposed-a", ("r-a3",))],
        )
        await publish(running, [second])
        await eventually(lambda: len(receiver.received) >= 8, 60, "the second alert's notices")
        await asyncio.sleep(1.5)  # time for any notice that must not come
    finally:
        sink.stop()
        await receiver.stop()

    told: dict[str, list[tuple[str, str, list[str]]]] = {}
    bodies: dict[str, list[str]] = {}
    for webhook in receiver.received:
        member = webhook.path.lstrip("/")
        event = verified_event(webhook, secret_of(member))
        assert event["type"] == "risk_alert.notice"
        data = event["data"]
        told.setdefault(member, []).append(
            (data["alert_id"], data["status"], data["affected_request_ids"])
        )
        bodies.setdefault(member, []).append(webhook.body.decode())
    assert {member: sorted(notices) for member, notices in told.items()} == {
        "m-exposed-a": [
            ("a-1", "raised", ["r-a1", "r-a2"]),
            ("a-1", "resolved", ["r-a1", "r-a2"]),
            ("a-2", "raised", ["r-a3"]),
        ],
        "m-exposed-b": [
            ("a-1", "raised", ["r-b1", "r-b2"]),
            ("a-1", "resolved", ["r-b1", "r-b2"]),
        ],
        "m-interested": [("a-1", "raised", []), ("a-1", "resolved", [])],
        REPORTER: [("a-2", "raised", ["r-rep-1"])],
    }, "m-picky (severity not reached) and m-bystander (other category) hear nothing"
    assert len({w.headers["alliance-delivery-id"] for w in receiver.received}) == 8

    for recipients, message in sink.messages:
        [address] = recipients
        member = address.removeprefix("buyer@").removesuffix(".example")
        bodies[member].append(message["Subject"] + "\n" + message.get_content())
    assert sorted(len(texts) for texts in bodies.values()) == [2, 4, 4, 6]

    for member, texts in bodies.items():
        others = set(INTERESTS) - {member}
        other_requests = {
            request for alert in told.values() for _, _, ids in alert for request in ids
        } - {request for _, _, ids in told[member] for request in ids}
        for text in texts:
            assert not {name for name in others if name in text}, f"{member} reads another member"
            assert not {r for r in other_requests if r in text}, f"{member} reads others' requests"
    assert not any(
        REPORTER in text for member, texts in bodies.items() if member != REPORTER for text in texts
    ), "the reporter is named to nobody"

    procurement_topic = running.topic(topics.PROCUREMENT_EVENTS)
    consumed = {
        outcome: await metric(
            service, "alliance_events_consumed_total", topic=procurement_topic, outcome=outcome
        )
        for outcome in ("processed", "duplicate", "skipped")
    }
    assert consumed == {"processed": 3, "duplicate": 2, "skipped": 1}
    assert (
        await metric(service, "alliance_notices_total", channel="webhook", outcome="delivered")
        == 8
    )
