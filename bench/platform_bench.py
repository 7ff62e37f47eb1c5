"""Benchmarks of the running platform on the real broker and database: the admission stage,
the pipeline into procurement's open demand, and end-to-end latency.

Each run uses a fresh topic prefix, and reports how deep its topics got (Tansu slows down
as a topic grows past ~80k records).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg

from shared import topics
from tests.support.erp import cloud_event, signed
from tests.support.kafka import kafka_producer
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import Platform

BENCH_MEMBERS = tuple(f"m-bench-{n:02d}" for n in range(20))
SKUS = tuple(f"SKU-{n:04d}" for n in range(50))


def bench_seed(path: Path) -> Path:
    return write_seed(
        path,
        [member(m) for m in BENCH_MEMBERS],
        [supplier("s-bench-a", [item(sku, [(1, "10.00"), (100, "9.00"), (1000, "8.00")], capacity=10**9) for sku in SKUS]),
         supplier("s-bench-b", [item(sku, [(1, "10.50"), (500, "8.50")], capacity=10**9) for sku in SKUS])],
    )


def signed_request(n: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    member_id = BENCH_MEMBERS[n % len(BENCH_MEMBERS)]
    value = cloud_event("purchase_request.submitted", f"erp/{member_id}", {
        "request_id": f"b-{n}", "member_id": member_id, "sku": SKUS[n % len(SKUS)], "quantity": 1 + n % 40,
        "needed_by": "2027-06-30"})
    secret = MEMBER_SECRETS.get(member_id, f"{member_id}-erp-secret")
    return member_id.encode(), value, signed(secret, value)


async def prefill(bootstrap: str, topic: str, count: int, start: int = 0) -> float:
    """Publish `count` signed requests as fast as the broker takes them; returns records/s."""
    began = time.perf_counter()
    async with kafka_producer(bootstrap) as producer:
        pending = []
        for n in range(start, start + count):
            key, value, headers = signed_request(n)
            pending.append(await producer.send(topic, value, key=key, headers=headers))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    return count / (time.perf_counter() - began)


async def wait_for_count(url: str, query: str, target: int, timeout: float) -> tuple[int, float]:
    """Rows counted from the first one seen to `target`, and the seconds that took: the rate
    once consuming, without the consumer group's join (about 5 s on Tansu)."""
    conn = await asyncpg.connect(url)
    began = time.perf_counter()
    first: tuple[int, float] | None = None
    try:
        while (count := await conn.fetchval(query)) < target:
            if first is None and count > 0:
                first = (count, time.perf_counter())
            if time.perf_counter() - began > timeout:
                raise TimeoutError(f"{query!r} did not reach {target} in {timeout:.0f} s")
            await asyncio.sleep(0.02)
    finally:
        await conn.close()
    first_count, first_at = first or (0, began)
    return target - first_count, time.perf_counter() - first_at


async def bench_admission(kafka_bootstrap: str, server_url: str, workdir: Path, requests: int = 60_000) -> dict[str, object]:
    """The members service alone: a backlog of signed requests, admitted as fast as it can."""
    running = Platform(kafka_bootstrap, server_url, workdir)
    await running.prepare()
    try:
        produce_rate = await prefill(kafka_bootstrap, running.topic(topics.PURCHASE_REQUESTS), requests)
        service = await running.start("members", bench_seed(workdir / "bench-seed.yaml"))
        measured, seconds = await wait_for_count(
            running.database_url("members"), "SELECT count(*) FROM admitted_requests", requests, timeout=600
        )
        rss = service_rss(service.process.pid if service.process else 0)
        return {"requests": requests, "seconds": round(seconds, 2), "requests_per_s": round(measured / seconds),
                "topic_depth": requests, "producer_records_per_s": round(produce_rate), "members_rss_mb": rss}
    finally:
        running.stop_all()
        await running.drop()


def service_rss(pid: int) -> float:
    import psutil

    try:
        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except psutil.Error:
        return 0.0
