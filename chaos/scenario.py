"""The inputs of a run, identical in the reference run and the faulty one, and the outside
participants that send them and observe what comes back (all over the external contract).

Cycle contents are made deterministic: a fixed list of requests (and a few cancellations) is
sent, the harness waits until every one is admitted, and then closes the one cycle itself. The
seed's cycle interval is ten years, so no scheduled close ever runs during a run, and every
request's last chance is this close: each ends on an order line, unfulfillable or cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from demo.participants import cloud_event
from demo.scenario import Member, Scenario, generate
from demo.scoreboard import RequestKey, Scoreboard
from shared.signing import SIGNATURE_HEADER, sign

NO_SCHEDULED_CLOSE_S = 10 * 365 * 86400
CANCELLED_SHARE = 0.03
CANARY_PREFIX = "CANARY-"
"""Request ids of the recovery probe: cancellations of requests never sent, which members
answers with `purchase_request.rejected` (unknown_request) by webhook, end to end."""

SETTLING = frozenset(
    {"purchase_request.confirmed", "purchase_request.unfulfillable", "purchase_request.cancelled"}
)
"""The notice that ends a request's story in these runs (suppliers confirm every order)."""
FINAL = frozenset({"purchase_request.ordered", "purchase_request.unfulfillable", "purchase_request.cancelled"})
"""What a request can become at the close: exactly one of these per request."""

NoticeKey = tuple[str, str, str, str | None]
"""A notice as its member understands it: (member, type, request_id (a statement: sku:period), order_id)."""


@dataclass(frozen=True)
class Workload:
    cast: Scenario
    requests: tuple[tuple[Member, dict[str, Any]], ...]
    """(member, data of purchase_request.submitted), in the order the ERPs send them."""
    cancelled: frozenset[RequestKey]
    """Requests their ERP withdraws right after sending them."""

    @property
    def keys(self) -> list[RequestKey]:
        return [(m.id, data["request_id"]) for m, data in self.requests]


def workload(random_seed: int, members: int, suppliers: int, requests: int, today: date) -> Workload:
    """demo's cast, and its requests. Its suppliers confirm every order whole, so the same
    requests must give the same orders with and without faults; as in the demo, one takes PEPPOL
    documents and one openTRANS (the checks read their orders from the documents)."""
    cast = generate(random_seed, members, suppliers, NO_SCHEDULED_CLOSE_S)
    cast = dataclasses.replace(
        cast, suppliers=tuple(dataclasses.replace(s, rejection_rate=0.0) for s in cast.suppliers)
    )
    rng = random.Random(random_seed + 1)
    buyers = [m for m in cast.members if cast.products_of(m)]
    numbers: dict[str, int] = defaultdict(int)
    sent = []
    for member in rng.choices(buyers, [m.weight for m in buyers], k=requests):
        numbers[member.id] += 1
        sent.append((member, cast.purchase_request(rng, member, numbers[member.id], today)))
    cancelled = frozenset((m.id, data["request_id"]) for m, data in sent if rng.random() < CANCELLED_SHARE)
    return Workload(cast, tuple(sent), cancelled)


@dataclass
class Observations(Scoreboard):
    """demo's scoreboard, plus every delivery id each notice came with."""

    delivery_ids: dict[NoticeKey, set[str]] = field(default_factory=lambda: defaultdict(set))
    probes: list[RequestKey] = field(default_factory=list)
    """Every recovery probe sent: the run is quiet only once each has been answered, or a late
    one still moves through the platform while the checks look."""
    told: dict[RequestKey, dict[NoticeKey, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    """Per request, the distinct notices its member got, with their data."""

    def notice(self, member_id: str, event: dict[str, Any]) -> None:
        data = event["data"]
        about = data.get("request_id") or f"{data.get('sku', '')}:{data.get('period', '')}"  # a statement names none
        key: NoticeKey = (member_id, event["type"], about, data.get("order_id"))
        self.delivery_ids[key].add(event["id"])
        self.told[(member_id, key[2])][key] = data
        if not key[2].startswith(CANARY_PREFIX):
            super().notice(member_id, event)

    def types_told(self, request: RequestKey) -> list[str]:
        return [notice_type for _, notice_type, _, _ in self.told.get(request, {})]

    def settled(self, request: RequestKey) -> bool:
        return any(t in SETTLING for t in self.types_told(request))

    def probes_unanswered(self) -> int:
        return sum(not self.told.get(probe) for probe in self.probes)

    def in_flight(self) -> int:
        """Requests sent whose story has not ended yet."""
        return sum(not self.settled(key) for key in self.submitted)


class ERPs:
    """The members' ERPs: the workload's signed requests, in order, and the recovery probe."""

    def __init__(self, load: Workload, producer: AIOKafkaProducer, topic: str, seen: Observations) -> None:
        self._load = load
        self._producer = producer
        self._topic = topic
        self._seen = seen
        self._canaries = 0

    async def send_all(self, per_second: float | None, hurry: asyncio.Event) -> None:
        """At `per_second` until `hurry` is set, then as fast as the broker takes them."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        for number, (member, data) in enumerate(self._load.requests):
            if per_second and not hurry.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(hurry.wait(), started + number / per_second - loop.time())
            self._seen.request_sent(member.id, data["request_id"])
            await self._send(member, "purchase_request.submitted", data)
            if (member.id, data["request_id"]) in self._load.cancelled:
                await self._send(member, "purchase_request.cancelled",
                                 {"request_id": data["request_id"], "member_id": member.id})

    async def receive_goods(self) -> None:
        """Post a goods receipt for every dispatch a member is told of, until cancelled. What a
        receipt says follows from the request alone (one in ten a unit short, one in ten a unit
        damaged), so both runs receive the same, and a receipt resent after a fault is the same."""
        by_id = {m.id: m for m in self._load.cast.members}
        while True:
            while self._seen.to_receive:
                member_id, request_id, quantity = self._seen.to_receive[0]
                digest = zlib.crc32(f"{member_id}/{request_id}".encode()) % 10
                data: dict[str, Any] = {"request_id": request_id, "member_id": member_id,
                                        "receipt_id": f"WE-{request_id}", "received_on": date.today().isoformat(),
                                        "quantity_accepted": quantity}
                if quantity >= 2 and digest == 0:
                    data["quantity_accepted"] = quantity - 1
                elif quantity >= 2 and digest == 1:
                    data.update(quantity_accepted=quantity - 1, quantity_rejected=1, reason="damaged")
                await self._send(by_id[member_id], "purchase_request.received", data)
                self._seen.to_receive.popleft()
                self._seen.receipts_sent += 1
            await asyncio.sleep(0.2)

    async def canary(self) -> RequestKey:
        """Ask about a request never sent; the answer arrives only through the whole platform."""
        self._canaries += 1
        member = self._load.cast.members[0]
        request_id = f"{CANARY_PREFIX}{self._canaries}"
        self._seen.probes.append((member.id, request_id))
        await self._send(member, "purchase_request.cancelled", {"request_id": request_id, "member_id": member.id})
        return member.id, request_id

    async def _send(self, member: Member, event_type: str, data: dict[str, Any]) -> None:
        """Until the broker acknowledges it: the same bytes again after a failure (a paused
        broker times sends out), so a record that did arrive is only a replay."""
        value = cloud_event(event_type, member.id, data)
        headers = [(SIGNATURE_HEADER, sign(member.erp_secret, value).encode())]
        while True:
            try:
                await self._producer.send_and_wait(self._topic, value, key=member.id.encode(), headers=headers)
                return
            except KafkaError:
                await asyncio.sleep(1.0)
