"""The faults, one at a time, each recorded with how long the platform took to recover.

Recovered means: all three services answer /health with 200 and a probe sent after the fault
was lifted has travelled the whole way (ERP record -> members -> notifications -> webhook).
The clock starts when the fault is lifted: the kill itself (the supervisor restarts the
service), the broker's SIGCONT, PostgreSQL accepting connections again, the receivers back.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import psutil

from chaos.platform import ChaosPlatform
from chaos.scenario import ERPs, Observations
from shared.settings import SERVICES, ServiceName
from tools.webhook_receiver import WebhookReceiver, no_content

PROBE_EVERY_S = 5.0
"""A fresh probe this often while waiting: one sent while the platform was still down may
take the slow way (retries, backoff) and must not hide that a later one already went through."""


class ReceiverFault(StrEnum):
    SLOW = "slow"
    """Answers only after the platform's attempt timeout: it took the notice, the platform thinks
    it failed and sends it again (with the same delivery id)."""
    FAILING = "failing"
    """503 to everything."""
    DOWN = "down"
    """Connections refused."""


class NotRecovered(Exception):
    """The platform did not recover from a fault in the time allowed; the run stops there."""


@dataclass
class FaultRecord:
    fault: str
    phase: str
    at_s: float
    """Seconds since the run started."""
    in_flight: int
    """Requests sent whose story had not ended when the fault hit."""
    recovered_s: float | None = None
    """From the fault being lifted until recovered; None: not within the time allowed."""
    also_restarted: tuple[str, ...] = ()
    """Services that died of this fault although it was not their own kill -9."""


class Faults:
    def __init__(
        self,
        platform: ChaosPlatform,
        receiver: WebhookReceiver,
        erps: ERPs,
        seen: Observations,
        recovery_timeout_s: float,
        rng: random.Random,
        started: float,
        say: Callable[[str], None],
        slow_answer_s: float,
    ) -> None:
        """`rng` draws the faults' order and moments; `started` is the run's start
        (time.monotonic()), which `FaultRecord.at_s` counts from; `slow_answer_s` is how late a
        SLOW receiver answers."""
        self._platform = platform
        self._receiver = receiver
        self._slow_answer_s = slow_answer_s
        self._erps = erps
        self._seen = seen
        self._recovery_timeout_s = recovery_timeout_s
        self.rng = rng
        self._say = say
        self._started = started
        self.records: list[FaultRecord] = []

    @property
    def on_kafka(self) -> bool:
        return self._platform.kafka is not None

    async def kill(
        self, service: ServiceName, phase: str, then: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """kill -9 of the service; `then` runs once it is dead, before the wait for recovery."""
        record, pids = self._record(f"kill -9 {service}", phase)
        process = self._platform.service_process(service)
        process.kill()
        lifted = time.monotonic()
        if then is not None:
            await asyncio.to_thread(_dead, process)
            await then()
        await self._recover(record, pids, lifted, killed=service)

    async def pause_broker(self, seconds: float, phase: str) -> None:
        """SIGSTOP of the embedded broker, or of one Apache Kafka broker."""
        record, pids = self._record(f"broker paused {seconds:g} s (SIGSTOP)", phase)
        broker = self._platform.broker_process()
        broker.suspend()
        try:
            await asyncio.sleep(seconds)
        finally:
            broker.resume()
        await self._recover(record, pids, time.monotonic())

    async def lose_broker(self, topic: str, phase: str) -> None:
        """kill -9 of the Apache Kafka broker leading `topic`'s partition 0: the others take over
        (replication factor 3, min.insync.replicas 2), the clock runs from the kill. Then the
        broker comes back and catches up, which is timed too."""
        kafka = self._platform.kafka
        assert kafka is not None, "broker loss needs --broker kafka"
        node = await self._platform.leader_of(topic)
        record, pids = self._record(f"kill -9 Kafka broker {node} (leader of {topic}/0)", phase)
        kafka.kill(node)
        await self._recover(record, pids, time.monotonic())
        back = time.monotonic()
        kafka.launch(node)
        await asyncio.to_thread(kafka.wait_ready, node)
        while not await self._platform.fully_replicated():
            if time.monotonic() > back + self._recovery_timeout_s:
                raise NotRecovered(f"broker {node} not back in sync within {self._recovery_timeout_s:.0f} s")
            await asyncio.sleep(0.5)
        record.fault += f"; back, in sync after {time.monotonic() - back:.1f} s"
        self._say(f"  broker {node} back and in sync after {time.monotonic() - back:.1f} s")

    async def stop_postgres(self, seconds: float, phase: str) -> None:
        record, pids = self._record(f"PostgreSQL stopped {seconds:g} s", phase)
        await asyncio.to_thread(self._platform.postgres.stop)
        await asyncio.sleep(seconds)
        await asyncio.to_thread(self._platform.postgres.start)
        await self._recover(record, pids, time.monotonic())

    async def disturb_receivers(self, fault: ReceiverFault, seconds: float, phase: str) -> None:
        """The members' receivers `fault` for `seconds`, then working again."""
        record, pids = self._record(f"webhook receivers {fault} {seconds:g} s", phase)
        if fault is ReceiverFault.DOWN:
            await self._receiver.stop()
        elif fault is ReceiverFault.SLOW:
            self._receiver.answer_delay_s = self._slow_answer_s
        else:
            self._receiver.default = lambda _: 503
        try:
            await asyncio.sleep(seconds)
        finally:
            self._receiver.answer_delay_s = 0.0
            self._receiver.default = no_content
            if not self._receiver.up:
                await self._receiver.start()
        await self._recover(record, pids, time.monotonic())

    def _record(self, fault: str, phase: str) -> tuple[FaultRecord, dict[ServiceName, int | None]]:
        """The fault's record, and which process each service was before it struck."""
        record = FaultRecord(fault, phase, round(time.monotonic() - self._started, 1), self._seen.in_flight())
        self.records.append(record)
        self._say(f"{fault} ({record.in_flight} requests in flight)")
        return record, self._pids()

    def _pids(self) -> dict[ServiceName, int | None]:
        pids: dict[ServiceName, int | None] = {}
        for service in SERVICES:
            try:
                pids[service] = self._platform.service_process(service).pid
            except LookupError:
                pids[service] = None  # between a crash and its restart
        return pids

    async def _recover(
        self, record: FaultRecord, before: dict[ServiceName, int | None], lifted: float, killed: ServiceName | None = None
    ) -> None:
        try:
            await self._wait_recovered(record, lifted)
        finally:
            after = self._pids()
            record.also_restarted = tuple(s for s in SERVICES if s != killed and after[s] != before[s])
            if record.also_restarted:
                self._say(f"  also restarted: {', '.join(record.also_restarted)}")

    async def _wait_recovered(self, record: FaultRecord, lifted: float) -> None:
        probes = []
        next_probe = time.monotonic()
        while time.monotonic() < lifted + self._recovery_timeout_s:
            if time.monotonic() >= next_probe:
                probes.append(await self._erps.canary())
                next_probe = time.monotonic() + PROBE_EVERY_S
            if any(self._seen.told.get(p) for p in probes) and await self._platform.all_healthy():
                record.recovered_s = round(time.monotonic() - lifted, 1)
                self._say(f"  recovered after {record.recovered_s:.1f} s")
                return
            await asyncio.sleep(0.2)
        raise NotRecovered(f"not recovered from {record.fault} within {self._recovery_timeout_s:.0f} s")


def _dead(process: psutil.Process, timeout: float = 30.0) -> None:
    """Wait until `process` has exited (a zombie its supervisor has not reaped yet counts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.01)
    raise TimeoutError(f"process {process.pid} still alive {timeout:.0f} s after kill -9")
