"""What every service process runs: the pool and migrations, the broker and its batch
subscribers, the outbox relay, the HTTP server, and a clean stop on SIGTERM/SIGINT.

A service's composition root (`services/<name>/main.py`) creates a runtime, registers its
subscriptions and background tasks, builds its HTTP app, and calls `run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Generic, TypeVar

import asyncpg
import uvicorn
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import REGISTRY

from shared import gc_policy
from shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from shared.kafka_client import METADATA_MAX_AGE_MS, client_options, faststream_security
from shared.messaging.consumer import Publication, Subscription, document_publications, subscribe
from shared.messaging.inbox import forget_periodically
from shared.messaging.outbox import OutboxRelay, export_backlog
from shared.messaging.unit_of_work import UnitOfWork
from shared.settings import ServiceName, Settings

log = logging.getLogger(__name__)
U = TypeVar("U", bound=UnitOfWork)


class PortInUse(RuntimeError):
    pass


def bind_http_socket(host: str, port: int, service: str) -> socket.socket:
    """Bind before anything starts, so a taken port is a clear error, not a half-started service."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise PortInUse(f"port {port} ({service} HTTP) is already in use on {host}") from None
    sock.set_inheritable(True)
    return sock


class ServiceRuntime(Generic[U]):
    def __init__(
        self,
        name: ServiceName,
        settings: Settings,
        migrations: Path,
        unit_of_work: type[U],
    ) -> None:
        if not settings.kafka_bootstrap:
            raise RuntimeError(
                "ALLIANCE_KAFKA_BOOTSTRAP is not set (use `alliance run` for the embedded broker)"
            )
        self.name = name
        self.settings = settings
        self._migrations = migrations
        self._unit_of_work = unit_of_work
        self.broker = KafkaBroker(
            # a list: FastStream takes a string as one address, and a client that knows only one
            # broker cannot start while that one is down
            [address.strip() for address in settings.kafka_bootstrap.split(",")],
            # it only consumes: the outbox relay publishes (idempotent where the broker can)
            enable_idempotence=False,
            acks="all",
            security=faststream_security(settings),
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
            client_id=f"alliance-{name}",
            # FastStream's own transport metrics (faststream_*), beside the alliance_* ones
            middlewares=[KafkaPrometheusMiddleware(registry=REGISTRY, app_name=f"alliance-{name}")],
        )
        self.pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self._background: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._socket = bind_http_socket(settings.http_host, settings.http_port(name), name)

    async def open(self) -> asyncpg.Pool:
        """Connect to the database and bring its schema up to date."""
        self.pool = await create_pool(
            self.settings.service_database_url(self.name), self.settings.db_pool_size
        )
        await apply_migrations(self.pool, SHARED_MIGRATIONS, self._migrations)
        kafka_options = client_options(self.settings)
        self.relay = OutboxRelay(
            self.pool,
            kafka_options.pop("bootstrap_servers"),
            kafka_options=kafka_options,
            batch_size=self.settings.outbox_batch_size,
            poll_interval=self.settings.outbox_poll_interval_s,
        )
        return self.pool

    def unit_of_work(self) -> U:
        assert self.pool is not None and self.relay is not None, "open() the runtime first"
        return self._unit_of_work(self.pool, self.settings.topic_prefix, self.relay.wake)

    @property
    def group_id(self) -> str:
        """The service's consumer group; prefixed like its topics, so deployments sharing a
        broker never join each other's groups."""
        return f"{self.settings.topic_prefix}alliance-{self.name}"

    def subscribe(self, subscriptions: list[Subscription]) -> None:
        subscribe(
            self.broker,
            subscriptions,
            self.group_id,
            self.unit_of_work,
            batch_size=self.settings.consumer_batch_size,
            fetch_max_wait_ms=self.settings.consumer_fetch_max_wait_ms,
        )

    def document(self, publications: list[Publication]) -> None:
        document_publications(self.broker, publications)

    def add_background(self, task: Callable[[], Awaitable[None]]) -> None:
        """A loop that runs as long as the service (cycle timer, delivery workers...)."""
        self._background.append(task)

    async def health(self) -> dict[str, bool]:
        checks = {"database": False, "broker": False, "consumers": False, "outbox_relay": False}
        if self.pool is not None:
            with contextlib.suppress(Exception):
                checks["database"] = await asyncio.wait_for(self.pool.fetchval("SELECT 1"), 2) == 1
        with contextlib.suppress(Exception):
            checks["broker"] = bool(await self.broker.ping(timeout=2))
        subscribers = list(self.broker.subscribers)
        checks["consumers"] = bool(subscribers) and all(s.running for s in subscribers)
        checks["outbox_relay"] = bool(self._tasks) and not any(t.done() for t in self._tasks)
        return checks

    async def run(self, app: FastAPI) -> None:
        """Serve until SIGTERM/SIGINT, then stop consuming, let the relay finish, close."""
        assert self.pool is not None and self.relay is not None, "open() the runtime first"
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.relay.start()
        await self.broker.start()
        gc_policy.tune_for_service()
        self._tasks = [
            asyncio.create_task(self.relay.run(), name="outbox-relay"),
            asyncio.create_task(export_backlog(self.pool), name="outbox-backlog"),
            asyncio.create_task(
                forget_periodically(self.pool, timedelta(days=self.settings.inbox_retention_days)),
                name="inbox-retention",
            ),
        ] + [
            asyncio.create_task(task(), name=getattr(task, "__name__", "background"))
            for task in self._background
        ]
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]  # signals are ours
        http = asyncio.create_task(server.serve(sockets=[self._socket]), name="http")
        log.info(
            "%s serving on http://%s:%d",
            self.name,
            self.settings.http_host,
            self.settings.http_port(self.name),
        )
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait(
            [stopping, http, *self._tasks], return_when=asyncio.FIRST_COMPLETED
        )
        failed = [task.get_name() for task in done if task is not stopping]
        for task in done:
            if task is not stopping and task.exception() is not None:
                log.error(
                    "%s: task %s failed", self.name, task.get_name(), exc_info=task.exception()
                )
        log.info("%s stopping", self.name)
        await self.broker.stop()
        server.should_exit = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.relay.stop()
        await asyncio.wait_for(http, 5)
        try:
            await asyncio.wait_for(self.pool.close(), 10)
        except TimeoutError:
            self.pool.terminate()  # connections stuck on a vanished server
        stopping.cancel()
        if failed:
            raise RuntimeError(f"{self.name} stopped because task {failed[0]} failed")
