"""Tenancy on Apache Kafka: `alliance kafka provision` against a real broker with SASL/SCRAM and
ACLs, and each party's principal allowed exactly what docs/ops.md says (`make test-kafka`;
skipped on the embedded broker, which has neither SASL nor ACLs)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from aiokafka.structs import TopicPartition

from shared import topics
from shared.kafka_provision import Provisioner, desired_acls, password_variable, principals, service_principal
from shared.runtime.kafka_cluster import KafkaCluster
from tests.support.backends import apache_kafka, use_apache_kafka
from tests.support.erp import cloud_event, signed
from tests.support.seeds import MEMBER_SECRETS, item, member, supplier, write_seed
from tests.support.services import Platform

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not use_apache_kafka(), reason="needs Apache Kafka: ALLIANCE_TEST_BACKEND=kafka"),
    pytest.mark.asyncio(loop_scope="module"),
]

PREFIX = "tenancy."
MEMBERS = ["m-huber", "m-maier"]
SUPPLIERS = ["s-a", "s-b"]
INTERNAL = [
    topics.MEMBER_EVENTS, topics.ADMITTED_REQUESTS, topics.RISK_REPORTS, topics.MEMBER_NOTICES,
    topics.PROCUREMENT_EVENTS, topics.DEAD_LETTERS, topics.QUARANTINE,
]


def passwords(member_ids: list[str], supplier_ids: list[str]) -> dict[str, str]:
    return {password_variable(p): f"pw-{p}-0123456789" for p in principals(member_ids, supplier_ids)}


@pytest.fixture(scope="module")
def cluster() -> Iterator[KafkaCluster]:
    with apache_kafka(sasl=True) as running:
        yield running


@pytest.fixture(scope="module")
def provisioner(cluster: KafkaCluster) -> Provisioner:
    provisioner = Provisioner(cluster.admin_client_config(), PREFIX, partitions=3, replication_factor=1)
    changes = provisioner.provision(MEMBERS, SUPPLIERS, passwords(MEMBERS, SUPPLIERS))
    assert set(changes.topics_created) == set(topics.all_topics(PREFIX, SUPPLIERS))
    assert set(changes.principals_set) == set(principals(MEMBERS, SUPPLIERS))
    assert changes.acls_added == len(desired_acls(PREFIX, MEMBERS, SUPPLIERS))
    return provisioner


def as_principal(cluster: KafkaCluster, name: str, password: str | None = None) -> dict[str, Any]:
    return {
        **cluster.admin_client_config(),
        "sasl_plain_username": name,
        "sasl_plain_password": password or passwords(MEMBERS, SUPPLIERS)[password_variable(name)],
    }


async def read(options: dict[str, Any], topic: str) -> list[bytes]:
    """The values at the start of `topic`'s first partition, as this principal can fetch them.

    Raises TopicAuthorizationFailedError when the broker refuses the fetch, or hides the topic
    altogether (Kafka lists only the topics a principal may describe)."""
    consumer = AIOKafkaConsumer(**options, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            raise TopicAuthorizationFailedError(topic)
        consumer.assign([TopicPartition(topic, 0)])
        values: list[bytes] = []
        for _ in range(4):  # a refused fetch surfaces on the call after it
            values += [r.value for batch in (await consumer.getmany(timeout_ms=500)).values() for r in batch]
        return values
    finally:
        await consumer.stop()


async def write(options: dict[str, Any], topic: str, value: bytes = b"{}", key: bytes | None = None,
                headers: list[tuple[str, bytes]] | None = None, partition: int | None = None) -> None:
    producer = AIOKafkaProducer(**options, acks="all", request_timeout_ms=10_000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers or [], partition=partition)
    finally:
        await producer.stop()


async def test_running_provision_again_changes_nothing(provisioner: Provisioner) -> None:
    changes = await asyncio.to_thread(provisioner.provision, MEMBERS, SUPPLIERS, passwords(MEMBERS, SUPPLIERS))
    assert changes.nothing, changes.lines()


async def test_a_supplier_reads_its_own_orders(cluster: KafkaCluster, provisioner: Provisioner) -> None:
    await write(cluster.admin_client_config(), PREFIX + topics.supplier_orders("s-a"), b'{"order": 1}', partition=0)
    assert b'{"order": 1}' in await read(as_principal(cluster, "s-a"), PREFIX + topics.supplier_orders("s-a"))


async def test_supplier_b_cannot_read_supplier_a_orders(cluster: KafkaCluster, provisioner: Provisioner) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await read(as_principal(cluster, "s-b"), PREFIX + topics.supplier_orders("s-a"))


@pytest.mark.parametrize("topic", INTERNAL)
async def test_a_member_cannot_read_the_alliance_topics(cluster: KafkaCluster, provisioner: Provisioner,
                                                         topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await read(as_principal(cluster, "m-huber"), PREFIX + topic)


@pytest.mark.parametrize("topic", [topics.supplier_orders("s-a"), topics.SUPPLIER_RESPONSES])
async def test_a_member_cannot_read_the_supplier_topics(cluster: KafkaCluster, provisioner: Provisioner,
                                                        topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await read(as_principal(cluster, "m-huber"), PREFIX + topic)


@pytest.mark.parametrize("topic", [topics.PURCHASE_REQUESTS, topics.RISK_ALERTS])
async def test_a_member_cannot_read_other_members_requests_or_alerts(cluster: KafkaCluster, provisioner: Provisioner,
                                                                     topic: str) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await read(as_principal(cluster, "m-huber"), PREFIX + topic)


async def test_a_member_cannot_write_supplier_responses(cluster: KafkaCluster, provisioner: Provisioner) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await write(as_principal(cluster, "m-huber"), PREFIX + topics.SUPPLIER_RESPONSES)


@pytest.mark.parametrize("who", ["nobody", "m-huber"])
async def test_an_unknown_principal_or_a_wrong_password_cannot_connect(cluster: KafkaCluster,
                                                                       provisioner: Provisioner, who: str) -> None:
    with pytest.raises(KafkaConnectionError):
        await write(as_principal(cluster, who, password="not-the-password"), PREFIX + topics.PURCHASE_REQUESTS)


async def test_a_member_removed_from_the_seed_loses_its_principal_and_acls(cluster: KafkaCluster) -> None:
    provisioner = Provisioner(cluster.admin_client_config(), "leaving.", partitions=1, replication_factor=1)
    everyone = passwords(["m-stays", "m-leaves"], [])
    await asyncio.to_thread(provisioner.provision, ["m-stays", "m-leaves"], [], everyone)
    leaving = {**cluster.admin_client_config(), "sasl_plain_username": "m-leaves",
               "sasl_plain_password": everyone[password_variable("m-leaves")]}
    await write(leaving, "leaving." + topics.PURCHASE_REQUESTS)

    changes = await asyncio.to_thread(provisioner.provision, ["m-stays"], [], everyone)
    assert changes.principals_removed == ["m-leaves"]
    assert changes.acls_removed == 4  # WRITE and DESCRIBE on requests and on risk alerts
    with pytest.raises(KafkaConnectionError):
        await write(leaving, "leaving." + topics.PURCHASE_REQUESTS)


@pytest_asyncio.fixture(loop_scope="module")
async def services_on_sasl(cluster: KafkaCluster, provisioner: Provisioner, postgres_server_url: str,
                           tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    """The three services, each connected as its own provisioned principal."""
    workdir = tmp_path_factory.mktemp("tenancy")
    seed = write_seed(workdir / "seed.yaml", [member(m) for m in MEMBERS],
                      [supplier(s, [item("BOARD-18MM", [(1, "10.00")])]) for s in SUPPLIERS])
    running = Platform(cluster.bootstrap, postgres_server_url, workdir, tag="tenancy")
    running.extra_env = {"ALLIANCE_TOPIC_PREFIX": PREFIX}
    await running.prepare_databases()
    try:
        for service in ("procurement", "members", "notifications"):
            principal = service_principal(service)
            await running.start(service, Path(seed), ALLIANCE_KAFKA_SASL_USERNAME=principal,
                                ALLIANCE_KAFKA_SASL_PASSWORD=passwords(MEMBERS, SUPPLIERS)[password_variable(principal)])
        yield running
    finally:
        running.stop_all()
        await running.drop()


@pytest.mark.e2e
async def test_a_provisioned_member_publishes_requests_that_are_admitted(
    cluster: KafkaCluster, services_on_sasl: Platform
) -> None:
    data = {"request_id": "r-sasl", "member_id": "m-huber", "sku": "BOARD-18MM", "quantity": 5,
            "needed_by": "2027-01-15"}
    value = cloud_event("purchase_request.submitted", "erp/m-huber", data)
    await write(as_principal(cluster, "m-huber"), PREFIX + topics.PURCHASE_REQUESTS, value, key=b"m-huber",
                headers=signed(MEMBER_SECRETS["m-huber"], value))
    # each service reads what its ACLs let it read, in its own group: procurement takes the
    # admission, notifications the member's notice of it (members' own read is the admission)
    for service, topic in (("procurement", topics.ADMITTED_REQUESTS), ("notifications", topics.MEMBER_NOTICES)):
        await _committed_in(cluster, f"{PREFIX}alliance-{service}", PREFIX + topic)
    admitted = AIOKafkaConsumer(PREFIX + topics.ADMITTED_REQUESTS, **cluster.admin_client_config(), group_id=None,
                                auto_offset_reset="earliest")
    await admitted.start()
    try:
        async with asyncio.timeout(60):
            while True:
                records = [r for batch in (await admitted.getmany(timeout_ms=500)).values() for r in batch]
                if any(json.loads(r.value)["data"].get("request_id") == "r-sasl" for r in records):
                    break
    finally:
        await admitted.stop()


async def _committed_in(cluster: KafkaCluster, group: str, topic: str) -> None:
    """Wait until `group` has committed an offset on `topic`: its service read and handled a record."""
    admin = AIOKafkaAdminClient(**cluster.admin_client_config())
    await admin.start()
    try:
        async with asyncio.timeout(90):
            while True:
                offsets = await admin.list_consumer_group_offsets(group)
                if any(tp.topic == topic and meta.offset > 0 for tp, meta in offsets.items()):
                    return
                await asyncio.sleep(0.5)
    finally:
        await admin.close()
