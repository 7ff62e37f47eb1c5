"""Attacks on the real services, each refused with its reason and counted: forged, stale and
missing signatures, replays, one member signing for another, a supplier answering for an order
it does not hold, forged risk alerts, the admin APIs without (or with a wrong) token, payloads
over 1 MiB and JSON nested too deep, on Kafka and over HTTP.

Every record-level refusal is asserted where ops see it: its `alliance-reason` on the quarantine
or dead-letter topic, and the counter that moved (`alliance_quarantined_total`,
`alliance_dead_letters_total`, `alliance_events_consumed_total{outcome="duplicate"}`).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka.structs import ConsumerRecord

from chaos.broker import read_topic
from shared import topics
from shared.messaging.unit_of_work import REASON_HEADER, SOURCE_TOPIC_HEADER
from shared.settings import SERVICES
from tests.support.erp import cloud_event, signed
from tests.support.kafka import kafka_producer, notices_told
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import ADMIN_TOKEN, Platform, ServiceProcess, platform

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

SUPPLIER_SECRETS = {"s-holz": "s-holz-secret", "s-wald": "s-wald-secret"}
NEEDED_BY = (date.today() + timedelta(days=30)).isoformat()
MIB = 1024 * 1024


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(kafka_bootstrap: str, postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> AsyncIterator[Platform]:
    workdir = tmp_path_factory.mktemp("attacks")
    seed = write_seed(
        workdir / "seed.yaml",
        [member("m-huber"), member("m-maier")],
        [supplier("s-holz", [item("BOARD-18MM", [(1, "10.00")])]), supplier("s-wald", [item("BEAM-KVH", [(1, "5.00")])])],
    )
    async with platform(kafka_bootstrap, postgres_server_url, workdir, tuple(SUPPLIER_SECRETS)) as started:
        for service in SERVICES:
            await started.start(service, seed)
        yield started


def marked(prefix: str) -> str:
    """An id no other test uses, to find this test's records among everything set aside."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def submitted(member_id: str, request_id: str) -> dict[str, Any]:
    return {"request_id": request_id, "member_id": member_id, "sku": "BOARD-18MM", "quantity": 5,
            "needed_by": NEEDED_BY}


Record = tuple[str, bytes, list[tuple[str, bytes]]]


def record(key: str, event_type: str, data: dict[str, Any], secret: str | None, at: float | None = None,
           event_id: str | None = None) -> Record:
    value = cloud_event(event_type, key, data, event_id=event_id)
    return key, value, signed(secret, value, at) if secret is not None else []


async def send(running: Platform, topic: str, records: list[Record]) -> None:
    async with kafka_producer(running.kafka_bootstrap) as producer:
        for key, value, headers in records:
            await producer.send_and_wait(running.topic(topic), value, key=key.encode(), headers=headers)


async def set_aside(running: Platform, topic: str, marker: str, count: int) -> list[ConsumerRecord]:
    """The records on the quarantine or dead-letter topic whose value carries `marker`, once
    there are `count` of them."""
    found: list[ConsumerRecord] = []

    async def arrived() -> bool:
        nonlocal found
        found = [r for r in await read_topic(running.kafka_bootstrap, running.topic(topic)) if marker.encode() in r.value]
        return len(found) >= count

    await eventually_async(arrived, 60, f"{count} records marked {marker} on {topic}")
    return found


async def eventually_async(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Wait until `await check()` holds; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        await asyncio.sleep(0.5)


def reasons(records: list[ConsumerRecord]) -> Counter[str]:
    return Counter(dict(r.headers)[REASON_HEADER].decode() for r in records)


async def counters(service: ServiceProcess, name: str, label: str, **where: str) -> Counter[str]:
    """A counter's value by one of its labels (among the samples whose labels match `where`),
    from the service's /metrics."""
    values: Counter[str] = Counter()
    for sample in await service.metrics():
        if sample.name == name and all(sample.labels.get(k) == v for k, v in where.items()):
            values[sample.labels.get(label, "")] += int(sample.value)
    return values


async def told(running: Platform, marker: str) -> list[dict[str, Any]]:
    """Notices asked for about requests whose id carries `marker`."""
    records = await read_topic(running.kafka_bootstrap, running.topic(topics.MEMBER_NOTICES))
    return [data for _, _, data in notices_told(records) if marker in data.get("request_id", "")]


async def test_forged_stale_unsigned_and_misattributed_requests_are_quarantined_and_told_to_nobody(running):
    members = running.services["members"]
    tag = marked("atk-erp")
    huber, maier = MEMBER_SECRETS["m-huber"], MEMBER_SECRETS["m-maier"]
    attacks = {
        "bad_signature": [
            record("m-huber", "purchase_request.submitted", submitted("m-huber", f"{tag}-forged"), "guessed"),
            # member A (maier) signing as member B (huber): B's key and data, A's secret
            record("m-huber", "purchase_request.submitted", submitted("m-huber", f"{tag}-a-as-b"), maier),
        ],
        "stale_timestamp": [
            record("m-huber", "purchase_request.submitted", submitted("m-huber", f"{tag}-stale"), huber,
                   at=time.time() - 301),
        ],
        "missing_signature": [record("m-huber", "purchase_request.submitted", submitted("m-huber", f"{tag}-nosig"), None)],
        "key_not_member": [
            # A's key and secret, but a request in B's name
            record("m-maier", "purchase_request.submitted", submitted("m-huber", f"{tag}-for-b"), maier),
            # a record key that is not the member_id of the data
            record("m-huber", "purchase_request.cancelled", {"request_id": f"{tag}-x", "member_id": "m-maier"}, huber),
        ],
        "unknown_member": [record("m-nobody", "purchase_request.submitted", submitted("m-nobody", f"{tag}-ghost"), "x")],
    }
    malformed_key, malformed_value, _ = record("m-huber", "purchase_request.submitted",
                                               submitted("m-huber", f"{tag}-malformed"), None)
    attacks["malformed_signature"] = [(malformed_key, malformed_value, [("alliance-signature", b"t=soon,v1=zz")])]
    before = await counters(members, "alliance_quarantined_total", "reason")

    await send(running, topics.PURCHASE_REQUESTS, [r for records in attacks.values() for r in records])

    quarantined = await set_aside(running, topics.QUARANTINE, tag, sum(map(len, attacks.values())))
    expected = Counter({reason: len(records) for reason, records in attacks.items()})
    assert reasons(quarantined) == expected
    assert {dict(r.headers)[SOURCE_TOPIC_HEADER].decode() for r in quarantined} == {running.topic(topics.PURCHASE_REQUESTS)}
    assert await counters(members, "alliance_quarantined_total", "reason") - before == expected
    assert await told(running, tag) == []  # acknowledged to nobody


async def test_a_signature_timestamp_beyond_any_clock_is_quarantined_like_any_bad_signature(running):
    """`t` with hundreds of digits: no float holds it, and it must still be just a failed signature,
    not an error of the handler (which dead-letters the record and replays its whole batch)."""
    tag = marked("atk-time")
    key, value, _ = record("m-huber", "purchase_request.submitted", submitted("m-huber", tag), None)
    header = f"t={'9' * 400},v1={'a' * 64}".encode()
    await send(running, topics.PURCHASE_REQUESTS, [(key, value, [("alliance-signature", header)])])
    found: list[tuple[str, ConsumerRecord]] = []

    async def set_aside_anywhere() -> bool:
        for topic in (topics.QUARANTINE, topics.DEAD_LETTERS):
            found.extend((topic, r) for r in await read_topic(running.kafka_bootstrap, running.topic(topic))
                         if tag.encode() in r.value)
        return bool(found)

    await eventually_async(set_aside_anywhere, 60, "the record set aside")
    [(topic, refused)] = found
    assert (topic, dict(refused.headers)[REASON_HEADER].decode()) in {
        (topics.QUARANTINE, "malformed_signature"), (topics.QUARANTINE, "stale_timestamp")}


async def test_a_replay_has_no_second_effect_and_an_old_signature_fits_no_new_request(running):
    members = running.services["members"]
    tag = marked("atk-replay")
    genuine = record("m-huber", "purchase_request.submitted", submitted("m-huber", f"{tag}-1"), MEMBER_SECRETS["m-huber"])
    await send(running, topics.PURCHASE_REQUESTS, [genuine])

    async def accepted() -> bool:
        return len(await told(running, tag)) == 1

    await eventually_async(accepted, 60, "the genuine request accepted")
    consumed = {"name": "alliance_events_consumed_total", "label": "outcome",
                "topic": running.topic(topics.PURCHASE_REQUESTS)}
    duplicates = await counters(members, **consumed)
    key, _, old_headers = genuine
    new_body = cloud_event("purchase_request.submitted", key, submitted("m-huber", f"{tag}-2"))
    await send(running, topics.PURCHASE_REQUESTS, [genuine, (key, new_body, old_headers)])

    [refused] = await set_aside(running, topics.QUARANTINE, f"{tag}-2", 1)
    assert reasons([refused]) == {"bad_signature": 1}
    after = await counters(members, **consumed)
    assert after["duplicate"] - duplicates["duplicate"] == 1
    assert [n["request_id"] for n in await told(running, tag)] == [f"{tag}-1"]  # told once, admitted once
    admitted = await read_topic(running.kafka_bootstrap, running.topic(topics.ADMITTED_REQUESTS))
    assert sum(f"{tag}-1".encode() in r.value for r in admitted) == 1


async def placed_order(running: Platform) -> dict[str, Any]:
    """An order of s-holz: a genuine request, admitted, then the cycle closed by ops."""
    tag = marked("atk-order")
    await send(running, topics.PURCHASE_REQUESTS, [
        record("m-huber", "purchase_request.submitted", submitted("m-huber", tag), MEMBER_SECRETS["m-huber"])])

    async def admitted() -> bool:
        return len(await told(running, tag)) == 1

    await eventually_async(admitted, 60, "the request admitted")
    async with running.services["procurement"].admin() as admin:
        await eventually_async(
            lambda: _has_open_demand(admin), 60, "the request in procurement's open demand")
        assert (await admin.post("/cycles/close", timeout=120)).status_code == 200
    orders: list[dict[str, Any]] = []

    async def placed() -> bool:
        nonlocal orders
        records = await read_topic(running.kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")))
        orders = [json.loads(r.value)["data"] for r in records]
        return bool(orders)

    await eventually_async(placed, 60, "the order on s-holz's topic")
    return orders[-1]


async def _has_open_demand(admin: httpx.AsyncClient) -> bool:
    return sum(row["requests"] for row in (await admin.get("/demand")).json()) > 0


async def test_a_supplier_cannot_answer_for_an_order_it_does_not_hold(running):
    procurement = running.services["procurement"]
    order = await placed_order(running)
    tag = marked("atk-sup")
    holz, wald = SUPPLIER_SECRETS["s-holz"], SUPPLIER_SECRETS["s-wald"]

    def answer(key: str, secret: str | None, supplier_id: str, n: int, at: float | None = None) -> Record:
        data = {"order_id": order["order_id"], "supplier_id": supplier_id}
        return record(key, "joint_order.confirmed", data, secret, at, event_id=f"{tag}-{n}")

    attacks = {
        "order_not_held": [answer("s-wald", wald, "s-wald", 1)],
        "key_not_supplier": [answer("s-wald", wald, "s-holz", 2)],
        "bad_signature": [answer("s-holz", wald, "s-holz", 3)],
        "stale_timestamp": [answer("s-holz", holz, "s-holz", 4, at=time.time() - 301)],
        "missing_signature": [answer("s-holz", None, "s-holz", 5)],
        "unknown_supplier": [answer("s-nobody", "x", "s-nobody", 6)],
    }
    before = await counters(procurement, "alliance_quarantined_total", "reason")
    await send(running, topics.SUPPLIER_RESPONSES, [r for records in attacks.values() for r in records])

    quarantined = await set_aside(running, topics.QUARANTINE, tag, len(attacks))
    expected = Counter({reason: 1 for reason in attacks})
    assert reasons(quarantined) == expected
    assert await counters(procurement, "alliance_quarantined_total", "reason") - before == expected
    async with procurement.admin() as admin:
        assert (await admin.get(f"/orders/{order['order_id']}")).json()["status"] == "placed"
        await send(running, topics.SUPPLIER_RESPONSES, [answer("s-holz", holz, "s-holz", 7)])

        async def confirmed() -> bool:
            return (await admin.get(f"/orders/{order['order_id']}")).json()["status"] == "confirmed"

        await eventually_async(confirmed, 60, "the genuine answer taking effect")


async def test_forged_risk_alerts_are_quarantined_by_whoever_owns_the_reporter(running):
    tag = marked("atk-risk")
    alert = {"alert_id": tag, "supplier_id": "s-holz", "kind": "insolvency", "severity": "critical",
             "summary": f"{tag}: forged"}
    attacks = [
        ("members", "bad_signature", record("m-huber", "risk_alert.raised", alert, "guessed")),
        ("procurement", "bad_signature", record("s-holz", "risk_alert.raised", alert, SUPPLIER_SECRETS["s-wald"])),
        ("procurement", "stale_timestamp",
         record("s-holz", "risk_alert.raised", alert, SUPPLIER_SECRETS["s-holz"], at=time.time() - 301)),
        ("procurement", "unknown_reporter", record("s-nobody", "risk_alert.raised", alert, "x")),
    ]
    before = {s: await counters(running.services[s], "alliance_quarantined_total", "reason") for s in ("members", "procurement")}
    await send(running, topics.RISK_ALERTS, [r for _, _, r in attacks])

    quarantined = await set_aside(running, topics.QUARANTINE, tag, len(attacks))
    assert reasons(quarantined) == Counter(reason for _, reason, _ in attacks)
    for service in ("members", "procurement"):
        moved = await counters(running.services[service], "alliance_quarantined_total", "reason") - before[service]
        assert moved == Counter(reason for owner, reason, _ in attacks if owner == service)
    async with running.services["procurement"].admin() as admin:
        assert tag not in (await admin.get("/alerts")).text


async def test_records_over_1_mib_or_nested_too_deep_are_dead_lettered_unparsed(running):
    tag = marked("atk-size")
    huge = json.dumps({"data": tag + "x" * MIB}).encode()
    deep = (b'{"a":' * 40) + json.dumps(tag).encode() + (b"}" * 40)
    cases = [
        ("members", topics.PURCHASE_REQUESTS, "m-huber"),
        ("procurement", topics.SUPPLIER_RESPONSES, "s-holz"),
        ("procurement", topics.RISK_ALERTS, "s-holz"),
        ("members", topics.RISK_ALERTS, "m-huber"),
    ]
    before = {s: await counters(running.services[s], "alliance_dead_letters_total", "reason") for s in ("members", "procurement")}
    for _, topic, key in cases:
        await send(running, topic, [(key, huge, []), (key, deep, [])])

    dead = await set_aside(running, topics.DEAD_LETTERS, tag, 2 * len(cases))
    assert reasons(dead) == {"too_large": len(cases), "too_deep": len(cases)}
    assert {(dict(r.headers)[SOURCE_TOPIC_HEADER].decode(), dict(r.headers)[REASON_HEADER].decode()) for r in dead} == {
        (running.topic(t), reason) for _, t, _ in cases for reason in ("too_large", "too_deep")}
    assert all(r.value in (huge, deep) for r in dead)  # kept as sent, for ops
    for service in ("members", "procurement"):
        moved = await counters(running.services[service], "alliance_dead_letters_total", "reason") - before[service]
        per_case = sum(1 for owner, _, _ in cases if owner == service)
        assert moved == {"too_large": per_case, "too_deep": per_case}


async def admin_routes(service: ServiceProcess) -> list[tuple[str, str]]:
    """(method, path) of every admin route, from the service's own OpenAPI document, with
    path parameters filled in."""
    async with httpx.AsyncClient() as client:
        document = (await client.get(f"{service.url}/openapi.json")).json()
    routes = []
    for path, operations in document["paths"].items():
        if path.startswith("/admin"):
            concrete = "/".join("x" if part.startswith("{") else part for part in path.split("/"))
            routes += [(method.upper(), concrete) for method in operations]
    return routes


async def test_every_admin_route_of_every_service_refuses_a_missing_or_wrong_token(running):
    refused = 0
    for name in SERVICES:
        service = running.services[name]
        routes = await admin_routes(service)
        assert len(routes) >= 3, f"{name} documents {routes}"
        async with httpx.AsyncClient(base_url=service.url) as client:
            for method, path in routes:
                anonymous = await client.request(method, path, json={})
                assert (anonymous.status_code, anonymous.json()["detail"]) == (401, "bearer token required"), (name, method, path)
                assert anonymous.headers["www-authenticate"] == "Bearer"
                basic = await client.request(method, path, json={}, headers={"Authorization": f"Basic {ADMIN_TOKEN}"})
                assert basic.status_code == 401, (name, method, path)
                wrong = await client.request(method, path, json={}, headers={"Authorization": "Bearer not-the-token"})
                assert (wrong.status_code, wrong.json()["detail"]) == (401, "invalid token"), (name, method, path)
                refused += 3
    assert refused >= 3 * 20


READ_ROUTES = {"members": "/admin/members", "procurement": "/admin/suppliers", "notifications": "/admin/members"}
WRITE_ROUTES = {
    "members": ("POST", "/admin/members"),
    "procurement": ("PUT", "/admin/suppliers/s-new"),
    "notifications": ("PUT", "/admin/members/m-huber/preferences"),
}


async def test_refused_http_calls_are_counted_by_reason(running):
    """Like every refused record, a refused call is counted, so ops see an attack on a dashboard
    (`alliance_http_refused_total{reason}`)."""
    for name in SERVICES:
        service = running.services[name]
        before = await counters(service, "alliance_http_refused_total", "reason")
        async with httpx.AsyncClient(base_url=service.url) as client:
            await client.get(READ_ROUTES[name])
            await client.get(READ_ROUTES[name], headers={"Authorization": "Bearer not-the-token"})
        async with service.admin() as admin:
            method, path = WRITE_ROUTES[name]
            await admin.request(method, path.removeprefix("/admin"), content=b"x" * (MIB + 1))
        moved = await counters(service, "alliance_http_refused_total", "reason") - before
        assert moved == {"missing_token": 1, "invalid_token": 1, "too_large": 1}, name


async def test_http_bodies_over_1_mib_are_refused_even_with_the_token(running):
    body = json.dumps({"name": "x" * (MIB + 1)}).encode()
    for name, (method, path) in WRITE_ROUTES.items():
        async with running.services[name].admin() as admin:
            response = await admin.request(method, path.removeprefix("/admin"), content=body,
                                           headers={"content-type": "application/json"})
            assert response.status_code == 413, (name, response.status_code)


async def test_http_bodies_over_1_mib_are_refused_when_sent_in_chunks(running):
    """The limit may not hinge on a Content-Length the sender chose not to send."""
    body = json.dumps({"name": "x" * (MIB + 1)}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    for name, (method, path) in WRITE_ROUTES.items():
        async with running.services[name].admin() as admin:
            response = await admin.request(method, path.removeprefix("/admin"), content=chunks(),
                                           headers={"content-type": "application/json"})
            assert response.status_code == 413, (name, response.status_code, response.text[:200])


async def test_deeply_nested_http_bodies_are_refused_with_a_reason(running):
    deep = b"[" * 100_000 + b"]" * 100_000
    for name, (method, path) in WRITE_ROUTES.items():
        async with running.services[name].admin() as admin:
            response = await admin.request(method, path.removeprefix("/admin"), content=deep,
                                           headers={"content-type": "application/json"})
            assert 400 <= response.status_code < 500, (name, response.status_code, response.text[:200])
            assert response.json()["detail"], name
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{running.services[name].url}/health")).status_code == 200
