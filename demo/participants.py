"""The alliance's outside participants on Kafka, written from the contract alone: the members'
ERP systems (signed purchase requests, a few cancellations, risk alerts, goods receipts for what
they are told was dispatched, some short or damaged) and the suppliers' order desks (each reads
its own topic, answers every joint order, some lines in part or late, and ships what it
confirmed in one or two dispatches, all signed; the ones set to PEPPOL BIS 3 or openTRANS 2.1
read the order document and answer in their standard)."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import random
import uuid
import zlib
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from lxml import etree

from demo.scenario import ALLIANCE, Member, Scenario, Supplier
from demo.scoreboard import Scoreboard
from demo.supplier_documents import (
    DESPATCH_SCHEMA,
    ORDER_RESPONSE_SCHEMA,
    OrderReader,
    ReceivedOrder,
    despatch_advice,
    order_response,
)
from shared import topics
from shared.kafka_client import METADATA_MAX_AGE_MS
from shared.settings import Settings
from shared.signing import SIGNATURE_HEADER, sign, verify

CANCELLED_SHARE = 0.03
"""Requests an ERP withdraws a few seconds after sending them (a customer changed their mind)."""
REJECTION_REASONS = (
    "Lieferkapazität in der gewünschten Kalenderwoche ausgeschöpft",
    "Artikel beim Hersteller derzeit nicht lieferbar",
    "Preisstellung nicht mehr gültig, bitte neu anfragen",
)
INSOLVENT_REASON = "Insolvenzverfahren beantragt: keine Auslieferungen mehr"
ANSWERED_PER_LINE_SHARE = 0.3
"""Orders a supplier answers line by line (v1.1) rather than confirming whole."""
PARTIAL_LINE_SHARE = 0.35
"""Of those, lines it can deliver only in part; `LATE_LINE_SHARE` more it can deliver only later."""
LATE_LINE_SHARE = 0.1
SHORT_RECEIPT_SHARE = 0.08
"""Receipts short of what was dispatched (the rest is reported missing after the grace)."""
DAMAGED_RECEIPT_SHARE = 0.06
"""Receipts with some goods refused as damaged (reported to the supplier at once)."""

log = logging.getLogger(__name__)


def cloud_event(event_type: str, source: str, data: dict[str, Any] | str, dataschema: str | None = None) -> bytes:
    """A structured-mode CloudEvent; with `dataschema`, `data` is an XML document (contract v1.1)."""
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": event_type,
        "time": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "datacontenttype": "application/json" if dataschema is None else "application/xml",
        "data": data,
    }
    if dataschema is not None:
        event["dataschema"] = dataschema
    return json.dumps(event).encode()


async def publish(
    producer: AIOKafkaProducer, topic: str, sender_id: str, secret: str, event_type: str, data: dict[str, Any] | str,
    dataschema: str | None = None,
) -> None:
    """One signed record, keyed by its sender, acknowledged by the broker."""
    value = cloud_event(event_type, sender_id, data, dataschema)
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
        self._receipts: Counter[str] = Counter()
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

    async def receive_goods(self) -> None:
        """Post a goods receipt for every dispatch a member is told of, until cancelled."""
        while True:
            while self._board.to_receive:
                member_id, request_id, quantity = self._board.to_receive.popleft()
                await self._receipt(self._by_id[member_id], request_id, quantity)
            await asyncio.sleep(0.2)

    async def _receipt(self, member: Member, request_id: str, quantity: int) -> None:
        self._receipts[member.id] += 1
        data: dict[str, Any] = {
            "request_id": request_id, "member_id": member.id, "receipt_id": f"WE-{self._receipts[member.id]:06d}",
            "received_on": date.today().isoformat(), "quantity_accepted": quantity,
        }
        draw = self._rng.random()
        if quantity >= 2 and draw < SHORT_RECEIPT_SHARE:
            data["quantity_accepted"] = quantity - max(1, quantity // 5)
            self._board.receipts_short += 1
        elif quantity >= 2 and draw < SHORT_RECEIPT_SHARE + DAMAGED_RECEIPT_SHARE:
            damaged = max(1, quantity // 10)
            data.update(quantity_accepted=quantity - damaged, quantity_rejected=damaged, reason="damaged",
                        note="Transportschaden, Verpackung aufgerissen")
            self._board.receipts_damaged += 1
        topic = self._prefix + topics.PURCHASE_REQUESTS
        await publish(self._producer, topic, member.id, member.erp_secret, "purchase_request.received", data)
        self._board.receipts_sent += 1

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
        # counted before it goes: on a loaded machine its first notice can beat the broker's acknowledgement
        self._board.request_sent(member.id, data["request_id"], data["sku"])
        await publish(self._producer, topic, member.id, member.erp_secret, "purchase_request.submitted", data)
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
    """Every supplier's order desk: confirms most orders, answers some per line (some lines in part
    or later), rejects some, all once insolvent; ships what it confirmed."""

    def __init__(
        self,
        scenario: Scenario,
        bootstrap: str,
        producer: AIOKafkaProducer,
        topic_prefix: str,
        board: Scoreboard,
        answers_per_line: bool = True,
    ) -> None:
        """`answers_per_line=False`: every order confirmed whole or rejected, as a v1 supplier
        does (chaos compares runs, and which orders get a partial answer depends on timing)."""
        self._scenario = scenario
        self._answers_per_line = answers_per_line
        self._bootstrap = bootstrap
        self._producer = producer
        self._prefix = topic_prefix
        self._board = board
        self._rng = random.Random(scenario.random_seed + 2)
        self._insolvent: set[str] = set()
        self._answers: set[asyncio.Task[None]] = set()
        self._orders = OrderReader(Settings().standards_dir)

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
            metadata_max_age_ms=METADATA_MAX_AGE_MS,  # finds a lost broker's successor in seconds
        )
        await consumer.start()
        try:
            async for record in consumer:
                try:
                    self._take(supplier, record.value, dict(record.headers).get(SIGNATURE_HEADER))
                except Exception:  # one record a desk cannot take must not close every desk
                    log.exception("supplier %s could not take record %d of its orders", supplier.id, record.offset)
        finally:
            await consumer.stop()

    def _take(self, supplier: Supplier, value: bytes, signature: bytes | None) -> None:
        if verify(signature, value, [supplier.secret]) is not None:
            self._board.unsigned_orders += 1  # not provably from the alliance: not acted upon
            return
        event = json.loads(value)
        if event["type"] == "joint_order.cancelled":
            self._board.orders_cancelled += 1
        elif event["type"] == "joint_order.discrepancy":
            self._board.discrepancies[event["data"]["reason"]] += 1
        elif event["type"] == "joint_order.placed":
            if supplier.documents != "cloudevents":
                order = self._read_document(supplier, event)
                if order is None:
                    return
                self._board.orders_received.add(order.order_id)
                task = asyncio.create_task(self._answer_in_standard(supplier, order))
                self._track(supplier, task)
                return
            self._board.orders_received.add(event["data"]["order_id"])
            task = asyncio.create_task(self._answer(supplier, event["data"]))
            self._track(supplier, task)

    def _track(self, supplier: Supplier, task: asyncio.Task[None]) -> None:
        """An answer under way; one that fails says why (it would otherwise fail unseen)."""
        self._answers.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._answers.discard(task)
            if not task.cancelled() and task.exception() is not None:
                log.error("supplier %s could not answer an order", supplier.id, exc_info=task.exception())

        task.add_done_callback(done)

    def _read_document(self, supplier: Supplier, event: dict[str, Any]) -> ReceivedOrder | None:
        """The order document in the supplier's standard, checked against the standard's schema."""
        if event.get("datacontenttype") != "application/xml":
            self._board.orders_in_wrong_format += 1
            return None
        try:
            order = self._orders.read(supplier.documents, event["data"])
        except (ValueError, etree.XMLSyntaxError):
            self._board.orders_in_wrong_format += 1
            return None
        self._board.order_documents[supplier.documents] += 1
        return order

    async def _answer_in_standard(self, supplier: Supplier, order: ReceivedOrder) -> None:
        """The whole order accepted or rejected, as a PEPPOL Order Response or openTRANS ORDERRESPONSE;
        what it accepted then ships at once, with a PEPPOL Despatch Advice or openTRANS DISPATCHNOTIFICATION."""
        await asyncio.sleep(self._rng.uniform(0.3, 3.0))
        insolvent = supplier.id in self._insolvent
        accepted = not insolvent and self._rng.random() >= supplier.rejection_rate
        reason = INSOLVENT_REASON if insolvent else self._rng.choice(REJECTION_REASONS)
        promised = date.today() + timedelta(days=supplier.lead_time_days + self._rng.randint(0, 2))
        promised = min(promised, order.earliest_needed)  # as a JSON desk's whole confirmation: every date kept
        document = order_response(supplier.documents, order, supplier.id, supplier.peppol_id,
                                  ALLIANCE["peppol_id"], accepted, promised, None if accepted else reason)
        event_type = "joint_order.confirmed" if accepted else "joint_order.rejected"
        topic = self._prefix + topics.SUPPLIER_RESPONSES
        await publish(self._producer, topic, supplier.id, supplier.secret, event_type, document,
                      ORDER_RESPONSE_SCHEMA[supplier.documents])
        self._board.answer_documents[supplier.documents] += 1
        if not accepted:
            self._board.orders_rejected += 1
            return
        self._board.orders_confirmed += 1
        await asyncio.sleep(self._rng.uniform(0.5, 3.0))  # picked and packed
        advice = despatch_advice(supplier.documents, order, supplier.id, supplier.peppol_id, ALLIANCE["peppol_id"],
                                 f"LS-{order.order_id}", promised)
        await publish(self._producer, topic, supplier.id, supplier.secret, "joint_order.dispatched", advice,
                      DESPATCH_SCHEMA[supplier.documents])
        self._board.despatch_documents[supplier.documents] += 1

    async def _answer(self, supplier: Supplier, order: dict[str, Any]) -> None:
        await asyncio.sleep(self._rng.uniform(0.3, 3.0))  # someone at the desk reads it first
        answer: dict[str, Any] = {"order_id": order["order_id"], "supplier_id": supplier.id}
        promised = date.today() + timedelta(days=supplier.lead_time_days + self._rng.randint(0, 2))
        shipped: list[tuple[str, int]] = []
        if supplier.id in self._insolvent or self._rng.random() < supplier.rejection_rate:
            event_type = "joint_order.rejected"
            insolvent = supplier.id in self._insolvent
            answer["reason"] = INSOLVENT_REASON if insolvent else self._rng.choice(REJECTION_REASONS)
        elif self._answers_per_line and self._rng.random() < ANSWERED_PER_LINE_SHARE:
            event_type = "joint_order.answered"
            answer["lines"] = [self._line_answer(line, promised) for line in order["lines"]]
            for line, said in zip(order["lines"], answer["lines"], strict=True):
                expected = date.fromisoformat(said["expected_delivery"])
                shipped += served(line, said["status"], said.get("quantity"), expected)
        else:
            event_type = "joint_order.confirmed"
            needed = min(date.fromisoformat(d["needed_by"]) for line in order["lines"] for d in line["deliveries"])
            promised = min(promised, needed)  # a whole confirmation keeps every date (later: answered per line)
            answer["expected_delivery"] = promised.isoformat()
            for line in order["lines"]:
                shipped += served(line, "accepted", None, promised)
        topic = self._prefix + topics.SUPPLIER_RESPONSES
        await publish(self._producer, topic, supplier.id, supplier.secret, event_type, answer)
        if event_type == "joint_order.rejected":
            self._board.orders_rejected += 1
        else:
            self._board.orders_confirmed += 1
            self._board.orders_answered_per_line += event_type == "joint_order.answered"
            if shipped:
                self._board.shipments_pending += 1
                try:
                    await self._ship(supplier, order["order_id"], shipped)
                finally:
                    self._board.shipments_pending -= 1

    def _line_answer(self, line: dict[str, Any], promised: date) -> dict[str, Any]:
        draw = self._rng.random()
        if line["quantity"] >= 2 and draw < PARTIAL_LINE_SHARE:
            part = min(line["quantity"] - 1, max(1, round(line["quantity"] * self._rng.uniform(0.5, 0.9))))
            return {"line_id": line["line_id"], "status": "partial", "quantity": part,
                    "expected_delivery": promised.isoformat(), "reason": "Teilmenge ab Lager lieferbar"}
        if draw < PARTIAL_LINE_SHARE + LATE_LINE_SHARE:
            later = promised + timedelta(days=self._rng.randint(5, 20))
            return {"line_id": line["line_id"], "status": "accepted", "expected_delivery": later.isoformat(),
                    "reason": "Liefertermin verschoben"}
        return {"line_id": line["line_id"], "status": "accepted", "expected_delivery": promised.isoformat()}

    async def _ship(self, supplier: Supplier, order_id: str, shipped: list[tuple[str, int]]) -> None:
        """What it confirmed, in one dispatch or, for larger orders, two. What a dispatch says
        follows from the order alone, so an order read again (a redelivered record) ships the
        very same dispatches, which the alliance takes once."""
        await asyncio.sleep(self._rng.uniform(0.5, 3.0))
        digest = zlib.crc32(order_id.encode())
        two = len(shipped) >= 2 and digest % 2 == 1
        cut = len(shipped) // 2 if two else len(shipped)
        for number, part in enumerate((shipped[:cut], shipped[cut:]), start=1):
            if not part:
                continue
            data = {
                "order_id": order_id, "supplier_id": supplier.id, "dispatch_id": f"LS-{order_id}-{number}",
                "shipped_on": date.today().isoformat(),
                "expected_arrival": (date.today() + timedelta(days=1)).isoformat(),
                "carrier": ("DHL Freight", "Dachser", "Schenker")[digest % 3],
                "tracking_id": f"{digest:08x}{number}",
                "deliveries": [{"delivery_id": d, "quantity": q} for d, q in part],
            }
            await publish(self._producer, self._prefix + topics.SUPPLIER_RESPONSES, supplier.id, supplier.secret,
                          "joint_order.dispatched", data)
            self._board.dispatches_sent += 1


def served(line: dict[str, Any], status: str, quantity: int | None, expected: date) -> list[tuple[str, int]]:
    """(delivery_id, units) the alliance takes this answer to serve, by the contract's rule: only
    deliveries needed on or after `expected`; a partial line fills them by earliest needed_by, whole
    ones first. Where the cut falls between deliveries needed the same day the alliance decides by
    admission order, which a supplier cannot see: it ships only what is certain."""
    on_time = [d for d in line["deliveries"] if date.fromisoformat(d["needed_by"]) >= expected]
    if status == "rejected":
        return []
    if status == "accepted":
        return [(d["delivery_id"], d["quantity"]) for d in on_time]
    assert quantity is not None
    by_day: dict[str, list[dict[str, Any]]] = {}
    for d in sorted(on_time, key=lambda d: d["needed_by"]):
        by_day.setdefault(d["needed_by"], []).append(d)
    left, shipped = quantity, []
    for group in by_day.values():
        total = sum(d["quantity"] for d in group)
        if total <= left:
            shipped += [(d["delivery_id"], d["quantity"]) for d in group]
            left -= total
            continue
        if len(group) == 1 and left:
            shipped.append((group[0]["delivery_id"], left))
        break
    return shipped
