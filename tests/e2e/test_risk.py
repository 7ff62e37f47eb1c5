"""Members warn each other, end to end over the external contract: member ERPs publish signed
risk alerts, the members service authenticates and forwards them, procurement tells the
exposed members (without naming the reporter), acts only once a second member corroborates,
and steers around the supplier until an alert is resolved."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from shared import topics
from shared.messaging.unit_of_work import REASON_HEADER
from tests.support.erp import cloud_event, signed
from tests.support.kafka import events_until, kafka_producer, wait_for_records
from tests.support.procurement import (
    close,
    exposures,
    metrics_show,
    notices_of_type,
    of_type,
    supplier_events,
    wait_for_open,
    wait_until,
)
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import Platform, platform

pytestmark = pytest.mark.e2e

NEEDED_BY = (date.today() + timedelta(days=30)).isoformat()
REPORTERS = ("m-maier", "m-berg")
BYSTANDER = "m-idle"
ABOUT_HOLZ = {"supplier_id": "s-holz", "kind": "insolvency", "summary": "Holz AG stopped paying its sawmill"}


async def publish(running: Platform, topic: str, member_id: str, event_type: str, data: dict[str, Any],
                  secret: str | None = None) -> None:
    value = cloud_event(event_type, f"erp/{member_id}", data)
    secret = secret or MEMBER_SECRETS.get(member_id, f"{member_id}-erp-secret")
    async with kafka_producer(running.kafka_bootstrap) as producer:
        await producer.send_and_wait(running.topic(topic), value, key=member_id.encode(), headers=signed(secret, value))


async def members_learned(running: Platform, count: int) -> None:
    """Procurement tells members' records on risk.alerts from strangers' by the member ids it
    learned from the registry's events: wait until it has them."""
    member_events = running.topic(topics.MEMBER_EVENTS)
    await metrics_show(running.services["procurement"],
                       f'alliance_events_consumed_total{{outcome="processed",topic="{member_events}"}} {count:.1f}')


async def request(running: Platform, request_id: str, quantity: int) -> None:
    await publish(running, topics.PURCHASE_REQUESTS, "m-huber", "purchase_request.submitted", {
        "request_id": request_id, "member_id": "m-huber", "sku": "BOARD-18MM", "quantity": quantity,
        "needed_by": NEEDED_BY})


async def test_one_members_alert_warns_the_exposed_a_second_corroborates_it_and_resolution_restores(
    kafka_bootstrap, postgres_server_url, tmp_path
):
    seed = write_seed(
        tmp_path / "seed.yaml",
        [member("m-huber"), member("m-maier"), member("m-berg"), member(BYSTANDER)],
        [
            supplier("s-holz", [item("BOARD-18MM", [(1, "10.00"), (100, "9.00")])]),
            supplier("s-wald", [item("BOARD-18MM", [(1, "12.00"), (100, "11.00")])], lead_time_days=5),
        ],
    )
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        await running.start("members", seed)
        procurement = await running.start("procurement", seed)
        holz, wald = running.topic(topics.supplier_orders("s-holz")), running.topic(topics.supplier_orders("s-wald"))
        procurement_events = running.topic(topics.PROCUREMENT_EVENTS)
        await members_learned(running, 4)
        await request(running, "r-1", 60)
        await wait_for_open(procurement, 1)

        # One member's alert: the exposed member is warned, nothing is excluded.
        await publish(running, topics.RISK_ALERTS, "m-maier", "risk_alert.raised",
                      {"alert_id": "a-1", "severity": "critical", **ABOUT_HOLZ})
        events = await events_until(kafka_bootstrap, procurement_events, lambda found: len(exposures(found)) >= 1)
        [first] = exposures(events)
        assert first["data"]["status"] == "raised" and first["data"]["severity"] == "critical"
        assert first["data"]["exposed"] == [{"member_id": "m-huber", "affected_request_ids": ["r-1"]}]
        await close(procurement)
        [order] = await supplier_events(kafka_bootstrap, holz, "joint_order.placed", 1)
        assert order["data"]["lines"][0]["quantity"] == 60

        # A second member corroborates: the unconfirmed order is cancelled and re-sourced, and
        # the next cycle avoids the supplier.
        await publish(running, topics.RISK_ALERTS, "m-berg", "risk_alert.raised",
                      {"alert_id": "b-7", "severity": "high", **ABOUT_HOLZ})
        [cancelled] = await supplier_events(kafka_bootstrap, holz, "joint_order.cancelled", 1)
        assert cancelled["data"]["order_id"] == order["data"]["order_id"]
        [resourced] = await supplier_events(kafka_bootstrap, wald, "joint_order.placed", 1)
        assert resourced["data"]["lines"][0]["deliveries"][0]["member_id"] == "m-huber"
        resourced_notices = await notices_of_type(running, "purchase_request.resourced", 1)
        assert [(m, d["request_id"], d["reason"]) for m, d in resourced_notices] == [("m-huber", "r-1", "risk_alert")]
        await request(running, "r-2", 30)
        await wait_for_open(procurement, 1)
        await close(procurement)
        placed_at_wald = await supplier_events(kafka_bootstrap, wald, "joint_order.placed", 2)
        assert placed_at_wald[1]["data"]["lines"][0]["quantity"] == 30

        # The first reporter resolves its alert: one member is left, so the supplier is eligible again.
        await publish(running, topics.RISK_ALERTS, "m-maier", "risk_alert.resolved", {"alert_id": "a-1"})
        events = await events_until(kafka_bootstrap, procurement_events, lambda found: len(exposures(found)) >= 3)
        second = exposures(events)[1]  # the corroborating report warns the same exposed member
        assert (second["data"]["status"], second["data"]["exposed"]) == ("raised", first["data"]["exposed"])
        ended = [e for e in exposures(events) if e["data"]["status"] == "resolved"]
        assert [e["data"]["alert_id"] for e in ended] == [first["data"]["alert_id"]]
        assert ended[0]["data"]["exposed"] == first["data"]["exposed"]
        await request(running, "r-3", 20)
        await wait_for_open(procurement, 1)
        await close(procurement)
        placed_at_holz = await supplier_events(kafka_bootstrap, holz, "joint_order.placed", 2)
        assert placed_at_holz[1]["data"]["lines"][0]["quantity"] == 20

        # No exposure names a reporter, or a member with nothing inside the scope.
        for exposure in exposures(events):
            raw = exposure["_raw"].decode()
            for nobody in (*REPORTERS, BYSTANDER):
                assert nobody not in raw, f"{nobody} named in {exposure['data']}"
            assert exposure["data"]["alert_id"].startswith("ra-")
        assert len({e["data"]["alert_id"] for e in exposures(events)}) == 2  # one key per reported alert


async def test_members_alerts_are_authenticated_like_requests(kafka_bootstrap, postgres_server_url, tmp_path):
    seed = write_seed(
        tmp_path / "seed.yaml",
        [member("m-huber"), member("m-maier", status="suspended")],
        [supplier("s-holz", [item("BOARD-18MM", [(1, "10.00")])])],
    )
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz",)) as running:
        members = await running.start("members", seed)
        procurement = await running.start("procurement", seed)
        await members_learned(running, 2)
        raised = {"alert_id": "a-1", "severity": "high", **ABOUT_HOLZ}
        await publish(running, topics.RISK_ALERTS, "m-huber", "risk_alert.raised", raised, secret="not-huber")
        await publish(running, topics.RISK_ALERTS, "m-huber", "risk_alert.raised", {**raised, "supplier_id": None})
        await publish(running, topics.RISK_ALERTS, "m-maier", "risk_alert.raised", raised)
        await publish(running, topics.RISK_ALERTS, "x-stranger", "risk_alert.raised", raised, secret="whatever")

        quarantined = await wait_for_records(kafka_bootstrap, running.topic(topics.QUARANTINE), 2)
        assert sorted(dict(r.headers)[REASON_HEADER].decode() for r in quarantined) == [
            "bad_signature", "unknown_reporter"]
        dead = await wait_for_records(kafka_bootstrap, running.topic(topics.DEAD_LETTERS), 2)
        reasons = {dict(r.headers)[REASON_HEADER].decode(): dict(r.headers)["alliance-reason-detail"].decode()
                   for r in dead}
        assert set(reasons) == {"invalid_payload", "member_suspended"}
        assert "supplier_id, sku, region" in reasons["invalid_payload"]

        # A valid alert, sent twice with the same event id, is forwarded and registered once.
        value = cloud_event("risk_alert.raised", "erp/m-huber", {**raised, "alert_id": "a-2"}, event_id="evt-1")
        async with kafka_producer(kafka_bootstrap) as producer:
            for _ in range(2):
                await producer.send_and_wait(running.topic(topics.RISK_ALERTS), value, key=b"m-huber",
                                             headers=signed(MEMBER_SECRETS["m-huber"], value))

        async def registered() -> bool:
            async with procurement.admin() as admin:
                return len((await admin.get("/alerts")).json()) == 1

        await wait_until(registered, timeout=30, what="the member's alert registered")
        risk_alerts = running.topic(topics.RISK_ALERTS)
        await metrics_show(members, f'alliance_events_consumed_total{{outcome="duplicate",topic="{risk_alerts}"}} 1.0')
        reports = await wait_for_records(kafka_bootstrap, running.topic(topics.RISK_REPORTS), 1)
        assert [json.loads(r.value)["type"] for r in reports] == ["alliance.risk_alert.reported"]
        assert reports[0].key == b"m-huber"
        async with procurement.admin() as admin:
            [alert] = (await admin.get("/alerts")).json()
        assert (alert["source"], alert["reporter"], alert["trusted"], alert["effective"]) == (
            "member", "m-huber", False, False)
        events = await events_until(kafka_bootstrap, running.topic(topics.PROCUREMENT_EVENTS),
                                    lambda found: len(exposures(found)) >= 1)
        assert "m-huber" not in exposures(events)[0]["_raw"].decode()
        assert of_type(events, "alliance.joint_order.cancelled") == []
