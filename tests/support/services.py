"""Running the real services as separate processes against the test broker and database.

Each `Platform` gets its own topic prefix, database prefix and free HTTP ports, so tests
never see each other's records and Tansu's topics stay small.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from shared import topics
from shared.runtime.ports import free_port
from shared.runtime.topics import create_topics
from shared.sealing import SecretBox
from shared.settings import SERVICES, ServiceName, database_url_for

ADMIN_TOKEN = "test-admin-token-0123456789"
SEALING_KEY = "dGVzdC1zZWFsaW5nLWtleS0wMTIzNDU2Nzg5YWJjZGU="
"""The services' ALLIANCE_SEALING_KEYS in tests (a Fernet key: 32 bytes, URL-safe base64)."""
SEALING_BOX = SecretBox(SEALING_KEY)


@dataclass
class ServiceProcess:
    name: ServiceName
    url: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    async def wait_healthy(self, timeout: float = 45) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient() as client:
            while asyncio.get_running_loop().time() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
                try:
                    if (await client.get(f"{self.url}/health", timeout=2)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not healthy after {timeout}s:\n{self.log()}")

    def kill(self) -> None:
        """kill -9: no chance to clean up, as in a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=f"{self.url}/admin", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    async def metrics(self) -> list[Sample]:
        """Every sample on the service's /metrics, parsed as Prometheus reads them (labels as a
        dict, so no reader depends on the order they are written in)."""
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(f"{self.url}/metrics")).text
        return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


@dataclass
class Platform:
    kafka_bootstrap: str
    server_url: str
    workdir: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    extra_env: dict[str, str] = field(default_factory=dict)
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def topic_prefix(self) -> str:
        return f"t{self.tag}."

    @property
    def database_prefix(self) -> str:
        return f"t{self.tag}_"

    def topic(self, name: str) -> str:
        return self.topic_prefix + name

    def env(self, **overrides: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            ALLIANCE_KAFKA_BOOTSTRAP=self.kafka_bootstrap,
            ALLIANCE_DATABASE_URL=self.server_url,
            ALLIANCE_DATABASE_PREFIX=self.database_prefix,
            ALLIANCE_TOPIC_PREFIX=self.topic_prefix,
            ALLIANCE_ADMIN_TOKEN=ADMIN_TOKEN,
            ALLIANCE_SEALING_KEYS=SEALING_KEY,
            ALLIANCE_TOPIC_PARTITIONS="3",
        )
        env.update(self.extra_env)
        env.update(overrides)
        return env

    def database_url(self, service: ServiceName) -> str:
        return database_url_for(self.server_url, f"{self.database_prefix}{service}")

    async def prepare(self, supplier_ids: tuple[str, ...] = ()) -> None:
        """Create this platform's databases and topics."""
        await self.prepare_databases()
        await create_topics(self.kafka_bootstrap, topics.all_topics(self.topic_prefix, supplier_ids), partitions=3)

    async def prepare_databases(self) -> None:
        conn = await asyncpg.connect(self.server_url)
        try:
            for service in SERVICES:
                await conn.execute(f'CREATE DATABASE "{self.database_prefix}{service}"')
        finally:
            await conn.close()

    async def drop(self) -> None:
        conn = await asyncpg.connect(self.server_url)
        try:
            for service in SERVICES:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.database_prefix}{service}" WITH (FORCE)')
        finally:
            await conn.close()

    async def start(self, name: ServiceName, seed: Path | None = None, **env: str) -> ServiceProcess:
        port = free_port()
        command = [sys.executable, "-c", "from shared.cli import main; main()", "serve", name]
        if seed is not None:
            command += ["--seed", str(seed)]
        service = ServiceProcess(
            name=name,
            url=f"http://127.0.0.1:{port}",
            command=command,
            env=self.env(**{f"ALLIANCE_{name.upper()}_PORT": str(port)}, **env),
            log_path=self.workdir / f"{name}.log",
        )
        service.start()
        self.services[name] = service
        await service.wait_healthy()
        return service

    def stop_all(self) -> None:
        for service in self.services.values():
            service.stop()


@asynccontextmanager
async def platform(
    kafka_bootstrap: str, server_url: str, workdir: Path, supplier_ids: tuple[str, ...] = ()
) -> AsyncIterator[Platform]:
    running = Platform(kafka_bootstrap, server_url, workdir)
    await running.prepare(supplier_ids)
    try:
        yield running
    finally:
        running.stop_all()
        await running.drop()
