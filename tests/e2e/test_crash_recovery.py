"""kill -9 of the members service in the middle of consuming, then restart: nothing lost,
no double effect (issue 2)."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict

import asyncpg
import pytest

from shared import topics
from tests.support.erp import cloud_event, signed
from tests.support.kafka import kafka_producer, wait_for_records
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import platform

pytestmark = pytest.mark.e2e
REQUESTS = 6000


async def test_kill_9_mid_batch_loses_nothing_and_doubles_nothing(kafka_bootstrap, postgres_server_url, tmp_path):
    seed = write_seed(tmp_path / "seed.yaml", [member("m-huber"), member("m-maier")],
                      [supplier("s-holz", [item("BOARD-18MM", [(1, "10.00")])])])
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path) as running:
        service = await running.start("members", seed, ALLIANCE_CONSUMER_BATCH_SIZE="200")
        async with kafka_producer(kafka_bootstrap) as producer:
            sends = []
            for n in range(REQUESTS):
                member_id = ("m-huber", "m-maier")[n % 2]
                value = cloud_event("purchase_request.submitted", "erp", {
                    "request_id": f"r-{n}", "member_id": member_id, "sku": "BOARD-18MM", "quantity": 1 + n % 50,
                    "needed_by": "2027-02-01"})
                sends.append(await producer.send(running.topic(topics.PURCHASE_REQUESTS), value,
                                                 key=member_id.encode(), headers=signed(MEMBER_SECRETS[member_id], value)))
            await asyncio.gather(*sends)

        conn = await asyncpg.connect(running.database_url("members"))
        try:
            while (done := await conn.fetchval("SELECT count(*) FROM admitted_requests")) < REQUESTS // 10:
                await asyncio.sleep(0.02)
            service.kill()
            assert done < REQUESTS, "the service finished before it could be killed mid-stream"
            service.start()
            await service.wait_healthy()
            for _ in range(600):
                if await conn.fetchval("SELECT count(*) FROM admitted_requests") == REQUESTS:
                    break
                await asyncio.sleep(0.1)
            assert await conn.fetchval("SELECT count(*) FROM admitted_requests") == REQUESTS
            for _ in range(300):
                if await conn.fetchval("SELECT count(*) FROM outbox") == 0:
                    break
                await asyncio.sleep(0.1)
        finally:
            await conn.close()

        admitted = await wait_for_records(kafka_bootstrap, running.topic(topics.ADMITTED_REQUESTS), REQUESTS, 120)
        event_ids: dict[tuple[str, str], set[str]] = defaultdict(set)
        for record in admitted:
            event = json.loads(record.value)
            event_ids[(event["data"]["member_id"], event["data"]["request_id"])].add(event["id"])
        assert len(event_ids) == REQUESTS  # nothing lost
        assert all(len(ids) == 1 for ids in event_ids.values())  # any redelivery carries the same id
