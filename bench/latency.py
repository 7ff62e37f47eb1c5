"""End-to-end latency: from an ERP publishing a signed request to the member's system receiving
the `purchase_request.accepted` webhook, at a fixed request rate.

members and notifications run as processes; every bench member's webhook points at a receiver
in this process (tools/webhook_receiver.py), so send and arrival times come from one clock.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from bench.platform_bench import (
    BENCH_SUPPLIERS,
    CpuSplit,
    Profiler,
    Progress,
    bench_seed,
    cpu_us_per_request,
    records_per_batch,
    service_rss,
    signed_request,
)
from shared import topics
from tests.support.services import Platform
from tools.webhook_receiver import WebhookReceiver

ACCEPTED = "purchase_request.accepted"
TICK_S = 0.005
"""The producer sends what is due every 5 ms: at 1,000/s, five requests at a time."""
ARRIVAL_TIMEOUT_S = 120
"""How long after the last send a webhook may still arrive; later ones count as missing."""


@dataclass
class Arrivals:
    """The bench members' receiving systems as a board for the webhook receiver: when each
    request's accepted webhook arrived (time.perf_counter(), the send stamps' clock), the first
    time (the receiver takes a redelivery once)."""

    at: dict[str, float] = field(default_factory=dict)
    bad_signatures: int = 0
    duplicate_deliveries: int = 0

    def notice(self, member_id: str, event: dict[str, Any]) -> None:
        if event["type"] == ACCEPTED:
            self.at.setdefault(event["data"]["request_id"], time.perf_counter())


async def bench_latency(
    kafka_bootstrap: str,
    server_url: str,
    workdir: Path,
    rate: int = 1_000,
    duration: float = 20.0,
    progress: Progress | None = None,
    profile_dir: Path | None = None,
) -> dict[str, object]:
    """p50/p99 of publish -> accepted webhook for `rate` requests/s during `duration` seconds,
    after a warm-up that waits out both consumer groups' joins. With `profile_dir`, py-spy
    samples both services from the end of the warm-up (see Profiler)."""
    arrivals = Arrivals()
    receiver = WebhookReceiver(board=arrivals)
    base_url = await receiver.start()
    running = Platform(kafka_bootstrap, server_url, workdir)
    await running.prepare(BENCH_SUPPLIERS)
    try:
        seed = bench_seed(workdir / "latency-seed.yaml", webhook_base=base_url)
        services = {name: await running.start(name, seed) for name in ("members", "notifications")}
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False, acks="all")
        await producer.start()
        try:
            topic = running.topic(topics.PURCHASE_REQUESTS)
            if progress:
                progress(0, "warming up: waiting for the first accepted webhook")
            await _warm_up(producer, topic, arrivals)
            profiler = Profiler(profile_dir, "latency")
            profiler.start(services)
            cpu = CpuSplit(services)
            cpu.start()
            try:
                sent, send_seconds = await _send_at_rate(producer, topic, rate, duration, progress)
                await _wait_for_arrivals(arrivals, sent, ARRIVAL_TIMEOUT_S, progress)
            finally:
                profiles = profiler.stop()
            cpu_cores = cpu.stop()
            batches = await records_per_batch(services)
            segments = await _where_the_time_went(running.database_url("notifications"), sent)
        finally:
            await producer.stop()
        rss = {name: service_rss(s.process.pid if s.process else 0) for name, s in services.items()}
    finally:
        running.stop_all()
        await running.drop()
        await receiver.stop()
    latencies = sorted((arrivals.at.get(request_id, math.inf) - at) * 1000 for request_id, at in sent.items())
    arrived = sorted(arrivals.at[request_id] for request_id in sent if request_id in arrivals.at)
    received = len(arrived)
    delivering_s = arrived[-1] - min(sent.values()) if arrived else 0.0
    return {
        "rate_target_per_s": rate,
        "rate_sent_per_s": round(len(sent) / send_seconds),
        "requests": len(sent),
        "received": received,
        "missing": len(sent) - received,
        "delivered_per_s": round(received / delivering_s) if delivering_s else 0,
        "p50_ms": _percentile(latencies, 0.50),
        "p90_ms": _percentile(latencies, 0.90),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": _percentile(latencies, 1.0),
        "segments": segments,
        "topic_depth": {topics.PURCHASE_REQUESTS: len(sent), topics.MEMBER_NOTICES: len(sent)},
        "cpu_cores": cpu_cores,
        "cpu_us_per_request": cpu_us_per_request(cpu.cpu_seconds, len(sent)),
        "records_per_batch": batches,
        "rss_mb": rss,
        "profiles": profiles,
    }


async def _warm_up(producer: AIOKafkaProducer, topic: str, arrivals: Arrivals, timeout: float = 90) -> None:
    """One request every half second until a webhook arrives: both services are then consuming."""
    began = time.perf_counter()
    n = 0
    while not arrivals.at:
        if time.perf_counter() - began > timeout:
            raise TimeoutError(f"no accepted webhook within {timeout:.0f} s of warm-up")
        key, value, headers = signed_request(n, prefix="warmup")
        await producer.send_and_wait(topic, value, key=key, headers=headers)
        n += 1
        await asyncio.sleep(0.5)
    await asyncio.sleep(1)


async def _send_at_rate(
    producer: AIOKafkaProducer, topic: str, rate: int, duration: float, progress: Progress | None
) -> tuple[dict[str, float], float]:
    """Send request n at began + n/rate (in ticks); stamp each just before it is handed to the
    producer. Returns the stamps by request id and the seconds sending took."""
    total = int(rate * duration)
    sent: dict[str, float] = {}
    acks = []
    began = reported = time.perf_counter()
    n = 0
    while n < total:
        due = min(total, int((time.perf_counter() - began) * rate) + 1)
        while n < due:
            key, value, headers = signed_request(n, prefix="lat")
            sent[f"lat-{n}"] = time.perf_counter()
            acks.append(await producer.send(topic, value, key=key, headers=headers))
            n += 1
        if progress and time.perf_counter() - reported > 0.25:
            reported = time.perf_counter()
            progress(n / total, f"{n:,} of {total:,} sent at {rate:,}/s")
        await asyncio.sleep(TICK_S)
    seconds = time.perf_counter() - began
    await asyncio.gather(*acks)
    return sent, seconds


async def _wait_for_arrivals(
    arrivals: Arrivals, sent: dict[str, float], timeout: float, progress: Progress | None
) -> None:
    """Until every sent request's webhook arrived or `timeout` passed (missing ones are reported)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        waiting = sum(request_id not in arrivals.at for request_id in sent)
        if not waiting:
            return
        if progress:
            progress(1 - waiting / len(sent), f"{waiting:,} webhooks still to arrive")
        await asyncio.sleep(0.2)


SEGMENTS = (
    ("publish → members decided", "occurred"),
    ("→ stored by notifications", "stored"),
    ("→ routed to the webhook", "routed"),
    ("→ delivered", "delivered"),
)
"""The accepted notice's way, from the timestamps notifications keeps (occurred_at is when
members decided and built the notice)."""


async def _where_the_time_went(notifications_url: str, sent: dict[str, float]) -> dict[str, object]:
    """p50/p99 of each segment of the way, from notifications' own records: reads its schema,
    so a change there makes the breakdown unavailable, never the stage fail."""
    to_wall = time.time() - time.perf_counter()
    try:
        conn = await asyncpg.connect(notifications_url)
        try:
            rows = await conn.fetch(
                "SELECT n.data->>'request_id' AS request_id, extract(epoch FROM n.occurred_at) AS occurred,"
                " extract(epoch FROM n.stored_at) AS stored, extract(epoch FROM n.routed_at) AS routed,"
                " extract(epoch FROM d.delivered_at) AS delivered"
                " FROM notices n JOIN deliveries d USING (notice_id)"
                " WHERE n.notice_type = $1 AND d.channel = 'webhook' AND d.delivered_at IS NOT NULL",
                ACCEPTED,
            )
        finally:
            await conn.close()
    except (asyncpg.PostgresError, OSError) as error:
        return {"unavailable": f"{type(error).__name__}: {error}"}
    spans: dict[str, list[float]] = {name: [] for name, _ in SEGMENTS}
    for row in rows:
        if row["request_id"] not in sent:
            continue
        previous = sent[row["request_id"]] + to_wall
        for name, column in SEGMENTS:
            spans[name].append((float(row[column]) - previous) * 1000)
            previous = float(row[column])
    return {name: {"p50_ms": _percentile(sorted(v), 0.5), "p99_ms": _percentile(sorted(v), 0.99)}
            for name, v in spans.items() if v}


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of an ascending list, in ms to 0.1; None when it falls on a
    webhook that never arrived."""
    value = ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
    return round(value, 1) if value < math.inf else None
