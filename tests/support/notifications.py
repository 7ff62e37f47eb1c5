"""Helpers for testing notifications: the records the producing services would publish, the
admin API and metrics of a running service, and a webhook verifier written from the contract
(hmac and hashlib, not shared.signing, so a bug there cannot hide a bug in the service).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from shared import topics
from shared.events.members import MEMBER_REGISTERED, MemberProfile
from shared.messaging.envelope import event_record
from shared.messaging.notices import member_notice
from shared.messaging.records import OutboundMessage
from tests.support.kafka import kafka_producer
from tests.support.services import SEALING_BOX, Platform, ServiceProcess
from tools.webhook_receiver import ReceivedRequest

FAST = {
    "ALLIANCE_NOTIFICATIONS_BACKOFF_BASE_S": "0.2",
    "ALLIANCE_NOTIFICATIONS_BACKOFF_CAP_S": "0.5",
    "ALLIANCE_NOTIFICATIONS_POLL_INTERVAL_S": "0.1",
}
"""Small backoff so retries happen within a test's patience."""


def secret_of(member_id: str) -> str:
    return f"webhook-secret-of-{member_id}"


def profile(
    running: Platform,
    member_id: str,
    webhook_url: str | None,
    email: str | None = None,
    locale: str = "de",
) -> OutboundMessage:
    member = MemberProfile(
        member_id=member_id,
        name=f"{member_id} GmbH",
        status="active",
        region="DE",
        email=email,
        locale=locale,  # type: ignore[arg-type]
        webhook_url=webhook_url,
        sealed_webhook_secret=SEALING_BOX.seal(secret_of(member_id)) if webhook_url else None,
    )
    return event_record(running.topic(topics.MEMBER_EVENTS), member_id, MEMBER_REGISTERED, "alliance/members", member)


def notice(
    running: Platform, member_id: str, notice_type: str, data: Any, cause: str
) -> OutboundMessage:
    message = member_notice("alliance/procurement", member_id, notice_type, data, cause)
    return replace(message, topic=running.topic(message.topic))


def notice_id_of(message: OutboundMessage) -> str:
    return json.loads(message.value)["id"]


async def publish(running: Platform, messages: Sequence[OutboundMessage]) -> None:
    async with kafka_producer(running.kafka_bootstrap) as producer:
        sent = [await producer.send(m.topic, m.value, key=m.key) for m in messages]
        await asyncio.gather(*sent)


async def admin_get(service: ServiceProcess, path: str, **params: Any) -> Any:
    async with service.admin() as client:
        response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def wait_for_members(service: ServiceProcess, member_ids: set[str]) -> None:
    deadline = time.monotonic() + 30
    while {m["member_id"] for m in await admin_get(service, "/members")} < member_ids:
        assert time.monotonic() < deadline, "member profiles not projected within 30 s"
        await asyncio.sleep(0.1)


async def recorded_deliveries(
    service: ServiceProcess, member_id: str, status: str, timeout: float = 10
) -> list[dict[str, Any]]:
    """A member's deliveries once all are recorded with `status`: the service records finished
    attempts in batches, so the receiver has answered a little before the record says so."""
    deadline = time.monotonic() + timeout
    while True:
        deliveries = await admin_get(service, "/deliveries", member_id=member_id)
        if deliveries and all(d["status"] == status for d in deliveries):
            return deliveries
        assert time.monotonic() < deadline, f"still {[d['status'] for d in deliveries]}"
        await asyncio.sleep(0.1)


async def metric(service: ServiceProcess, name: str, **labels: str) -> float:
    """The sample `name` with exactly these labels; 0 while the service has not written it."""
    samples = await service.metrics()
    return next((s.value for s in samples if s.name == name and s.labels == labels), 0.0)


def verified_event(request: ReceivedRequest, secret: str) -> dict[str, Any]:
    """Check a webhook the way the contract tells a member's receiver to; return its CloudEvent."""
    fields = dict(part.split("=", 1) for part in request.headers["alliance-signature"].split(","))
    timestamp = int(fields["t"])
    assert abs(time.time() - timestamp) <= 300
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"]), "the signature does not verify"
    event = json.loads(request.body)
    assert event["specversion"] == "1.0" and event["source"] == "alliance"
    assert event["datacontenttype"] == "application/json"
    assert event["id"] == request.headers["alliance-delivery-id"]
    return event


async def operator_view(service: ServiceProcess) -> list[str]:
    """All an operator sees of the service: its log, its admin API's lists, its metrics."""
    async with service.admin() as client:
        answers = [(await client.get(path)).text for path in ("/members", "/deliveries")]
        answers.append((await client.get(f"{service.url}/metrics")).text)
    return [service.log(), *answers]
