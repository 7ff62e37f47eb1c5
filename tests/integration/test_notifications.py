"""Notifications as a real process: webhooks to real HTTP receivers, e-mail to a real SMTP
server, state in PostgreSQL, input from the broker (as the members and procurement services
would publish it).

Signatures are checked by a verifier written from the contract (tests/support/notifications.py);
receivers are real servers (tests/support/receivers.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shared.cli.notifications import notifications_app
from shared.contract import (
    EventType,
    PurchaseRequestAccepted,
    PurchaseRequestOrdered,
    RiskAlertNotice,
)
from shared.messaging.records import OutboundMessage
from tests.support.notifications import (
    FAST,
    admin_get,
    metric,
    notice,
    notice_id_of,
    operator_view,
    profile,
    publish,
    recorded_deliveries,
    secret_of,
    verified_event,
    wait_for_members,
)
from tests.support.receivers import SmtpSink, eventually
from tests.support.services import ADMIN_TOKEN, Platform, platform
from tools.webhook_receiver import HANG, WebhookReceiver

pytestmark = pytest.mark.integration
SMTP_PASSWORD = "smtp-password-that-must-never-show"


@pytest.fixture
async def running(
    kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path
) -> AsyncIterator[Platform]:
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path) as started:
        yield started


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = WebhookReceiver()
    await server.start()
    yield server
    await server.stop()


async def test_a_receiver_failing_three_times_gets_the_same_delivery_id_and_one_delivery(
    running: Platform, receiver: WebhookReceiver
) -> None:
    receiver.behaviours["/m-flaky"] = lambda attempt: 500 if attempt <= 3 else 200
    service = await running.start("notifications", **FAST)
    await publish(running, [profile(running, "m-flaky", receiver.url("/m-flaky"))])
    await wait_for_members(service, {"m-flaky"})

    request = notice(
        running,
        "m-flaky",
        EventType.PURCHASE_REQUEST_ACCEPTED,
        PurchaseRequestAccepted(request_id="r-1"),
        "c-1",
    )
    await publish(running, [request, request])  # its producer redelivered it: still one notice
    await eventually(lambda: len(receiver.at("/m-flaky")) >= 4, 30, "a fourth attempt")
    await asyncio.sleep(1.5)  # time for any attempt that should not happen

    attempts = receiver.at("/m-flaky")
    assert [a.answered for a in attempts] == [500, 500, 500, 200]
    assert {a.headers["alliance-delivery-id"] for a in attempts} == {notice_id_of(request)}
    assert len({a.body for a in attempts}) == 1, "every attempt carries the same event"
    events = [verified_event(a, secret_of("m-flaky")) for a in attempts]
    assert events[0]["type"] == "purchase_request.accepted" and events[0]["data"] == {
        "request_id": "r-1"
    }
    with pytest.raises(AssertionError):
        verified_event(attempts[0], secret_of("m-someone-else"))

    deliveries = await admin_get(service, "/deliveries", member_id="m-flaky")
    assert [(d["status"], d["attempts"]) for d in deliveries] == [("delivered", 4)]
    log = await admin_get(service, "/members/m-flaky/log")
    assert [entry["outcome"] for entry in reversed(log)] == [
        "failed",
        "failed",
        "failed",
        "delivered",
    ]
    assert [entry["status_code"] for entry in reversed(log)] == [500, 500, 500, 200]
    assert all(entry["latency_ms"] >= 0 for entry in log)
    assert await metric(service, "alliance_notices_total", channel="webhook", outcome="failed") == 3
    assert (
        await metric(service, "alliance_notices_total", channel="webhook", outcome="delivered") == 1
    )
    assert await metric(service, "alliance_notice_delivery_seconds_count", channel="webhook") == 1
    assert not any(secret_of("m-flaky") in text for text in await operator_view(service))


async def test_retry_after_is_honoured(running: Platform, receiver: WebhookReceiver) -> None:
    receiver.behaviours["/m-busy"] = lambda attempt: (
        (503, {"retry-after": "2"}) if attempt == 1 else 200
    )
    service = await running.start("notifications", **FAST)
    await publish(running, [profile(running, "m-busy", receiver.url("/m-busy"))])
    await wait_for_members(service, {"m-busy"})

    await publish(
        running,
        [
            notice(
                running,
                "m-busy",
                EventType.PURCHASE_REQUEST_ACCEPTED,
                PurchaseRequestAccepted(request_id="r-1"),
                "c-1",
            )
        ],
    )
    await eventually(lambda: len(receiver.at("/m-busy")) == 2, 30, "the attempt after Retry-After")
    first, second = receiver.at("/m-busy")
    assert second.received_at - first.received_at >= 2.0, (
        "came back before the receiver's Retry-After"
    )


async def test_a_hanging_receiver_delays_no_other_members_delivery(
    running: Platform, receiver: WebhookReceiver
) -> None:
    receiver.behaviours["/m-hang"] = lambda _: HANG
    others = [f"m-ok-{n}" for n in range(6)]
    service = await running.start(
        "notifications",
        ALLIANCE_NOTIFICATIONS_ATTEMPT_TIMEOUT_S="4",
        ALLIANCE_NOTIFICATIONS_ENDPOINT_CONCURRENCY="2",
        **FAST,
    )
    await publish(
        running, [profile(running, m, receiver.url(f"/{m}")) for m in ["m-hang", *others]]
    )
    await wait_for_members(service, {"m-hang", *others})

    sent: list[OutboundMessage] = []
    for round_ in range(2):
        hanging = [
            notice(
                running,
                "m-hang",
                EventType.PURCHASE_REQUEST_ACCEPTED,
                PurchaseRequestAccepted(request_id=f"r-hang-{round_}-{n}"),
                f"hang-{round_}-{n}",
            )
            for n in range(20)
        ]
        prompt = [
            notice(
                running,
                m,
                EventType.PURCHASE_REQUEST_ACCEPTED,
                PurchaseRequestAccepted(request_id=f"r-{round_}-{n}"),
                f"ok-{round_}-{n}-{m}",
            )
            for m in others
            for n in range(3)
        ]
        await publish(running, hanging + prompt)  # the hanging member's notices first
        sent += prompt
        total = len(sent)
        await eventually(
            lambda expected=total: sum(len(receiver.at(f"/{m}")) for m in others) == expected,
            30,
            "every other member's notices",
        )
        await asyncio.sleep(5)  # the second round meets timed-out attempts and their retries

    received = {r.headers["alliance-delivery-id"]: r for m in others for r in receiver.at(f"/{m}")}
    for message in sent:
        stored = await admin_get(service, f"/notices/{notice_id_of(message)}")
        stored_at = _timestamp(stored["stored_at"])
        delay = received[notice_id_of(message)].received_at - stored_at
        assert delay < 1.0, (
            f"a notice to {stored['member_id']} took {delay:.2f} s from storage to its receiver"
        )
    hung = receiver.at("/m-hang")
    assert hung and all(r.answered == HANG for r in hung)
    pending = await admin_get(service, "/deliveries", member_id="m-hang", status="pending")
    assert len(pending) == 40, "the hanging member's notices wait for their retries"


def _timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_an_email_arrives_with_what_the_buyer_needs_in_the_members_language(
    running: Platform,
) -> None:
    sink = SmtpSink(credentials=("alliance-mailer", SMTP_PASSWORD))
    sink.start()
    try:
        service = await running.start(
            "notifications",
            ALLIANCE_SMTP_HOST="127.0.0.1",
            ALLIANCE_SMTP_PORT=str(sink.port),
            ALLIANCE_SMTP_SECURITY="none",
            ALLIANCE_SMTP_USERNAME="alliance-mailer",
            ALLIANCE_SMTP_PASSWORD=SMTP_PASSWORD,
            ALLIANCE_SMTP_FROM="Einkaufsverbund <noreply@alliance.example>",
            **FAST,
        )
        await publish(
            running,
            [
                profile(running, "m-english", None, email="buyer@english.example", locale="en"),
                profile(running, "m-deutsch", None, email="einkauf@deutsch.example", locale="de"),
            ],
        )
        await wait_for_members(service, {"m-english", "m-deutsch"})

        english = notice(
            running,
            "m-english",
            EventType.PURCHASE_REQUEST_ORDERED,
            PurchaseRequestOrdered(
                request_id="r-en-1",
                order_id="o-1",
                supplier_id="s-holz",
                quantity=120,
                unit_price=Decimal("9.00"),
                standalone_unit_price=Decimal("10.00"),
                savings=Decimal("120.00"),
            ),
            "c-en",
        )
        german = notice(
            running,
            "m-deutsch",
            EventType.PURCHASE_REQUEST_ORDERED,
            PurchaseRequestOrdered(
                request_id="r-de-1",
                order_id="o-1",
                supplier_id="s-holz",
                quantity=1500,
                unit_price=Decimal("8.50"),
                standalone_unit_price=Decimal("9.00"),
                savings=Decimal("750.00"),
            ),
            "c-de",
        )
        await publish(running, [english, german])
        await eventually(lambda: len(sink.messages) == 2, 30, "two e-mails")
    finally:
        sink.stop()

    [to_english] = sink.to("buyer@english.example")
    assert to_english["Subject"] == "Ordered: r-en-1 at EUR 9.00 per unit"
    assert to_english["From"] == "Einkaufsverbund <noreply@alliance.example>"
    assert to_english["alliance-delivery-id"] == notice_id_of(english)
    assert notice_id_of(english) in to_english["Message-ID"]
    body = to_english.get_content()
    for line in [
        "Hello m-english GmbH,",
        "Your purchase request r-en-1 has been ordered: joint order o-1 with supplier s-holz.",
        "Quantity: 120, unit price: EUR 9.00.",
        "On your own you would have paid EUR 10.00 per unit.",
        "Your savings through the alliance: EUR 120.00.",
        "What to do: nothing. We will tell you when the supplier confirms the order.",
    ]:
        assert line in body

    [to_german] = sink.to("einkauf@deutsch.example")
    assert to_german["Subject"] == "Bestellt: r-de-1 zu 8,50 EUR pro Stück"
    body = to_german.get_content()
    for line in [
        "Guten Tag m-deutsch GmbH,",
        "Menge: 1.500, Stückpreis: 8,50 EUR.",
        "Ihre Ersparnis durch den Verbund: 750,00 EUR.",
        "Was ist zu tun?",
    ]:
        assert line in body
    # Counted once recorded, which follows the delivery by up to RECORD_EVERY_S.
    await eventually_async(
        lambda: metric(service, "alliance_notices_total", channel="email", outcome="delivered"), 2
    )
    assert sink.logins == ["alliance-mailer", "alliance-mailer"]
    assert not any(SMTP_PASSWORD in text for text in await operator_view(service))


async def test_a_dead_notice_shows_in_the_admin_api_and_metrics_and_retry_sends_it_again(
    running: Platform, receiver: WebhookReceiver
) -> None:
    receiver_down = True
    receiver.behaviours["/m-down"] = lambda _: 500 if receiver_down else 200
    service = await running.start(
        "notifications",
        ALLIANCE_NOTIFICATIONS_RETRY_HORIZON_S="2",
        ALLIANCE_NOTIFICATIONS_BREAKER_FAILURES="1000",
        **FAST,
    )
    await publish(running, [profile(running, "m-down", receiver.url("/m-down"))])
    await wait_for_members(service, {"m-down"})
    request = notice(
        running,
        "m-down",
        EventType.RISK_ALERT_NOTICE,
        RiskAlertNotice(
            alert_id="a-1",
            kind="delay",
            severity="high",
            supplier_id="s-holz",
            summary="Strike at the mill",
            affected_request_ids=["r-1"],
        ),
        "alert-a-1",
    )
    await publish(running, [request])
    delivery_id = notice_id_of(request)

    async def dead() -> list[dict[str, Any]]:
        return await admin_get(service, "/deliveries", status="dead")

    deadline = time.monotonic() + 30
    while not await dead():
        assert time.monotonic() < deadline, "the notice never went dead"
        await asyncio.sleep(0.2)
    [gone] = await dead()
    assert (gone["notice_id"], gone["member_id"], gone["last_status_code"]) == (
        delivery_id,
        "m-down",
        500,
    )
    attempts_while_down = len(receiver.at("/m-down"))
    assert attempts_while_down == gone["attempts"] >= 2
    await eventually_async(lambda: metric(service, "alliance_notices_dead"), 1.0)
    assert await metric(service, "alliance_notices_total", channel="webhook", outcome="dead") == 1

    cli = CliRunner()
    env = {
        "ALLIANCE_NOTIFICATIONS_PORT": service.url.rsplit(":", 1)[1],
        "ALLIANCE_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    listed = await asyncio.to_thread(cli.invoke, notifications_app, ["dead"], env=env)
    assert listed.exit_code == 0 and delivery_id in listed.output and "m-down" in listed.output

    receiver_down = False
    retried = await asyncio.to_thread(
        cli.invoke, notifications_app, ["retry", delivery_id], env=env
    )
    assert retried.exit_code == 0, retried.output
    await eventually(
        lambda: len(receiver.at("/m-down")) == attempts_while_down + 1, 10, "the retried delivery"
    )
    last = receiver.at("/m-down")[-1]
    assert last.answered == 200 and last.headers["alliance-delivery-id"] == delivery_id
    assert verified_event(last, secret_of("m-down"))["data"]["affected_request_ids"] == ["r-1"]
    await eventually_async(lambda: metric(service, "alliance_notices_dead"), 0.0)
    await recorded_deliveries(service, "m-down", "delivered")

    again = await asyncio.to_thread(cli.invoke, notifications_app, ["retry", delivery_id], env=env)
    assert again.exit_code == 1 and "no dead delivery" in again.output
    logged = await asyncio.to_thread(cli.invoke, notifications_app, ["log", "m-down"], env=env)
    assert logged.exit_code == 0
    assert {"failed", "dead", "requeued", "delivered"} <= set(logged.output.split())
    listed = await asyncio.to_thread(
        cli.invoke, notifications_app, ["list", "--member", "m-down"], env=env
    )
    assert "delivered" in listed.output and delivery_id in listed.output


async def eventually_async(read: Any, expected: float, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (value := await read()) != expected:
        assert time.monotonic() < deadline, f"still {value}, expected {expected}"
        await asyncio.sleep(0.2)


async def test_an_endpoints_circuit_opens_after_repeated_failures(
    running: Platform, receiver: WebhookReceiver
) -> None:
    receiver.behaviours["/m-broken"] = lambda _: 500
    service = await running.start(
        "notifications",
        ALLIANCE_NOTIFICATIONS_BREAKER_FAILURES="3",
        ALLIANCE_NOTIFICATIONS_BREAKER_COOLDOWN_S="3",
        ALLIANCE_NOTIFICATIONS_ENDPOINT_CONCURRENCY="1",
        **FAST,
    )
    await publish(running, [profile(running, "m-broken", receiver.url("/m-broken"))])
    await wait_for_members(service, {"m-broken"})
    await publish(
        running,
        [
            notice(
                running,
                "m-broken",
                EventType.PURCHASE_REQUEST_ACCEPTED,
                PurchaseRequestAccepted(request_id=f"r-{n}"),
                f"c-{n}",
            )
            for n in range(5)
        ],
    )
    await eventually(lambda: len(receiver.at("/m-broken")) >= 3, 30, "three failed attempts")
    await eventually_async(lambda: metric(service, "alliance_circuit_open"), 1.0, timeout=3)
    await eventually(lambda: len(receiver.at("/m-broken")) >= 4, 10, "the probe after the cooldown")
    third, probe = receiver.at("/m-broken")[2:4]
    assert probe.received_at - third.received_at >= 2.9, "the open circuit let an attempt through"


async def test_deliveries_survive_a_crash_of_the_service(
    running: Platform, receiver: WebhookReceiver
) -> None:
    receiver_down = True
    receiver.behaviours["/m-patient"] = lambda _: 503 if receiver_down else 200
    slow_retries = {
        **FAST,
        "ALLIANCE_NOTIFICATIONS_BACKOFF_BASE_S": "1",
        "ALLIANCE_NOTIFICATIONS_BACKOFF_CAP_S": "1",
        # A delivery claimed by the killed process is free again after 3 attempt timeouts + 10 s.
        "ALLIANCE_NOTIFICATIONS_ATTEMPT_TIMEOUT_S": "2",
    }
    service = await running.start("notifications", **slow_retries)
    await publish(running, [profile(running, "m-patient", receiver.url("/m-patient"))])
    await wait_for_members(service, {"m-patient"})
    request = notice(
        running,
        "m-patient",
        EventType.PURCHASE_REQUEST_ACCEPTED,
        PurchaseRequestAccepted(request_id="r-1"),
        "c-1",
    )
    await publish(running, [request])
    await eventually(lambda: len(receiver.at("/m-patient")) >= 1, 30, "a first attempt")

    service.kill()  # possibly in the middle of recording that attempt
    receiver_down = False
    restarted = await running.start("notifications", **slow_retries)
    await eventually(
        lambda: receiver.at("/m-patient")[-1].answered == 200, 45, "delivery after the restart"
    )
    attempts = receiver.at("/m-patient")
    assert {r.headers["alliance-delivery-id"] for r in attempts} == {notice_id_of(request)}
    assert [r.answered for r in attempts].count(200) == 1
    [delivery] = await recorded_deliveries(restarted, "m-patient", "delivered")
    assert 1 <= delivery["attempts"] <= len(attempts), (
        "an attempt cut short by the crash is not logged"
    )
