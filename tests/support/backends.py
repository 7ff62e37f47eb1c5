"""Where the tests' broker and database come from, chosen once per session.

1. `ALLIANCE_KAFKA_BOOTSTRAP` / `ALLIANCE_DATABASE_URL` set: those servers, as they are.
2. `ALLIANCE_TEST_BACKEND=testcontainers`: Kafka and PostgreSQL containers (needs Docker
   and the `testcontainers` extra); the tests are skipped when no Docker engine answers.
3. `ALLIANCE_TEST_BACKEND=kafka` (`make test-kafka`): a real Apache Kafka, one KRaft node of
   the compose image's version (shared/runtime/kafka_cluster.py; needs a JDK and Maven), and
   embedded PostgreSQL. The tests of broker loss and of tenancy start their own clusters.
4. Otherwise the embedded Tansu broker and embedded PostgreSQL on free ports, in a temporary
   directory: no Docker, nothing to install, nothing left behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.runtime.embedded_kafka import EmbeddedKafka
from shared.runtime.embedded_postgres import EmbeddedPostgres
from shared.runtime.kafka_cluster import KafkaCluster, kafka_libs
from shared.runtime.ports import free_port
from shared.settings import database_url_for

EPHEMERAL_POSTGRES = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
"""A test server's data is thrown away: skip the disk flushes that make CREATE DATABASE slow."""


REPOSITORY = Path(__file__).resolve().parents[2]
KAFKA_CACHE = REPOSITORY / ".alliance"
"""Where the broker's jars are fetched once (.alliance/kafka/<version>/libs, not tracked)."""


def _use_testcontainers() -> bool:
    return os.environ.get("ALLIANCE_TEST_BACKEND", "").lower() == "testcontainers"


def use_apache_kafka() -> bool:
    return os.environ.get("ALLIANCE_TEST_BACKEND", "").lower() == "kafka"


@contextmanager
def apache_kafka(brokers: int = 1, sasl: bool = False) -> Iterator[KafkaCluster]:
    """A fresh local Apache Kafka cluster in a scratch directory, stopped afterwards."""
    with scratch_directory("alliance-test-apache-kafka-") as directory:
        cluster = KafkaCluster(directory, kafka_libs(KAFKA_CACHE), brokers=brokers, sasl=sasl)
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()


@contextmanager
def kafka_backend() -> Iterator[str]:
    """Yield a Kafka bootstrap address for the whole session."""
    if bootstrap := os.environ.get("ALLIANCE_KAFKA_BOOTSTRAP"):
        yield bootstrap
    elif _use_testcontainers():
        from testcontainers.kafka import KafkaContainer

        with _running(KafkaContainer("confluentinc/cp-kafka:7.6.1")) as container:
            yield container.get_bootstrap_server()
    elif use_apache_kafka():
        with apache_kafka() as cluster:
            yield cluster.bootstrap
    else:
        with scratch_directory("alliance-test-kafka-") as directory:
            broker = EmbeddedKafka(free_port(), directory / "kafka.log")
            broker.start()
            try:
                yield broker.bootstrap
            finally:
                broker.stop()


@contextmanager
def postgres_backend() -> Iterator[str]:
    """Yield the postgresql:// URL of a server on which tests may create databases."""
    if url := os.environ.get("ALLIANCE_DATABASE_URL"):
        yield url
    elif _use_testcontainers():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer(
            "postgres:16-alpine",
            username="postgres",
            password="postgres",
            dbname="postgres",
            driver=None,
        )
        with _running(container) as started:
            yield started.get_connection_url()
    else:
        with scratch_directory("alliance-test-postgres-") as directory:
            server = EmbeddedPostgres(directory, free_port(), server_settings=EPHEMERAL_POSTGRES)
            server.start()
            try:
                yield server.server_url
            finally:
                server.stop()


@contextmanager
def _running(container: Any) -> Iterator[Any]:
    """Start a testcontainers container, skipping (only) when no Docker engine is reachable."""
    import docker

    try:
        docker.from_env().ping()
    except Exception as exc:  # the docker SDK raises several unrelated types for "no engine"
        pytest.skip(f"ALLIANCE_TEST_BACKEND=testcontainers but no Docker engine answers: {exc}")
    with container as started:
        yield started


@contextmanager
def scratch_directory(prefix: str) -> Iterator[Path]:
    """A temporary directory outside pytest's tmp_path, whose parent pytest keeps at mode 0700
    (resetting it whenever another session starts): embedded PostgreSQL runs as another user
    under root and must be able to reach its data directory."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


_TEST_DATABASE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def drop_database(server_url: str, name: str) -> None:
    """Drop a test's database, disconnecting whatever the test left connected."""
    if not _TEST_DATABASE.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    conn = await asyncpg.connect(database_url_for(server_url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
