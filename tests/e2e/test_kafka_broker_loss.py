"""Losing a broker under load (`make test-kafka`; skipped on the embedded broker, which has no
replicas): three Apache Kafka brokers, replication factor 3, min.insync.replicas 2, members and
procurement running; while 10,000 signed requests flow, kill -9 the broker leading
`erp.purchase-requests` (partition 0) or, separately, `alliance.members.admitted-requests`.

Every request must be admitted exactly once and held in procurement's open demand once, the
cycle's orders must hold no request twice, and the services must be healthy again without a
restart. Then the broker comes back and every partition has its three in-sync replicas again.
How long recovery and resync took is printed (`-s`) and kept as a test property, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from shared import topics
from shared.runtime.kafka_cluster import KafkaCluster
from shared.runtime.topics import create_topics
from tests.support.backends import apache_kafka, use_apache_kafka
from tests.support.erp import cloud_event, signed
from tests.support.kafka import wait_for_records
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import Platform

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not use_apache_kafka(), reason="needs Apache Kafka: ALLIANCE_TEST_BACKEND=kafka"),
]

REQUESTS = 10_000
MEMBERS = ("m-huber", "m-maier")
KILL_AFTER = 2_000
"""Requests admitted before the broker is killed: the rest flow through the loss."""
PARTITIONS = 3


@pytest.fixture(scope="module")
def cluster() -> Iterator[KafkaCluster]:
    with apache_kafka(brokers=3) as running:
        yield running


async def leader_of(cluster: KafkaCluster, topic: str, partition: int = 0) -> int:
    admin = AIOKafkaAdminClient(**cluster.admin_client_config())
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return next(p["leader"] for p in description["partitions"] if p["partition"] == partition)


async def under_replicated(cluster: KafkaCluster, names: list[str]) -> list[str]:
    """The partitions of `names` with fewer than three in-sync replicas."""
    admin = AIOKafkaAdminClient(**cluster.admin_client_config())
    await admin.start()
    try:
        descriptions = await admin.describe_topics(names)
    finally:
        await admin.close()
    return [f"{d['topic']}/{p['partition']}" for d in descriptions for p in d["partitions"] if len(p["isr"]) < 3]


async def send_requests(bootstrap: str, topic: str) -> None:
    """10,000 signed requests at about 1,000 a second, so that they are still flowing at the kill."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                                request_timeout_ms=60_000, linger_ms=5)
    await producer.start()
    try:
        for start in range(0, REQUESTS, 100):
            sends = []
            for n in range(start, start + 100):
                member_id = MEMBERS[n % 2]
                value = cloud_event("purchase_request.submitted", f"erp/{member_id}", {
                    "request_id": f"r-{n}", "member_id": member_id, "sku": "BOARD-18MM", "quantity": 1 + n % 50,
                    "needed_by": "2027-02-01"})
                sends.append(await producer.send(topic, value, key=member_id.encode(),
                                                 headers=signed(MEMBER_SECRETS[member_id], value)))
            await asyncio.sleep(0.1)
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def count(url: str, query: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


async def healthy(running: Platform) -> bool:
    async with httpx.AsyncClient(timeout=2) as client:
        for service in running.services.values():
            try:
                if (await client.get(f"{service.url}/health")).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
    return True


@pytest.mark.parametrize("lost", [topics.PURCHASE_REQUESTS, topics.ADMITTED_REQUESTS])
async def test_losing_the_leader_under_load_loses_nothing_and_doubles_nothing(
    cluster: KafkaCluster, postgres_server_url: str, tmp_path, lost: str, record_property
) -> None:
    seed = write_seed(tmp_path / "seed.yaml", [member(m) for m in MEMBERS],
                      [supplier("s-holz", [item("BOARD-18MM", [(1, "10.00")], capacity=10_000_000)])])
    running = Platform(cluster.bootstrap, postgres_server_url, tmp_path,
                       extra_env={"ALLIANCE_TOPIC_REPLICATION_FACTOR": "3", "ALLIANCE_TOPIC_PARTITIONS": str(PARTITIONS)})
    names = topics.all_topics(running.topic_prefix, ["s-holz"])
    await running.prepare_databases()
    await create_topics(cluster.bootstrap, names, PARTITIONS, replication_factor=3)
    members_db, procurement_db = running.database_url("members"), running.database_url("procurement")
    try:
        await running.start("procurement", seed)
        await running.start("members", seed, ALLIANCE_CONSUMER_BATCH_SIZE="200")
        processes = {name: s.process.pid for name, s in running.services.items()}
        sending = asyncio.create_task(send_requests(cluster.bootstrap, running.topic(topics.PURCHASE_REQUESTS)))
        while await count(members_db, "SELECT count(*) FROM admitted_requests") < KILL_AFTER:
            assert not sending.done() or sending.exception() is None
            await asyncio.sleep(0.05)

        victim = await leader_of(cluster, running.topic(lost))
        in_demand = await count(procurement_db, "SELECT count(*) FROM purchase_requests")
        killed = time.monotonic()
        cluster.kill(victim)
        while not (await healthy(running)
                   and await count(procurement_db, "SELECT count(*) FROM purchase_requests") > in_demand + 100):
            await asyncio.sleep(0.1)
        recovered_s = time.monotonic() - killed
        await sending

        async with asyncio.timeout(300):
            while await count(procurement_db, "SELECT count(*) FROM purchase_requests") < REQUESTS:
                await asyncio.sleep(0.2)
        assert await count(members_db, "SELECT count(*) FROM admitted_requests") == REQUESTS
        assert await count(procurement_db, "SELECT count(DISTINCT (member_id, request_id)) FROM purchase_requests"
                           " WHERE status = 'open'") == REQUESTS
        assert {name: s.process.pid for name, s in running.services.items()} == processes  # never restarted
        assert all(s.process.poll() is None for s in running.services.values())

        restarted = time.monotonic()
        cluster.launch(victim)  # from this thread: a node dies with the thread that started it
        await asyncio.to_thread(cluster.wait_ready, victim)
        while await under_replicated(cluster, [running.topic(lost)]):
            await asyncio.sleep(0.2)
        resynced_s = time.monotonic() - restarted

        async with running.services["procurement"].admin() as admin:
            (await admin.post("/cycles/close", timeout=120)).raise_for_status()
        assert await count(procurement_db, "SELECT count(*) FROM deliveries") == REQUESTS
        assert await count(procurement_db, "SELECT count(DISTINCT (member_id, request_id)) FROM deliveries") == REQUESTS
        orders = await count(procurement_db, "SELECT count(*) FROM orders")
        placed = await wait_for_records(cluster.bootstrap, running.topic(topics.supplier_orders("s-holz")), orders, 120)
        ids_per_order = Counter(json.loads(r.value)["data"]["order_id"] for r in {r.value: r for r in placed}.values())
        assert all(n == 1 for n in ids_per_order.values()), ids_per_order  # redelivered or not, one order each

        figures = (f"broker {victim} (leader of {lost}/0) killed after {KILL_AFTER} of {REQUESTS} admissions: "
                   f"flowing again and healthy after {recovered_s:.1f} s; back and in sync after {resynced_s:.1f} s")
        print(figures)
        record_property("broker_loss", figures)
    finally:
        running.stop_all()
        await running.drop()
        for node in cluster.nodes:  # the next test starts with all three
            if not node.running:
                cluster.restart(node.node_id)
