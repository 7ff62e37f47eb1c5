"""One run of the workload on a fresh platform, with or without faults.

Phases: the platform starts and learns its catalog; the ERPs send the requests (the faults
strike meanwhile, one at a time, in a random order); once every request is admitted, the
harness closes the cycle (a fault run kills procurement in the middle of it, then closes
again); the suppliers confirm their orders while more faults strike; then everything drains
and the evidence is gathered.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer

from chaos.checks import Accounting, Check, Evidence, account, gather, verdicts
from chaos.faults import FaultRecord, Faults, NotRecovered, ReceiverFault
from chaos.platform import ChaosPlatform
from chaos.scenario import ERPs, Observations, Workload
from demo.participants import SupplierDesks
from shared import topics
from shared.kafka_client import METADATA_MAX_AGE_MS
from shared.runtime.kafka_cluster import KafkaCluster, kafka_libs
from shared.settings import SERVICES, ServiceName
from tests.support.backends import KAFKA_CACHE
from tests.support.close_hold import CloseHold
from tools.webhook_receiver import WebhookReceiver

ATTEMPT_TIMEOUT_S = 3.0
TUNING = {
    "ALLIANCE_NOTIFICATIONS_ATTEMPT_TIMEOUT_S": str(ATTEMPT_TIMEOUT_S),
    "ALLIANCE_NOTIFICATIONS_BACKOFF_CAP_S": "10",
    "ALLIANCE_NOTIFICATIONS_BREAKER_COOLDOWN_S": "5",
    "ALLIANCE_NOTIFICATIONS_BREAKER_MAX_COOLDOWN_S": "20",
}
"""The same in both runs. Webhook retries are capped at 10 s (breaker pauses at 20 s) instead of
an hour, so a run drains within minutes of the receivers coming back."""


@dataclass(frozen=True)
class Profile:
    name: str
    members: int
    requests: int
    per_second: float
    """Pace of the ERPs while faults strike (the reference run sends as fast as it can)."""
    kills_while_requests_flow: tuple[ServiceName, ...]
    broker_pause_s: float
    postgres_down_s: float
    receiver_fault_s: float
    close_kills: int
    """Kills of procurement in the middle of closing the cycle (then it closes for good)."""
    kills_after_close: tuple[ServiceName, ...]
    """While the cycle's orders, notices and the suppliers' answers flow."""
    pause_between_faults_s: tuple[float, float]
    recovery_timeout_s: float
    drain_timeout_s: float
    broker_losses: tuple[str, ...] = ()
    """Topics whose partition-0 leader is killed (kill -9) while requests flow, on Apache Kafka."""


QUICK = Profile(
    name="quick", members=10, requests=200, per_second=4.0,
    kills_while_requests_flow=("members",), broker_pause_s=5.0, postgres_down_s=4.0, receiver_fault_s=5.0,
    close_kills=1, kills_after_close=("notifications",), pause_between_faults_s=(0.5, 1.5),
    recovery_timeout_s=90.0, drain_timeout_s=120.0, broker_losses=(topics.PURCHASE_REQUESTS,),
)  # fmt: skip
FULL = Profile(
    name="full", members=30, requests=2400, per_second=6.0, kills_while_requests_flow=SERVICES * 3,
    broker_pause_s=20.0, postgres_down_s=20.0, receiver_fault_s=60.0, close_kills=2,
    kills_after_close=("procurement", "notifications", "members"), pause_between_faults_s=(1.0, 5.0),
    recovery_timeout_s=240.0, drain_timeout_s=900.0, broker_losses=(topics.PURCHASE_REQUESTS, topics.ADMITTED_REQUESTS),
)  # fmt: skip


@dataclass
class RunResult:
    seen: Observations
    evidence: Evidence | None
    books: Accounting | None
    """Both None when the run stopped early: the platform did not recover from a fault."""
    checks: list[Check]
    faults: list[FaultRecord]
    seconds: float


async def run(
    profile: Profile, load: Workload, directory: Path, rng: random.Random | None, say: Callable[[str], None],
    broker: str = "tansu",
) -> RunResult:
    """A fault-free run when `rng` is None; otherwise faults in an order drawn from `rng`.
    `broker` "kafka": on Apache Kafka, three brokers under faults (one for the fault-free run),
    with the profile's broker losses among the faults."""
    started = time.monotonic()

    def note(what: str) -> None:
        say(f"{time.monotonic() - started:6.1f} s  {what}")

    directory.mkdir(parents=True, exist_ok=True)
    seen = Observations()
    receiver = WebhookReceiver(board=seen, webhook_secrets={m.id: m.webhook_secret for m in load.cast.members})
    await receiver.start()
    seed_path = directory / "seed.yaml"
    load.cast.write_seed(seed_path, receiver.url())
    kafka = (KafkaCluster(directory / "kafka", kafka_libs(KAFKA_CACHE), brokers=3 if rng else 1)
             if broker == "kafka" else None)
    platform = ChaosPlatform(directory, seed_path, secrets.token_urlsafe(24), TUNING, kafka)
    producer = AIOKafkaProducer(
        bootstrap_servers=platform.bootstrap, enable_idempotence=False, acks="all", request_timeout_ms=120_000,
        metadata_max_age_ms=METADATA_MAX_AGE_MS,
    )
    background: list[asyncio.Task[None]] = []
    faults: Faults | None = None
    evidence: Evidence | None = None
    overdue: list[str] = []
    try:
        await platform.start()
        note(f"platform up (log: {directory / 'platform.log'})")
        await producer.start()
        desks = SupplierDesks(load.cast, platform.bootstrap, producer, "", seen, answers_per_line=False)
        background.append(asyncio.create_task(desks.run()))
        erps = ERPs(load, producer, topics.PURCHASE_REQUESTS, seen)
        background.append(asyncio.create_task(erps.receive_goods()))
        faults = Faults(platform, receiver, erps, seen, profile.recovery_timeout_s, rng, started, note,
                        slow_answer_s=ATTEMPT_TIMEOUT_S + 1) if rng else None
        overdue.append(
            await _until(lambda: _catalog_known(platform), profile.recovery_timeout_s, "members to learn the catalog")
        )
        note("sending requests" + (", faults striking" if faults else ""))
        await _send_requests(profile, erps, faults)
        note("all requests sent; waiting until every one is admitted")
        overdue.append(await _until(lambda: _all_admitted(platform, seen, load), profile.drain_timeout_s,
                                    "every request admitted"))
        note("closing the cycle")
        await _close_cycle(platform, faults, profile)
        note("cycle closed")
        if faults is not None:
            for service in profile.kills_after_close:
                await faults.kill(service, "orders and notices flowing")
        note("waiting for the suppliers' answers and every notice")
        overdue.append(await _drain(platform, seen, load, profile.drain_timeout_s))
        note(overdue[-1] or "drained")
        evidence = await gather(platform, load)
    except NotRecovered as stuck:
        note(f"{stuck}: the run stops here")
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await producer.stop()
        await platform.stop()
        await receiver.stop()
    records = faults.records if faults else []
    checks = _recovery_checks(records) if rng else []
    if evidence is None:
        return RunResult(seen, None, None, checks, records, time.monotonic() - started)
    books = account(load, seen, evidence)
    checks = verdicts(load, seen, evidence, books, "; ".join(filter(None, overdue))) + checks
    return RunResult(seen, evidence, books, checks, records, time.monotonic() - started)


def _recovery_checks(records: list[FaultRecord]) -> list[Check]:
    stuck = [r.fault for r in records if r.recovered_s is None]
    dragged = [f"{', '.join(r.also_restarted)} during {r.fault}" for r in records if r.also_restarted]
    return [
        Check("recovered after every fault", not stuck, ", ".join(stuck) or f"{len(records)} faults"),
        Check("no service died of a fault but its own kill -9", not dragged, "; ".join(dragged) or "none"),
    ]


async def _send_requests(profile: Profile, erps: ERPs, faults: Faults | None) -> None:
    """With faults, at the profile's pace while they strike, then the rest at once."""
    hurry = asyncio.Event()
    sending = asyncio.create_task(erps.send_all(profile.per_second if faults else None, hurry))
    try:
        if faults is not None:
            await _strike_while_requests_flow(profile, faults)
    except BaseException:
        sending.cancel()
        raise
    hurry.set()
    await sending


async def _strike_while_requests_flow(profile: Profile, faults: Faults) -> None:
    """Every fault of the profile, one at a time, in an order drawn from the faults' rng."""
    phase = "requests flowing"
    steps: list[Callable[[], Awaitable[None]]] = [
        *(lambda s=s: faults.kill(s, phase) for s in profile.kills_while_requests_flow),
        *(lambda t=t: faults.lose_broker(t, phase) for t in (profile.broker_losses if faults.on_kafka else ())),
        lambda: faults.pause_broker(profile.broker_pause_s, phase),
        lambda: faults.stop_postgres(profile.postgres_down_s, phase),
        lambda: faults.disturb_receivers(ReceiverFault.SLOW, profile.receiver_fault_s, phase),
        lambda: faults.disturb_receivers(ReceiverFault.FAILING, profile.receiver_fault_s, phase),
        lambda: faults.disturb_receivers(ReceiverFault.DOWN, profile.receiver_fault_s, phase),
    ]
    faults.rng.shuffle(steps)
    for step in steps:
        await asyncio.sleep(faults.rng.uniform(*profile.pause_between_faults_s))
        await step()


async def _close_cycle(platform: ChaosPlatform, faults: Faults | None, profile: Profile) -> None:
    """Close the cycle through the admin API; with faults, kill procurement mid-close first, as
    often as the profile says: the close is held just before its commit, everything else written,
    by a lock on procurement's database (`tests/support/close_hold.py`), killed there, then let go."""
    async with platform.admin("procurement") as admin:
        if faults is not None:
            for _ in range(profile.close_kills):
                async with CloseHold(platform.database_url("procurement")) as hold:
                    closing = asyncio.create_task(admin.post("/cycles/close"))
                    await hold.wait_for_close(closing, timeout=profile.recovery_timeout_s)
                    await faults.kill("procurement", "cycle closing", then=hold.release)
                with contextlib.suppress(httpx.HTTPError):
                    await closing
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await admin.get("/cycles")).json():
                    return
                (await admin.post("/cycles/close")).raise_for_status()
            await asyncio.sleep(1.0)


async def _catalog_known(platform: ChaosPlatform) -> bool:
    """members refuses SKUs it has not learned from procurement's events yet."""
    return (await platform.committed_lag()).get(("members", topics.PROCUREMENT_EVENTS)) == 0


async def _all_admitted(platform: ChaosPlatform, seen: Observations, load: Workload) -> bool:
    """Every request told accepted (and withdrawn where its ERP cancelled it), and procurement
    holding exactly the others as open demand."""
    for key in load.keys:
        types = seen.types_told(key)
        if "purchase_request.accepted" not in types:
            return False
        if key in load.cancelled and "purchase_request.cancelled" not in types:
            return False
    async with platform.admin("procurement") as admin:
        demand = (await admin.get("/demand")).json()
    return sum(row["requests"] for row in demand) == len(load.requests) - len(load.cancelled)


async def _drain(platform: ChaosPlatform, seen: Observations, load: Workload, timeout: float) -> str:
    """Wait until all is quiet; what is still not, if the time runs out ("" when drained)."""
    deadline = time.monotonic() + timeout
    while True:
        waiting = await _still_busy(platform, seen, load)
        if not waiting or time.monotonic() > deadline:
            return waiting
        await asyncio.sleep(2.0)


async def _still_busy(platform: ChaosPlatform, seen: Observations, load: Workload) -> str:
    unsettled = sum(not seen.settled(key) for key in load.keys)
    if unsettled:
        return f"{unsettled} requests not settled"
    if seen.probes_unanswered():
        return f"{seen.probes_unanswered()} recovery probes unanswered"
    if seen.orders_unanswered:
        return f"{seen.orders_unanswered} orders unanswered by their suppliers"
    if seen.shipments_pending:
        return f"{seen.shipments_pending} confirmed orders not shipped yet"
    if seen.to_receive:
        return f"{len(seen.to_receive)} dispatches not received yet"
    try:
        for service in SERVICES:
            busy = {n for n, _, v in await platform.metrics(service) if v and n in _QUIET_METRICS}
            if busy:
                return f"{service}: {', '.join(sorted(busy))} not 0"
        behind = [f"{s}/{t}" for (s, t), lag in (await platform.committed_lag()).items() if lag]
    except (httpx.HTTPError, OSError) as error:
        return f"platform not answering ({type(error).__name__})"
    return f"consumer groups behind on {', '.join(behind)}" if behind else ""


_QUIET_METRICS = frozenset(
    {"alliance_outbox_backlog", "alliance_consumer_lag", "alliance_notices_pending"}
)


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float, what: str) -> str:
    """Wait for `condition`; "" when it came, else what did not (the run goes on regardless,
    so the checks show what became of everything)."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError, OSError):
            if await condition():
                return ""
        if time.monotonic() > deadline:
            return f"no {what} within {timeout:.0f} s"
        await asyncio.sleep(0.5)
