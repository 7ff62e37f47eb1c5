"""Risk alerts in procurement, as a real process on the real broker and database: an ops alert
through the admin API and CLI cancels and re-sources what it covers and steers the next cycle,
resolution restores eligibility; suppliers' signed alerts are authenticated (forgeries and
strangers quarantined, members' records left to the members service)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared import topics
from shared.events.members import MEMBER_REGISTERED, MemberProfile
from shared.messaging.unit_of_work import REASON_HEADER
from shared.signing import SIGNATURE_HEADER, verify
from tests.support.erp import cloud_event, signed
from tests.support.events import encode, new_event
from tests.support.kafka import events_until, wait_for_records
from tests.support.procurement import (
    admitted,
    close,
    exposures,
    metrics_show,
    notices_of_type,
    response_record,
    send,
    supplier_events,
    wait_for_open,
    wait_until,
)
from tests.support.seeds import item, member, supplier, write_seed
from tests.support.services import ADMIN_TOKEN, ServiceProcess, platform

pytestmark = pytest.mark.integration


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    return write_seed(
        tmp_path / "seed.yaml",
        [member("m-huber"), member("m-maier")],
        [
            supplier("s-holz", [item("BOARD-18MM", [(1, "10.00"), (100, "9.00")])]),
            supplier("s-wald", [item("BOARD-18MM", [(1, "12.00"), (100, "11.00")])], lead_time_days=5),
        ],
    )


def alert_cli(running, procurement: ServiceProcess) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {**running.env(), "ALLIANCE_PROCUREMENT_PORT": procurement.url.rsplit(":", 1)[1],
           "ALLIANCE_ADMIN_TOKEN": ADMIN_TOKEN}
    code = ("from shared.cli import app; from shared.cli.risk import alert_app;"
            "app.add_typer(alert_app, name='alert'); app()")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, "alert", *args], env=env, capture_output=True, text=True,
                              timeout=60)

    return cli


async def test_a_critical_ops_alert_cancels_and_resources_steers_the_next_cycle_and_resolution_restores(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        procurement = await running.start("procurement", seed)
        holz, wald = running.topic(topics.supplier_orders("s-holz")), running.topic(topics.supplier_orders("s-wald"))

        # Cycle 1: huber's order goes to s-holz, which confirms it. Cycle 2: maier's, not confirmed yet.
        await send(running, topics.ADMITTED_REQUESTS, [admitted("m-huber", "r-1", 60)])
        await wait_for_open(procurement, 1)
        await close(procurement)
        [confirmed_order] = await supplier_events(kafka_bootstrap, holz, "joint_order.placed", 1)
        confirmed_id = confirmed_order["data"]["order_id"]
        await send(running, topics.SUPPLIER_RESPONSES, [response_record(
            "s-holz", "s-holz-secret", "joint_order.confirmed", {"order_id": confirmed_id, "supplier_id": "s-holz"})])
        await notices_of_type(running, "purchase_request.confirmed", 1)
        await send(running, topics.ADMITTED_REQUESTS, [admitted("m-maier", "r-1", 50)])
        await wait_for_open(procurement, 1)
        await close(procurement)
        placed = await supplier_events(kafka_bootstrap, holz, "joint_order.placed", 2)
        unconfirmed_id = placed[1]["data"]["order_id"]

        cli = alert_cli(running, procurement)
        raised = cli("raise", "--supplier", "s-holz", "--kind", "insolvency", "--severity", "critical",
                     "--summary", "Holz AG filed for insolvency", "--id", "ops-holz-1")
        assert raised.returncode == 0, raised.stderr
        assert "2 member(s) exposed" in raised.stdout

        # The unconfirmed order is cancelled (signed like orders) and re-sourced to s-wald at once.
        [cancelled] = await supplier_events(kafka_bootstrap, holz, "joint_order.cancelled", 1)
        assert cancelled["data"]["order_id"] == unconfirmed_id and cancelled["data"]["supplier_id"] == "s-holz"
        assert verify(cancelled["_headers"][SIGNATURE_HEADER], cancelled["_raw"], ["s-holz-secret"]) is None
        [resourced] = await supplier_events(kafka_bootstrap, wald, "joint_order.placed", 1)
        [line] = resourced["data"]["lines"]
        assert [(d["member_id"], d["quantity"]) for d in line["deliveries"]] == [("m-maier", 50)]
        [(member_id, told)] = await notices_of_type(running, "purchase_request.resourced", 1)
        assert (member_id, told["from_supplier_id"], told["to_supplier_id"], told["reason"]) == (
            "m-maier", "s-holz", "s-wald", "risk_alert")

        # Both exposed members are listed with their own requests; the confirmed order is flagged.
        events = await events_until(kafka_bootstrap, running.topic(topics.PROCUREMENT_EVENTS),
                                    lambda found: bool(exposures(found)))
        [exposure] = exposures(events)
        assert exposure["data"]["status"] == "raised" and exposure["data"]["supplier_id"] == "s-holz"
        assert exposure["data"]["categories"] == ["wood"]
        assert exposure["data"]["exposed"] == [
            {"member_id": "m-huber", "affected_request_ids": ["r-1"]},
            {"member_id": "m-maier", "affected_request_ids": ["r-1"]},
        ]
        async with procurement.admin() as admin:
            flagged = (await admin.get("/orders", params={"risk_flagged": "true"})).json()
            assert [o["order_id"] for o in flagged] == [confirmed_id]
            order = (await admin.get(f"/orders/{unconfirmed_id}")).json()
            assert order["status"] == "cancelled" and order["cancellation_reason"].startswith("critical risk alert")
        await metrics_show(
            procurement,
            'alliance_risk_alerts_total{kind="insolvency",severity="critical",source="ops"} 1.0',
            'alliance_orders_total{status="cancelled"} 1.0',
            "alliance_resourced_quantity_total 50.0",
            'alliance_active_alerts{severity="critical"} 1.0',
            "alliance_excluded_suppliers 1.0",
            'alliance_orders_total{status="risk_flagged"} 1.0',
        )

        # The next cycle's demand goes to the other supplier.
        await send(running, topics.ADMITTED_REQUESTS, [admitted("m-huber", "r-2", 30)])
        await wait_for_open(procurement, 1)
        await close(procurement)
        placed_at_wald = await supplier_events(kafka_bootstrap, wald, "joint_order.placed", 2)
        assert placed_at_wald[1]["data"]["lines"][0]["deliveries"][0]["member_id"] == "m-huber"

        listed = cli("list")
        assert listed.returncode == 0 and "ops-holz-1" in listed.stdout and "effective" in listed.stdout
        resolved = cli("resolve", "ops-holz-1")
        assert resolved.returncode == 0 and "resolved" in resolved.stdout, resolved.stderr

        # Resolution restores eligibility, and the members told of the alert are told it is over.
        await send(running, topics.ADMITTED_REQUESTS, [admitted("m-huber", "r-3", 30)])
        await wait_for_open(procurement, 1)
        await close(procurement)
        placed_at_holz = await supplier_events(kafka_bootstrap, holz, "joint_order.placed", 3)
        assert placed_at_holz[2]["data"]["lines"][0]["deliveries"][0]["member_id"] == "m-huber"
        events = await events_until(kafka_bootstrap, running.topic(topics.PROCUREMENT_EVENTS),
                                    lambda found: len(exposures(found)) >= 2)
        ended = exposures(events)[1]
        assert ended["data"]["status"] == "resolved" and ended["data"]["alert_id"] == exposure["data"]["alert_id"]
        assert ended["data"]["exposed"] == exposure["data"]["exposed"]
        history = json.loads(cli("list", "--history").stdout)[0]["history"]
        assert [h["change"] for h in history] == ["raised", "effective", "resolved"]
        await metrics_show(
            procurement, 'alliance_active_alerts{severity="critical"} 0.0', "alliance_excluded_suppliers 0.0")

        async with procurement.admin() as admin:
            unknown_supplier = await admin.post("/alerts", json={
                "supplier_id": "s-typo", "kind": "delay", "severity": "high", "summary": "late"})
            assert unknown_supplier.status_code == 422
            no_scope = await admin.post("/alerts", json={"kind": "delay", "severity": "high", "summary": "late"})
            assert no_scope.status_code == 422
            reused = await admin.post("/alerts", json={
                "alert_id": "ops-holz-1", "supplier_id": "s-holz", "kind": "delay", "severity": "low", "summary": "x"})
            assert reused.status_code == 409
            assert (await admin.post("/alerts/ops-nothing/resolve")).status_code == 404
            assert "secret" not in (await admin.get("/alerts")).text


async def test_suppliers_alerts_are_authenticated_and_act_only_about_themselves_strangers_are_quarantined(
    kafka_bootstrap, postgres_server_url, tmp_path, seed
):
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        procurement = await running.start("procurement", seed)
        profile = MemberProfile(member_id="m-huber", name="Huber", status="active", region="DE")
        await send(running, topics.MEMBER_EVENTS,
                   [("m-huber", encode(new_event(MEMBER_REGISTERED, "alliance/members", profile)))])

        def alert_record(reporter: str, secret: str, data: dict[str, Any], event_type: str = "risk_alert.raised"):
            value = cloud_event(event_type, f"supplier/{reporter}", data)
            return reporter, value, signed(secret, value)

        about_holz = {"alert_id": "h-1", "supplier_id": "s-holz", "kind": "shortage", "severity": "critical",
                      "summary": "sawmill fire"}
        forged = cloud_event("risk_alert.raised", "supplier/s-holz", about_holz)
        await send(running, topics.RISK_ALERTS, [
            ("s-holz", forged, signed("not-the-secret", forged)),  # bad_signature
            alert_record("x-nobody", "whatever", about_holz),  # neither supplier nor member: unknown_reporter
            alert_record("s-wald", "s-wald-secret", {**about_holz, "severity": "urgent"}),  # invalid_payload
        ])
        quarantined = await wait_for_records(kafka_bootstrap, running.topic(topics.QUARANTINE), 2)
        assert sorted(dict(r.headers)[REASON_HEADER].decode() for r in quarantined) == [
            "bad_signature", "unknown_reporter"]
        [dead] = await wait_for_records(kafka_bootstrap, running.topic(topics.DEAD_LETTERS), 1)
        assert dict(dead.headers)[REASON_HEADER] == b"invalid_payload"

        # s-wald warns about s-holz: told, not acted on. s-holz about its own SKU: acts at once,
        # on s-holz's offers only. A member's record on risk.alerts is the members service's.
        await send(running, topics.RISK_ALERTS, [
            alert_record("s-wald", "s-wald-secret", {**about_holz, "alert_id": "w-1"}),
            alert_record("s-holz", "s-holz-secret", {"alert_id": "h-2", "sku": "BOARD-18MM", "kind": "delay",
                                                     "severity": "critical", "summary": "kiln broken"}),
            alert_record("m-huber", "huber-erp-secret", {**about_holz, "alert_id": "m-1"}),
        ])
        risk_alerts = running.topic(topics.RISK_ALERTS)
        skipped = f'alliance_events_consumed_total{{outcome="skipped",topic="{risk_alerts}"}} 1.0'
        await metrics_show(procurement, skipped)

        async def registered() -> bool:
            async with procurement.admin() as admin:
                return len((await admin.get("/alerts")).json()) == 2

        await wait_until(registered, timeout=20, what="two supplier alerts")
        async with procurement.admin() as admin:
            alerts = {a["reporter"]: a for a in (await admin.get("/alerts")).json()}
        assert (alerts["s-wald"]["trusted"], alerts["s-wald"]["effective"]) == (False, False)
        assert (alerts["s-holz"]["trusted"], alerts["s-holz"]["effective"]) == (True, True)
        assert len(await wait_for_records(kafka_bootstrap, running.topic(topics.QUARANTINE), 2)) == 2

        await send(running, topics.ADMITTED_REQUESTS, [admitted("m-huber", "r-1", 10)])
        await wait_for_open(procurement, 1)
        await close(procurement)
        [order] = await supplier_events(kafka_bootstrap, running.topic(topics.supplier_orders("s-wald")),
                                        "joint_order.placed", 1)
        assert order["data"]["lines"][0]["quantity"] == 10

        await send(running, topics.RISK_ALERTS, [
            alert_record("s-holz", "s-holz-secret", {"alert_id": "h-2"}, "risk_alert.resolved")])

        async def ended() -> bool:
            async with procurement.admin() as admin:
                return (await admin.get("/alerts", params={"state": "resolved"})).json() != []

        await wait_until(ended, timeout=20, what="the supplier's resolution")


async def test_a_high_alert_makes_a_supplier_a_last_resort_until_it_expires(
    kafka_bootstrap, postgres_server_url, tmp_path
):
    seed = write_seed(
        tmp_path / "seed.yaml",
        [member("m-huber"), member("m-maier", region="AT")],
        [
            supplier("s-holz", [item("BOARD-18MM", [(1, "10.00")])], regions=("DE", "AT")),
            supplier("s-wald", [item("BOARD-18MM", [(1, "12.00")])], regions=("DE",)),
        ],
    )
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz", "s-wald")) as running:
        procurement = await running.start("procurement", seed)
        holz, wald = running.topic(topics.supplier_orders("s-holz")), running.topic(topics.supplier_orders("s-wald"))
        await send(running, topics.ADMITTED_REQUESTS, [admitted("m-huber", "r-de", 10),
                                                         admitted("m-maier", "r-at", 10, country="AT")])
        await wait_for_open(procurement, 2)
        valid_until = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
        async with procurement.admin() as admin:
            response = await admin.post("/alerts", json={
                "supplier_id": "s-holz", "kind": "delay", "severity": "high", "summary": "strike",
                "valid_until": valid_until})
        assert response.status_code == 201, response.text
        assert (response.json()["effective"], response.json()["exposed_members"]) == (True, 2)

        await close(procurement)  # only s-holz ships to AT: the last resort serves it, DE goes to s-wald
        [at_wald] = await supplier_events(kafka_bootstrap, wald, "joint_order.placed", 1)
        assert at_wald["data"]["lines"][0]["deliveries"][0]["member_id"] == "m-huber"
        [at_holz] = await supplier_events(kafka_bootstrap, holz, "joint_order.placed", 1)
        assert at_holz["data"]["lines"][0]["deliveries"][0]["member_id"] == "m-maier"

        async def expired() -> bool:
            async with procurement.admin() as admin:
                return (await admin.get("/alerts", params={"state": "expired"})).json() != []

        await wait_until(expired, timeout=20, what="the alert's expiry")
        events = await events_until(kafka_bootstrap, running.topic(topics.PROCUREMENT_EVENTS),
                                    lambda found: len(exposures(found)) >= 2)
        assert [e["data"]["status"] for e in exposures(events)] == ["raised", "resolved"]
        await send(running, topics.ADMITTED_REQUESTS, [admitted("m-huber", "r-de-2", 10)])
        await wait_for_open(procurement, 1)
        await close(procurement)
        placed = await supplier_events(kafka_bootstrap, holz, "joint_order.placed", 2)
        assert placed[1]["data"]["lines"][0]["deliveries"][0]["member_id"] == "m-huber"
