"""The alliance's outside participants on Kafka, written from the contract alone: the members'
ERP systems (signed purchase requests, a few cancellations, risk alerts) and the suppliers'
order desks (each reads its own topic and answers every joint order, signed)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import random
import uuid
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from demo.scenario import Member, Scenario, Supplier
from demo.scoreboard import Scoreboard
from shared import topics
from shared.signing import SIGNATURE_HEADER, sign, verify

CANCELLED_SHARE = 0.03
"""Requests an ERP withdraws a few seconds after sending them (a customer changed their mind)."""
REJECTION_REASONS = (
    "Lieferkapazität in der gewünschten Kalenderwoche ausgeschöpft",
    "Artikel beim Hersteller derzeit nicht lieferbar",
    "Preisstellung nicht mehr gültig, bitte neu anfragen",
)
INSOLVENT_REASON = "Insolvenzverfahren beantragt: keine Auslieferungen mehr"


def cloud_event(event_type: str, source: str, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": source,
            "type": event_type,
            "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": data,
        }
    ).encode()


async def publish(
    producer: AIOKafkaProducer, topic: str, sender_id: str, secret: str, event_type: str, data: dict[str, Any]
) -> None:
    """One signed record, keyed by its sender, acknowledged by the broker."""
    value = cloud_event(event_type, sender_id, data)
    headers = [(SIGNATURE_HEADER, sign(secret, value).encode())]
    await producer.send_and_wait(topic, value, key=sender_id.encode(), headers=headers)


class MemberERPs:
    """Every member's ERP, sending as that member: its key, its secret, its own request numbers."""

    def __init__(
        self,
        scenario: Scenario,
        producer: AIOKafkaProducer,
        topic_prefix: str,
        board: Scoreboard,
        rate: float,
    ) -> None:
        self._scenario = scenario
        self._producer = producer
        self._prefix = topic_prefix
        self._board = board
        self._rate = rate
        self._rng = random.Random(scenario.random_seed + 1)
        self._buyers = [m for m in scenario.members if scenario.products_of(m)]
        self._by_id = {m.id: m for m in self._buyers}
        self._numbers: Counter[str] = Counter()
        self._cancellations: list[tuple[float, str, str]] = []
        """(when, member_id, request_id), a heap."""

    async def run(self, stop: asyncio.Event) -> None:
        """Send requests at the configured rate until `stop` is set."""
        loop = asyncio.get_running_loop()
        started, sent = loop.time(), 0
        weights = [m.weight for m in self._buyers]
        while not stop.is_set():
            due = int((loop.time() - started) * self._rate) - sent
            members = self._rng.choices(self._buyers, weights, k=due)
            await asyncio.gather(*(self._submit(m) for m in members), *self._due_cancellations(loop.time()))
            sent += due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)

    async def report_insolvency(self, reporter: Member, supplier: Supplier, corroborating: bool) -> None:
        summary = (
            f"Bestätigt: {supplier.name} liefert nicht mehr, vorläufiger Insolvenzverwalter bestellt."
            if corroborating
            else f"{supplier.name} hat Insolvenzantrag gestellt, Auslieferungen sind eingestellt."
        )
        data = {
            "alert_id": f"RA-{reporter.id}-1",
            "supplier_id": supplier.id,
            "kind": "insolvency",
            "severity": "critical",
            "summary": summary,
        }
        topic = self._prefix + topics.RISK_ALERTS
        await publish(self._producer, topic, reporter.id, reporter.erp_secret, "risk_alert.raised", data)
        self._board.alerts_raised += 1

    async def _submit(self, member: Member) -> None:
        self._numbers[member.id] += 1
        data = self._scenario.purchase_request(self._rng, member, self._numbers[member.id], date.today())
        topic = self._prefix + topics.PURCHASE_REQUESTS
        await publish(self._producer, topic, member.id, member.erp_secret, "purchase_request.submitted", data)
        self._board.request_sent(member.id, data["request_id"], data["sku"])
        if self._rng.random() < CANCELLED_SHARE:
            when = asyncio.get_running_loop().time() + self._rng.uniform(1, 8)
            heapq.heappush(self._cancellations, (when, member.id, data["request_id"]))

    def _due_cancellations(self, now: float) -> list[Coroutine[Any, Any, None]]:
        due = []
        while self._cancellations and self._cancellations[0][0] <= now:
            _, member_id, request_id = heapq.heappop(self._cancellations)
            due.append(self._cancel(member_id, request_id))
        return due

    async def _cancel(self, member_id: str, request_id: str) -> None:
        member = self._by_id[member_id]
        data = {"request_id": request_id, "member_id": member_id}
        topic = self._prefix + topics.PURCHASE_REQUESTS
        await publish(self._producer, topic, member_id, member.erp_secret, "purchase_request.cancelled", data)
        self._board.cancellations_sent += 1


class SupplierDesks:
    """Every supplier's order desk: confirms most orders, rejects some, all once insolvent."""

    def __init__(
        self,
        scenario: Scenario,
        bootstrap: str,
        producer: AIOKafkaProducer,
        topic_prefix: str,
        board: Scoreboard,
    ) -> None:
        self._scenario = scenario
        self._bootstrap = bootstrap
        self._producer = producer
        self._prefix = topic_prefix
        self._board = board
        self._rng = random.Random(scenario.random_seed + 2)
        self._insolvent: set[str] = set()
        self._answers: set[asyncio.Task[None]] = set()

    def go_insolvent(self, supplier: Supplier) -> None:
        """From now on the supplier turns down every order it receives."""
        self._insolvent.add(supplier.id)

    def is_insolvent(self, supplier: Supplier) -> bool:
        return supplier.id in self._insolvent

    async def run(self) -> None:
        """Every supplier's desk, until cancelled."""
        try:
            await asyncio.gather(*(self._desk(s) for s in self._scenario.suppliers))
        finally:
            for task in self._answers:
                task.cancel()

    async def _desk(self, supplier: Supplier) -> None:
        consumer = AIOKafkaConsumer(
            self._prefix + topics.supplier_orders(supplier.id),
            bootstrap_servers=self._bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            async for record in consumer:
                self._take(supplier, record.value, dict(record.headers).get(SIGNATURE_HEADER))
        finally:
            await consumer.stop()

    def _take(self, supplier: Supplier, value: bytes, signature: bytes | None) -> None:
        if verify(signature, value, [supplier.secret]) is not None:
            self._board.unsigned_orders += 1  # not provably from the alliance: not acted upon
            return
        event = json.loads(value)
        if event["type"] == "joint_order.cancelled":
            self._board.orders_cancelled += 1
        elif event["type"] == "joint_order.placed":
            self._board.orders_received.add(event["data"]["order_id"])
            task = asyncio.create_task(self._answer(supplier, event["data"]))
            self._answers.add(task)
            task.add_done_callback(self._answers.discard)

    async def _answer(self, supplier: Supplier, order: dict[str, Any]) -> None:
        await asyncio.sleep(self._rng.uniform(0.3, 3.0))  # someone at the desk reads it first
        answer: dict[str, Any] = {"order_id": order["order_id"], "supplier_id": supplier.id}
        if supplier.id in self._insolvent or self._rng.random() < supplier.rejection_rate:
            event_type = "joint_order.rejected"
            insolvent = supplier.id in self._insolvent
            answer["reason"] = INSOLVENT_REASON if insolvent else self._rng.choice(REJECTION_REASONS)
        else:
            event_type = "joint_order.confirmed"
            delay = supplier.lead_time_days + self._rng.randint(0, 2)
            answer["expected_delivery"] = (date.today() + timedelta(days=delay)).isoformat()
        topic = self._prefix + topics.SUPPLIER_RESPONSES
        await publish(self._producer, topic, supplier.id, supplier.secret, event_type, answer)
        if event_type == "joint_order.confirmed":
            self._board.orders_confirmed += 1
        else:
            self._board.orders_rejected += 1
