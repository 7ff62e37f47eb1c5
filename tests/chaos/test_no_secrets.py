"""No secret in any log line, metric or API response.

The three services run with known secrets everywhere a secret can be configured (the members'
ERP and webhook secrets, the suppliers' secrets, the admin token, the SMTP password, a password
in the database URL) and at log level DEBUG, and are exercised the way operators and attackers use them: requests
accepted, forged and stale ones refused, a cycle closed and answered, webhooks failing then
delivered, e-mails sent, secrets rotated through the admin API, admin calls without the token,
with a wrong one, and with bodies the API rejects. Then everything the outside can capture is
searched for every secret: each service's log, its /metrics, /openapi.json, /health, the
response to every admin GET route its OpenAPI document lists, and the internal topic that
carries the members' profiles (their webhook secrets travel sealed).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import yaml

from chaos.broker import read_topic
from shared import topics
from shared.runtime.supervisor import alliance_executable
from shared.settings import SERVICES
from tests.support.erp import cloud_event, signed
from tests.support.kafka import kafka_producer
from tests.support.notifications import recorded_deliveries
from tests.support.receivers import SmtpSink, eventually
from tests.support.runs import isolated_environment, platform_up
from tests.support.services import ADMIN_TOKEN, SEALING_BOX, Platform, platform
from tools.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

ERP_SECRETS = {"m-huber": "erp-huber-4f1c9a7e", "m-maier": "erp-maier-b83d20c5"}
WEBHOOK_SECRETS = {"m-huber": "hook-huber-7a6e11d2", "m-maier": "hook-maier-0c9f3b48"}
SUPPLIER_SECRET = "supplier-holz-e52a9c03"
SMTP_USER, SMTP_PASSWORD = "alliance-mailer", "smtp-pass-91d4be27"
DATABASE_PASSWORD = "db-pass-3b7f0e66"
ROTATED = {"erp": "erp-huber-rotated-6d2b8f19", "webhook": "hook-maier-rotated-a40e7c35",
           "supplier": "supplier-holz-rotated-18c3d9fa", "refused": "erp-new-member-never-stored-5e0b"}
SECRETS = [*ERP_SECRETS.values(), *WEBHOOK_SECRETS.values(), SUPPLIER_SECRET, SMTP_PASSWORD, ADMIN_TOKEN,
           *ROTATED.values()]
NEEDED_BY = (date.today() + timedelta(days=30)).isoformat()
SUPPLIER = {
    "id": "s-holz", "name": "Holz AG", "secret": SUPPLIER_SECRET, "regions": ["DE"], "lead_time_days": 3,
    "catalog": [{"sku": "BOARD-18MM", "name": "Board", "category": "wood", "unit": "piece",
                 "capacity_per_cycle": 1000, "min_order_quantity": 1,
                 "tiers": [{"min_quantity": 1, "unit_price": "10.00"}]}],
}
RISK_BUFFER = {
    "sku": "BOARD-18MM", "warehouse": {"site": "Lager Nord", "postal_code": "20095", "country": "DE"},
    "service_level": 0.95, "holding_cost_per_unit_and_cycle": "0.10", "statement_every_cycles": 1,
    "members": ["m-huber"],
}


def with_password(server_url: str) -> tuple[str, str]:
    """The server's URL with a password, and that password: the server's own when its URL has
    one, else ours (a server reached without a password trusts the connection and ignores it)."""
    parts = urlsplit(server_url)
    if parts.password:
        return server_url, parts.password
    user = parts.username or "postgres"
    return urlunsplit(parts._replace(netloc=f"{user}:{DATABASE_PASSWORD}@{parts.hostname}:{parts.port}")), DATABASE_PASSWORD


def seed(path: Path, receiver: WebhookReceiver) -> Path:
    members = [
        {"id": member_id, "name": f"{member_id} GmbH", "erp_secret": ERP_SECRETS[member_id], "region": "DE",
         "email": f"einkauf@{member_id}.example",
         "webhook": {"url": receiver.url(f"/{member_id}"), "secret": WEBHOOK_SECRETS[member_id]}}
        for member_id in ERP_SECRETS
    ]
    path.write_text(yaml.safe_dump({"cycle": {"interval_seconds": 3600}, "members": members, "suppliers": [SUPPLIER],
                                    "risk_buffers": [RISK_BUFFER]}))
    return path


class Responses:
    """Every HTTP answer the services gave this test's clients, refusals included."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def watch(self, client: httpx.AsyncClient) -> httpx.AsyncClient:
        client.event_hooks["response"].append(self._keep)
        return client

    async def _keep(self, response: httpx.Response) -> None:
        await response.aread()
        self.texts.append((f"{response.request.method} {response.request.url}", response.text))


async def exercise(running: Platform, receiver: WebhookReceiver, mail: SmtpSink, seen: Responses) -> dict[str, str]:
    """Use the platform as its members, suppliers, operators and attackers would; return the
    ids the admin GET routes need."""
    receiver.behaviours["/m-huber"] = lambda attempt: 500 if attempt == 1 else 200  # a failed attempt, logged
    request = {"request_id": "r-1", "member_id": "m-huber", "sku": "BOARD-18MM", "quantity": 5, "needed_by": NEEDED_BY}
    async with kafka_producer(running.kafka_bootstrap) as producer:
        for secret, at in ((ERP_SECRETS["m-huber"], None), ("guessed", None), (ERP_SECRETS["m-huber"], time.time() - 400)):
            value = cloud_event("purchase_request.submitted", "erp", request)
            await producer.send_and_wait(running.topic(topics.PURCHASE_REQUESTS), value, key=b"m-huber",
                                         headers=signed(secret, value, at))
    await eventually(lambda: len(receiver.at("/m-huber")) >= 2, 60, "the accepted notice, after one failure")

    members, procurement, notifications = (running.services[s] for s in SERVICES)
    async with seen.watch(procurement.admin()) as admin:
        for _ in range(60):
            if sum(row["requests"] for row in (await admin.get("/demand")).json()):
                break
            await asyncio.sleep(0.5)
        assert (await admin.post("/cycles/close", timeout=120)).status_code == 200
        [order] = (await admin.get("/orders")).json()
        rotated_supplier = {**SUPPLIER, "secret": ROTATED["supplier"]}
        assert (await admin.put("/suppliers/s-holz", json=rotated_supplier)).status_code == 200
        refused = {key: value for key, value in SUPPLIER.items() if key != "name"}  # invalid: no name
        assert (await admin.put("/suppliers/s-holz", json=refused)).status_code == 422
        alert = await admin.post("/alerts", json={"alert_id": "ops-1", "sku": "BOARD-18MM", "kind": "delay",
                                                  "severity": "low", "summary": "late trucks"})
        assert alert.status_code == 201
    async with kafka_producer(running.kafka_bootstrap) as producer:
        answer = {"order_id": order["order_id"], "supplier_id": "s-holz"}
        for secret in ("guessed", ROTATED["supplier"]):
            value = cloud_event("joint_order.confirmed", "supplier", answer)
            await producer.send_and_wait(running.topic(topics.SUPPLIER_RESPONSES), value, key=b"s-holz",
                                         headers=signed(secret, value))
    async with seen.watch(members.admin()) as admin:
        assert (await admin.post("/members/m-huber/rotate-secret", json={"new_secret": ROTATED["erp"]})).status_code == 200
        assert (await admin.patch("/members/m-maier", json={"webhook_secret": ROTATED["webhook"]})).status_code == 200
        refused_member = {"member_id": "m-new", "erp_secret": ROTATED["refused"]}  # invalid: no name, no region
        assert (await admin.post("/members", json=refused_member)).status_code == 422
    for service in running.services.values():
        async with seen.watch(httpx.AsyncClient(base_url=service.url)) as client:
            await client.get("/admin/members")
            await client.get("/admin/members", headers={"Authorization": "Bearer not-the-token"})
    await eventually(lambda: len(mail.messages) >= 2, 60, "e-mails to the members")
    await recorded_deliveries(notifications, "m-huber", "delivered", timeout=60)
    async with seen.watch(notifications.admin()) as admin:
        notice_id = (await admin.get("/deliveries", params={"member_id": "m-huber"})).json()[0]["notice_id"]
    return {"member_id": "m-huber", "supplier_id": "s-holz", "order_id": order["order_id"],
            "notice_id": notice_id, "reference": "ops-1", "sku": "BOARD-18MM"}


async def read_everything(running: Platform, ids: dict[str, str], seen: Responses) -> int:
    """Every admin GET route (from each service's OpenAPI document), and the public ones;
    returns how many admin GET routes were read."""
    admin_gets = 0
    for service in running.services.values():
        async with seen.watch(httpx.AsyncClient(base_url=service.url)) as client:
            for path in ("/metrics", "/health", "/docs"):
                await client.get(path)
            document = (await client.get("/openapi.json")).json()
        async with seen.watch(service.admin()) as admin:
            for path, operations in document["paths"].items():
                if path.startswith("/admin") and "get" in operations:
                    response = await admin.get(path.removeprefix("/admin").format(**ids))
                    assert response.status_code == 200, (service.name, path, response.text[:300])
                    admin_gets += 1
    return admin_gets


async def test_no_configured_secret_shows_in_logs_metrics_or_api_responses(
    kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path
) -> None:
    receiver = WebhookReceiver()
    await receiver.start()
    mail = SmtpSink(credentials=(SMTP_USER, SMTP_PASSWORD))
    mail.start()
    settings = {"ALLIANCE_SMTP_HOST": "127.0.0.1", "ALLIANCE_SMTP_PORT": str(mail.port),
                "ALLIANCE_SMTP_SECURITY": "none", "ALLIANCE_SMTP_USERNAME": SMTP_USER,
                "ALLIANCE_SMTP_PASSWORD": SMTP_PASSWORD, "ALLIANCE_LOG_LEVEL": "DEBUG"}
    database_url, database_password = with_password(postgres_server_url)
    try:
        async with platform(kafka_bootstrap, postgres_server_url, tmp_path, ("s-holz",)) as running:
            running.server_url = database_url
            running.extra_env.update(settings)
            path = seed(tmp_path / "seed.yaml", receiver)
            for service in SERVICES:
                await running.start(service, path)
            seen = Responses()
            ids = await exercise(running, receiver, mail, seen)
            admin_gets = await read_everything(running, ids, seen)
            logs = [(f"{name} log", service.log_path.read_text(errors="replace")) for name, service in running.services.items()]
            quarantined = await read_topic(kafka_bootstrap, running.topic(topics.QUARANTINE))
            profiles = await read_topic(kafka_bootstrap, running.topic(topics.MEMBER_EVENTS))
    finally:
        mail.stop()
        await receiver.stop()

    assert {dict(r.headers)["alliance-reason"] for r in quarantined} >= {b"bad_signature", b"stale_timestamp"}
    assert mail.logins, "the SMTP password was used"
    assert admin_gets >= 15
    sealed = [json.loads(r.value)["data"]["sealed_webhook_secret"] for r in profiles]
    assert {SEALING_BOX.open(s) for s in sealed if s} >= {*WEBHOOK_SECRETS.values(), ROTATED["webhook"]}
    topic = (topics.MEMBER_EVENTS, b"\n".join(r.value for r in profiles).decode(errors="replace"))
    leaks = [(secret, where) for secret in [*SECRETS, database_password]
             for where, text in [*logs, *seen.texts, topic] if secret in text]
    assert not leaks, "secrets shown:\n" + "\n".join(f"{secret} in {where}" for secret, where in leaks)


def test_the_token_a_plain_run_makes_never_shows(tmp_path: Path) -> None:
    """`alliance run` with no ALLIANCE_ADMIN_TOKEN, at DEBUG: its token is used (the admin API
    answers it) but is in no log line, metric, OpenAPI document, error or refusal."""
    env = {**isolated_environment(tmp_path / "data"), "ALLIANCE_LOG_LEVEL": "DEBUG"}
    log = tmp_path / "run.log"
    texts: list[tuple[str, str]] = []
    with platform_up(env, log):
        token = (tmp_path / "data" / "admin-token").read_text().strip()
        for service in SERVICES:
            url = f"http://127.0.0.1:{env[f'ALLIANCE_{service.upper()}_PORT']}"
            with httpx.Client(base_url=url, timeout=120) as client:
                document = client.get("/openapi.json")
                listing = next(path for path, operations in document.json()["paths"].items()
                               if path.startswith("/admin") and "{" not in path and "get" in operations)
                answers = [document, client.get("/metrics"), client.get("/health"),
                           client.get(listing, headers={"Authorization": f"Bearer {token}"}),
                           client.get(listing, headers={"Authorization": f"Bearer {token}x"}),
                           client.get(listing, headers={"Authorization": f"Basic {token}"}),
                           client.post(listing, json={"member_id": token, "nested": [token]},
                                       headers={"Authorization": f"Bearer {token}"})]
            assert [a.status_code for a in answers[3:6]] == [200, 401, 401], service
            texts += [(f"{service} {a.request.method} {a.request.url.path}", a.text) for a in answers]
        cli = subprocess.run([alliance_executable(), "members", "list"], env={**env, "ALLIANCE_ADMIN_TOKEN": f"{token}x"},
                             capture_output=True, text=True, timeout=60, check=False)
        assert cli.returncode == 1
        texts.append(("the CLI refused", cli.stdout + cli.stderr))
    texts.append(("the platform log", log.read_text(errors="replace")))
    assert "DEBUG" in texts[-1][1]
    assert [where for where, text in texts if token in text] == []
