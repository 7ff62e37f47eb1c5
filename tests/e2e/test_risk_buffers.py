"""A shared risk buffer end to end, over the external contract: member ERPs' requests become its
demand history, it fills through the cycles' bundled orders and the warehouse's receipt (booked
with `alliance buffers receive`), two members' reports make a critical alert on the only
supplier act, and then the subscribers' requests are served from the buffer (short stock split
by cost share) while the non-subscriber's is unfulfillable; each subscriber's statement reaches
it by webhook and e-mail with its own figures only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
import yaml

from services.procurement.domain.buffers import split_short_stock
from shared import topics
from tests.support.erp import cloud_event, signed
from tests.support.kafka import kafka_producer, wait_for_records
from tests.support.notifications import FAST
from tests.support.procurement import close, metrics_show, response_record, send, wait_for_open, wait_until
from tests.support.receivers import SmtpSink, eventually
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import ADMIN_TOKEN, Platform, platform
from tools.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

SKU = "BOARD-18MM"
SUBSCRIBERS = ("m-huber", "m-maier")
OUTSIDER = "m-berg"
REPORTERS = ("m-berg", "m-vogel")
MEMBERS = (*SUBSCRIBERS, OUTSIDER, "m-vogel")
SOON = (date.today() + timedelta(days=3)).isoformat()
"""The supplier's lead time: placed at once while it can serve, unable to wait once it cannot."""
HISTORY = [{"m-huber": 10, "m-maier": 20, "m-berg": 7}, {"m-huber": 14, "m-maier": 20}, {"m-huber": 6, "m-maier": 26}]


def webhook_secret(member_id: str) -> str:
    return f"{member_id}-webhook-secret"


def erp_secret(member_id: str) -> str:
    return MEMBER_SECRETS.get(member_id, f"{member_id}-erp-secret")


async def submit(running: Platform, member_id: str, request_id: str, quantity: int) -> None:
    value = cloud_event("purchase_request.submitted", f"erp/{member_id}", {
        "request_id": request_id, "member_id": member_id, "sku": SKU, "quantity": quantity, "needed_by": SOON})
    async with kafka_producer(running.kafka_bootstrap) as producer:
        await producer.send_and_wait(running.topic(topics.PURCHASE_REQUESTS), value, key=member_id.encode(),
                                     headers=signed(erp_secret(member_id), value))


async def report_insolvency(running: Platform, reporter: str) -> None:
    value = cloud_event("risk_alert.raised", f"erp/{reporter}", {
        "alert_id": f"ins-{reporter}", "supplier_id": "s-holz", "kind": "insolvency", "severity": "critical",
        "summary": "Holz AG filed for insolvency"})
    async with kafka_producer(running.kafka_bootstrap) as producer:
        await producer.send_and_wait(running.topic(topics.RISK_ALERTS), value, key=reporter.encode(),
                                     headers=signed(erp_secret(reporter), value))


def alliance_cli(running: Platform, procurement_url: str, *args: str) -> str:
    """`alliance ...` as the operator runs it on the platform's machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLIANCE_")}
    env.update(ALLIANCE_ADMIN_TOKEN=ADMIN_TOKEN, ALLIANCE_HTTP_HOST="127.0.0.1",
               ALLIANCE_PROCUREMENT_PORT=procurement_url.rsplit(":", 1)[1])
    result = subprocess.run([sys.executable, "-c", "from shared.cli import main; main()", *args],
                            check=False, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def webhooks(receiver: WebhookReceiver, member_id: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.at(f"/{member_id}") if r.answered == 204]


def of_type(events: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == event_type]


def mails(sink: SmtpSink, member_id: str) -> list[EmailMessage]:
    return sink.to(f"einkauf@{member_id}.example")


async def test_subscribers_are_served_from_the_buffer_when_the_only_supplier_fails(
    kafka_bootstrap, postgres_server_url, tmp_path
):
    receiver = WebhookReceiver()
    await receiver.start()
    sink = SmtpSink()
    sink.start()
    seed = write_seed(
        tmp_path / "seed.yaml",
        [member(m, webhook={"url": receiver.url(f"/{m}"), "secret": webhook_secret(m)}) for m in MEMBERS],
        [supplier("s-holz", [item(SKU, [(1, "10.00"), (50, "9.00")])], lead_time_days=3)],
        interval=86_400,
    )
    entries = yaml.safe_load(seed.read_text())
    entries["risk_buffers"] = [{
        "sku": SKU, "warehouse": {"site": "Zentrallager Nord", "postal_code": "30159", "country": "DE"},
        "service_level": 0.95, "holding_cost_per_unit_and_cycle": "0.04", "history_cycles": 4,
        "statement_every_cycles": 2, "members": list(SUBSCRIBERS),
    }]
    seed.write_text(yaml.safe_dump(entries))
    try:
        async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz",)) as running:
            await running.start("members", seed)
            procurement = await running.start("procurement", seed)
            await running.start("notifications", seed, ALLIANCE_SMTP_HOST="127.0.0.1",
                                ALLIANCE_SMTP_PORT=str(sink.port), ALLIANCE_SMTP_SECURITY="none", **FAST)
            member_events = running.topic(topics.MEMBER_EVENTS)
            await metrics_show(procurement, f'alliance_events_consumed_total{{outcome="processed",'
                                            f'topic="{member_events}"}} {len(MEMBERS):.1f}')

            # History: three cycles of requests through the members service, each bundled with the
            # buffer's replenishment once it has a target, every order confirmed by the supplier.
            for number, quantities in enumerate(HISTORY, start=1):
                for member_id, quantity in quantities.items():
                    await submit(running, member_id, f"h{number}", quantity)
                await wait_for_open(procurement, len(quantities))
                assert (await close(procurement))["unfulfillable"] == 0
            placed = await wait_for_records(kafka_bootstrap, running.topic(topics.supplier_orders("s-holz")), 3)
            orders = [json.loads(r.value)["data"] for r in placed]
            ours = [d for o in orders for line in o["lines"] for d in line["deliveries"] if d["member_id"] == "alliance"]
            assert ours and {d["ship_to"]["site"] for d in ours} == {"Zentrallager Nord"}
            await send(running, topics.SUPPLIER_RESPONSES, [
                response_record("s-holz", "s-holz-secret", "joint_order.confirmed",
                                {"order_id": o["order_id"], "supplier_id": "s-holz"}) for o in orders])

            # The warehouse books the replenishment as the operator would.
            on_order = sum(d["quantity"] for d in ours)
            booked = alliance_cli(running, procurement.url, "buffers", "receive", SKU, str(on_order))
            assert booked.startswith(f"{SKU}: {on_order} on hand")
            listed = alliance_cli(running, procurement.url, "buffers", "list")
            assert f"on hand {on_order}" in listed and "m-huber,m-maier" in listed
            unit_cost = json.loads(alliance_cli(running, procurement.url, "buffers", "show", SKU))["unit_cost"]

            # Two members report the only supplier insolvent: the alert acts once corroborated.
            for reporter in REPORTERS:
                await report_insolvency(running, reporter)

            async def excluded() -> bool:
                async with procurement.admin() as admin:
                    alerts = (await admin.get("/alerts")).json()
                return any(a["effective"] for a in alerts)

            await wait_until(excluded, what="the corroborated alert to act")
            await submit(running, "m-huber", "x1", on_order)
            await submit(running, "m-maier", "x1", on_order)
            await submit(running, OUTSIDER, "x1", 5)
            await wait_for_open(procurement, 3)
            await close(procurement)
            async with procurement.admin() as admin:
                buffer = (await admin.get(f"/buffers/{SKU}")).json()
            assert buffer["on_hand"] == 0
            shares = {m["member_id"]: Decimal(m["cost_share"]) for m in buffer["sizing"]["members"]}
            expected = split_short_stock(dict.fromkeys(SUBSCRIBERS, on_order), shares, on_order)
            assert sum(expected.values()) == on_order and all(expected.values())

            def settled() -> bool:
                return all(of_type(webhooks(receiver, m), "purchase_request.served_from_buffer") for m in SUBSCRIBERS) \
                    and bool(of_type(webhooks(receiver, OUTSIDER), "purchase_request.unfulfillable")) \
                    and all(len(of_type(webhooks(receiver, m), "risk_buffer.statement")) == 2 for m in SUBSCRIBERS)

            await eventually(settled, timeout=60, what="the draws, the outsider's answer and the statements")
            for member_id in SUBSCRIBERS:
                told = webhooks(receiver, member_id)
                [served] = of_type(told, "purchase_request.served_from_buffer")
                assert served == {"request_id": "x1", "quantity": expected[member_id], "unit_price": unit_cost,
                                  "warehouse": "Zentrallager Nord"}
                [rest] = [d for d in of_type(told, "purchase_request.unfulfillable") if d["request_id"] == "x1"]
                assert rest["quantity"] == on_order - expected[member_id]
                statements = of_type(told, "risk_buffer.statement")
                assert [s["period"] for s in statements] == ["cycle-1/cycle-2", "cycle-3/cycle-4"]
                assert statements[1]["drawn"] == expected[member_id]
                for statement in statements:
                    assert Decimal(statement["savings"]) == (
                        Decimal(statement["standalone_cost"]) - Decimal(statement["cost_share"]))
                others = [m for m in MEMBERS if m != member_id]
                for body in (json.dumps(told), *(m.get_content() for m in mails(sink, member_id))):
                    assert not [other for other in others if other in body]
            [outsider] = [d for d in of_type(webhooks(receiver, OUTSIDER), "purchase_request.unfulfillable")
                          if d["request_id"] == "x1"]
            assert "quantity" not in outsider  # nothing of it was served
            assert not of_type(webhooks(receiver, OUTSIDER), "purchase_request.served_from_buffer")
            assert not of_type(webhooks(receiver, OUTSIDER), "risk_buffer.statement")

            async def mailed() -> bool:
                return all(sum(SKU in m["subject"] or SKU in m.get_content() for m in mails(sink, s)) >= 2
                           for s in SUBSCRIBERS)

            await wait_until(mailed, timeout=30, what="the statements by e-mail")
            shown = alliance_cli(running, procurement.url, "buffers", "statement", SKU, "m-huber")
            assert json.loads(shown) == of_type(webhooks(receiver, "m-huber"), "risk_buffer.statement")[1]
    finally:
        sink.stop()
        await receiver.stop()
