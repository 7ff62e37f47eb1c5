"""The platform under test: `alliance run` (started by demo's launcher) on the embedded broker,
or on a local Apache Kafka cluster the harness owns (`--broker kafka`), with a PostgreSQL server
the harness owns.

Why not the embedded PostgreSQL: the supervisor treats its embedded database exiting as fatal
and stops the whole platform, by design. A server given through `ALLIANCE_DATABASE_URL` is not
supervised, so the harness can stop and start it while the services write. Everything else is
exactly `make run`: the supervisor restarts a killed service, the broker is the embedded Tansu.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import httpx
import psutil
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from chaos.broker import uncommitted
from demo.platform import Platform
from shared.runtime.embedded_postgres import EmbeddedPostgres
from shared.runtime.kafka_cluster import KafkaCluster
from shared.runtime.ports import free_port
from shared.settings import SERVICES, ServiceName, Settings

Samples = list[tuple[str, dict[str, str], float]]
"""(metric sample name, labels, value) as one service's /metrics shows them."""


_LAUNCHING = asyncio.Lock()
"""One launch at a time: the launcher hands `alliance run` this process's environment, which
holds a launch's settings only while it starts."""


class ChaosPlatform:
    def __init__(self, directory: Path, seed_path: Path, admin_token: str, tuning: Mapping[str, str],
                 kafka: KafkaCluster | None = None) -> None:
        """`tuning`: further ALLIANCE_* settings of the services (the same in every run); `kafka`:
        an Apache Kafka cluster to run on (started and stopped here) instead of the embedded broker."""
        self.directory = directory
        self.kafka = kafka
        self.postgres = EmbeddedPostgres(directory / "postgres", free_port())
        self._seed_path = seed_path
        self._admin_token = admin_token
        ports = {service: free_port() for service in SERVICES}
        self.base_urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
        self.bootstrap = kafka.bootstrap if kafka else f"127.0.0.1:{free_port()}"
        broker = (
            {"ALLIANCE_KAFKA_BOOTSTRAP": kafka.bootstrap,
             "ALLIANCE_TOPIC_REPLICATION_FACTOR": str(kafka.replication_factor)}
            if kafka else {"ALLIANCE_EMBEDDED_KAFKA_PORT": self.bootstrap.rpartition(":")[2]}
        )
        self._environment = {
            **tuning,
            **broker,
            "ALLIANCE_DATABASE_URL": self.postgres.server_url,
            **{f"ALLIANCE_{service.upper()}_PORT": str(port) for service, port in ports.items()},
        }
        self.launcher: Platform | None = None
        self._settings: Settings | None = None
        """As the services see them (read while the platform launches)."""
        self._http = httpx.AsyncClient(timeout=10.0)

    async def start(self) -> None:
        if self.kafka:  # launched from this thread, which the nodes die with (formatting, waiting elsewhere)
            await asyncio.to_thread(self.kafka.prepare)
            self.kafka.launch()
            await asyncio.to_thread(self.kafka.wait_ready)
        await asyncio.to_thread(self.postgres.start, True)
        async with _LAUNCHING:
            with _environment(self._environment):
                self._settings = Settings()
                self.launcher = Platform(self._settings, self._seed_path, self.directory, self._admin_token)
                await self.launcher.start()

    async def stop(self) -> None:
        if self.launcher is not None:
            await self.launcher.stop()
        await asyncio.to_thread(self.postgres.stop)
        if self.kafka:
            await asyncio.to_thread(self.kafka.stop)
        await self._http.aclose()

    def service_process(self, service: ServiceName) -> psutil.Process:
        """The running `alliance serve <service>` child of the supervisor."""
        return self._child(lambda cmdline: _follows(cmdline, "serve", service), f"the {service} service")

    def broker_process(self) -> psutil.Process:
        """The embedded broker, or the first Apache Kafka node."""
        if self.kafka:
            return psutil.Process(self.kafka.node(1).process.pid)
        return self._child(lambda cmdline: "--storage-engine" in cmdline, "the embedded broker")

    async def leader_of(self, topic: str, partition: int = 0) -> int:
        """The Apache Kafka node leading a partition."""
        assert self.kafka is not None
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            (description,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
        return next(p["leader"] for p in description["partitions"] if p["partition"] == partition)

    async def fully_replicated(self) -> bool:
        """Every partition of every topic with all its replicas in sync."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            descriptions = await admin.describe_topics(await admin.list_topics())
        finally:
            await admin.close()
        return all(len(p["isr"]) == len(p["replicas"]) for d in descriptions for p in d["partitions"])

    def _child(self, matches: Callable[[list[str]], bool], what: str) -> psutil.Process:
        assert self.launcher is not None and self.launcher.process is not None
        for child in psutil.Process(self.launcher.process.pid).children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if matches(child.cmdline()):
                    return child
        raise LookupError(f"{what} is not running")

    def database_url(self, service: ServiceName) -> str:
        """The service's database on the harness's PostgreSQL."""
        assert self._settings is not None, "the platform has not started"
        return self._settings.service_database_url(service)

    async def healthy(self, service: ServiceName) -> bool:
        try:
            return (await self._http.get(f"{self.base_urls[service]}/health")).status_code == 200
        except httpx.HTTPError:
            return False

    async def all_healthy(self) -> bool:
        return all(await asyncio.gather(*(self.healthy(s) for s in SERVICES)))

    async def metrics(self, service: ServiceName) -> Samples:
        response = await self._http.get(f"{self.base_urls[service]}/metrics")
        response.raise_for_status()
        return [
            (sample.name, sample.labels, sample.value)
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        ]

    async def committed_lag(self) -> dict[tuple[ServiceName, str], int | None]:
        """Per (service, topic): what the service's consumer group has not committed yet."""
        groups = {f"alliance-{s}": s for s in SERVICES}  # ServiceRuntime.group_id; `alliance run` has no prefix
        lags = await uncommitted(self.bootstrap, list(groups))
        return {(groups[group], topic): lag for (group, topic), lag in lags.items()}

    def admin(self, service: ServiceName) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=f"{self.base_urls[service]}/admin",
            headers={"Authorization": f"Bearer {self._admin_token}"},
            timeout=120.0,
        )


def _follows(cmdline: list[str], word: str, then: str) -> bool:
    return any(a == word and b == then for a, b in zip(cmdline, cmdline[1:]))


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Exactly these ALLIANCE_* variables while the platform is configured and launched: the
    launcher hands its own environment to `alliance run`, and a developer's settings (an
    external broker, say) must not leak into the platform under test."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("ALLIANCE_")}
    for name in saved:
        del os.environ[name]
    os.environ.update(values)
    try:
        yield
    finally:
        for name in values:
            os.environ.pop(name, None)
        os.environ.update(saved)
