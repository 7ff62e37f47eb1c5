"""Admission end to end: signed records on `erp.purchase-requests` through the real members
service, broker and database; every outcome of issue 3 observed on the output topics."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter

import httpx
import pytest

from shared import topics
from shared.messaging.unit_of_work import REASON_HEADER
from tests.support.erp import cloud_event, signed
from tests.support.kafka import kafka_producer, wait_for_notices, wait_for_records
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import platform

pytestmark = pytest.mark.e2e

SUBMITTED = "purchase_request.submitted"
CANCELLED = "purchase_request.cancelled"


def request(member_id: str, request_id: str, **overrides):
    return {"request_id": request_id, "member_id": member_id, "sku": "BOARD-18MM", "quantity": 60,
            "needed_by": "2027-01-15", **overrides}


def record(member_id: str, data, *, secret: str | None = None, key: str | None = None, at: float | None = None,
           event_type: str = SUBMITTED, event_id: str | None = None, sign: bool = True):
    value = cloud_event(event_type, f"erp/{member_id}", data, event_id=event_id)
    headers = signed(secret or MEMBER_SECRETS[member_id], value, at) if sign else []
    return (key or member_id), value, headers


@pytest.fixture
def seed(tmp_path):
    return write_seed(
        tmp_path / "seed.yaml",
        [member("m-huber"), member("m-maier"), member("m-berg", status="suspended")],
        [supplier("s-holz", [item("BOARD-18MM", [(1, "10.00"), (100, "9.00")])])],
    )


def header(record, name: str) -> str:
    return dict(record.headers)[name].decode()


async def test_every_admission_outcome(kafka_bootstrap, postgres_server_url, tmp_path, seed):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path) as running:
        await running.start("members", seed)
        original = record("m-huber", request("m-huber", "r-ok"))
        cases = [
            original,
            record("m-huber", request("m-huber", "r-ok")),  # identical resubmission, new event id
            (original[0], original[1], original[2]),  # the very same record again (replay)
            record("m-huber", request("m-huber", "r-ok", quantity=61)),  # duplicate_request
            record("m-huber", request("m-huber", "r-bad", quantity="60")),  # invalid_payload
            record("m-huber", request("m-huber", "r-sku", sku="NOT-IN-CATALOG")),  # unknown_sku
            record("m-berg", request("m-berg", "r-susp")),  # member_suspended
            record("m-maier", {"request_id": "r-ok", "member_id": "m-huber"}, event_type=CANCELLED),  # key≠member
            record("m-huber", request("m-huber", "r-nosig"), sign=False),  # missing_signature
            record("m-huber", request("m-huber", "r-forged"), secret="not-the-secret"),  # bad_signature
            record("m-huber", request("m-huber", "r-stale"), at=time.time() - 301),  # stale_timestamp
            record("m-maier", request("m-huber", "r-other"), secret=MEMBER_SECRETS["m-maier"]),  # key_not_member
            record("m-ghost", request("m-ghost", "r-ghost"), secret="x"),  # unknown_member
            ("m-huber", b"\xff\xfe not utf-8", []),  # dead letter: not_utf8
            ("m-huber", json.dumps({"hello": "world"}).encode(), []),  # dead letter: not_cloudevent
            record("m-huber", {"request_id": "r-ok", "member_id": "m-huber"}, event_type=CANCELLED),  # forwarded
            record("m-huber", {"request_id": "r-never", "member_id": "m-huber"}, event_type=CANCELLED),  # unknown_request
        ]
        async with kafka_producer(kafka_bootstrap) as producer:
            for key, value, headers in cases:
                await producer.send_and_wait(running.topic(topics.PURCHASE_REQUESTS), value, key=key.encode(),
                                             headers=headers)

        admitted = await wait_for_records(kafka_bootstrap, running.topic(topics.ADMITTED_REQUESTS), 2)
        kinds = Counter(json.loads(r.value)["type"] for r in admitted)
        assert kinds == {"alliance.purchase_request.admitted": 1, "alliance.purchase_request.withdraw": 1}
        admitted_event = next(json.loads(r.value) for r in admitted if r.value.find(b".admitted") > 0)
        assert admitted_event["data"]["request_id"] == "r-ok" and admitted_event["data"]["country"] == "DE"

        notices = await wait_for_notices(kafka_bootstrap, running.topic(topics.MEMBER_NOTICES), 7)
        told = sorted((member_id, kind, data.get("reason"), data["request_id"]) for member_id, kind, data in notices)
        assert told == sorted([
            ("m-huber", "purchase_request.accepted", None, "r-ok"),
            ("m-huber", "purchase_request.accepted", None, "r-ok"),  # told again, never bundled twice
            ("m-huber", "purchase_request.rejected", "duplicate_request", "r-ok"),
            ("m-huber", "purchase_request.rejected", "invalid_payload", "r-bad"),
            ("m-huber", "purchase_request.rejected", "unknown_sku", "r-sku"),
            ("m-berg", "purchase_request.rejected", "member_suspended", "r-susp"),
            ("m-huber", "purchase_request.rejected", "unknown_request", "r-never"),
        ])
        invalid = next(data for _, _, data in notices if data.get("reason") == "invalid_payload")
        assert "quantity" in invalid["detail"]

        quarantined = await wait_for_records(kafka_bootstrap, running.topic(topics.QUARANTINE), 6)
        assert Counter(header(r, REASON_HEADER) for r in quarantined) == {
            "key_not_member": 2, "missing_signature": 1, "bad_signature": 1, "stale_timestamp": 1,
            "unknown_member": 1,
        }
        dead = await wait_for_records(kafka_bootstrap, running.topic(topics.DEAD_LETTERS), 2)
        assert sorted(header(r, REASON_HEADER) for r in dead) == ["not_cloudevent", "not_utf8"]
        assert {r.value for r in dead} == {b"\xff\xfe not utf-8", json.dumps({"hello": "world"}).encode()}
        assert {header(r, "alliance-source-topic") for r in dead} == {running.topic(topics.PURCHASE_REQUESTS)}

        await asyncio.sleep(2)  # nothing more trickles in: each outcome happened exactly once
        assert len(await wait_for_notices(kafka_bootstrap, running.topic(topics.MEMBER_NOTICES), 7)) == 7
        assert len(await wait_for_records(kafka_bootstrap, running.topic(topics.ADMITTED_REQUESTS), 2)) == 2

        metrics = httpx.get(f"{running.services['members'].url}/metrics").text
        assert 'alliance_quarantined_total{reason="bad_signature"} 1.0' in metrics
        assert 'alliance_requests_rejected_total{reason="unknown_sku"} 1.0' in metrics


def malformed(member_id: str, n: int, rng: random.Random):
    """A mix of everything an ERP (or an attacker) can get wrong."""
    kind = n % 8
    good = request(member_id, f"bad-{n}")
    if kind == 0:
        return member_id, rng.randbytes(rng.randint(1, 300)), []
    if kind == 1:
        return record(member_id, {**good, "quantity": "many"})
    if kind == 2:
        return member_id, b'{"data":"' + b"x" * (2 * 1024 * 1024) + b'"}', []
    if kind == 3:
        return record(member_id, {k: v for k, v in good.items() if k != "sku"})
    if kind == 4:
        return member_id, b'{"specversion":"1.0","id":"\xc3\x28"}', []
    if kind == 5:
        return record(member_id, good, key="m-maier" if member_id == "m-huber" else "m-huber")
    if kind == 6:  # a replayed signature on a new body
        value = cloud_event(SUBMITTED, "erp", good)
        old_headers = signed(MEMBER_SECRETS[member_id], cloud_event(SUBMITTED, "erp", request(member_id, "other")))
        return member_id, value, old_headers
    return record(member_id, {**good, "needed_by": "someday"})


async def test_malformed_flood_with_valid_requests_interleaved(kafka_bootstrap, postgres_server_url, tmp_path, seed):
    rng = random.Random(7)
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path) as running:
        members_service = await running.start("members", seed)
        valid = [record(m, request(m, f"ok-{i}")) for i in range(50) for m in ("m-huber", "m-maier")]
        bad = [malformed(rng.choice(["m-huber", "m-maier"]), n, rng) for n in range(1000)]
        stream = bad + valid
        rng.shuffle(stream)
        async with kafka_producer(kafka_bootstrap) as producer:
            sends = [await producer.send(running.topic(topics.PURCHASE_REQUESTS), v, key=k.encode(), headers=h)
                     for k, v, h in stream]
            await asyncio.gather(*sends)
            async with httpx.AsyncClient() as client:
                assert (await client.get(f"{members_service.url}/health")).status_code == 200

        admitted = await wait_for_records(kafka_bootstrap, running.topic(topics.ADMITTED_REQUESTS), 100, timeout=60)
        ids = Counter(json.loads(r.value)["data"]["request_id"] + json.loads(r.value)["data"]["member_id"] for r in admitted)
        assert len(ids) == 100 and set(ids.values()) == {1}

        # every bad record has a reason somewhere: rejected to its member, quarantined, or dead-lettered
        rejected_expected = sum(1 for n in range(1000) if n % 8 in (1, 3, 7))
        quarantined_expected = sum(1 for n in range(1000) if n % 8 in (5, 6))
        dead_expected = 1000 - rejected_expected - quarantined_expected
        notices = await wait_for_notices(kafka_bootstrap, running.topic(topics.MEMBER_NOTICES), 100 + rejected_expected, 60)
        assert sum(kind == "purchase_request.rejected" for _, kind, _ in notices) == rejected_expected
        quarantined = await wait_for_records(kafka_bootstrap, running.topic(topics.QUARANTINE), quarantined_expected, 60)
        assert all(dict(r.headers).get(REASON_HEADER) for r in quarantined)
        dead = await wait_for_records(kafka_bootstrap, running.topic(topics.DEAD_LETTERS), dead_expected, 60)
        assert all(dict(r.headers).get(REASON_HEADER) for r in dead)
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{members_service.url}/health")).status_code == 200


async def test_suspension_and_secret_rotation_through_the_admin_api(kafka_bootstrap, postgres_server_url, tmp_path, seed):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path) as running:
        members_service = await running.start("members", seed)
        async with members_service.admin() as admin:
            response = await admin.post("/members/m-huber/rotate-secret", json={"new_secret": "rotated!", "grace_seconds": 4})
            assert response.status_code == 200 and "rotated!" not in response.text
            assert (await admin.post("/members/m-maier/suspend")).json()["status"] == "suspended"
        topic = running.topic(topics.PURCHASE_REQUESTS)
        async with kafka_producer(kafka_bootstrap) as producer:
            for key, value, headers in [
                record("m-huber", request("m-huber", "old-in-grace")),
                record("m-huber", request("m-huber", "new-secret"), secret="rotated!"),
                record("m-maier", request("m-maier", "while-suspended")),
            ]:
                await producer.send_and_wait(topic, value, key=key.encode(), headers=headers)
            await wait_for_notices(kafka_bootstrap, running.topic(topics.MEMBER_NOTICES), 3)
            await asyncio.sleep(4.5)
            key, value, headers = record("m-huber", request("m-huber", "old-after-grace"))
            await producer.send_and_wait(topic, value, key=key.encode(), headers=headers)
        notices = await wait_for_notices(kafka_bootstrap, running.topic(topics.MEMBER_NOTICES), 3)
        told = sorted((data["request_id"], kind) for _, kind, data in notices)
        assert told == [("new-secret", "purchase_request.accepted"), ("old-in-grace", "purchase_request.accepted"),
                        ("while-suspended", "purchase_request.rejected")]
        quarantined = await wait_for_records(kafka_bootstrap, running.topic(topics.QUARANTINE), 1)
        assert header(quarantined[0], REASON_HEADER) == "bad_signature"
        assert b"old-after-grace" in quarantined[0].value
        log = members_service.log()
        for secret in ("rotated!", *MEMBER_SECRETS.values()):
            assert secret not in log
        assert os.environ.get("ALLIANCE_ADMIN_TOKEN", "") not in log or not os.environ.get("ALLIANCE_ADMIN_TOKEN")
