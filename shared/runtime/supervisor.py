"""`alliance run`: the database, the broker and the three services as one supervised platform.

Start order is PostgreSQL, databases, broker, topics, services; stop order is the reverse, so
no service ever loses its broker or database while it is still finishing work. Every child
is in its own session (a Ctrl-C reaches only the supervisor, which then stops them in order)
and dies with the supervisor should it be killed outright.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from aiokafka.errors import KafkaError

from shared.admin_token import local_admin_token, token_path
from shared.kafka_client import sasl_options
from shared.runtime import die_with_parent
from shared.runtime.embedded_kafka import EmbeddedKafka, EmbeddedKafkaError
from shared.runtime.embedded_postgres import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    create_database,
)
from shared.runtime.ports import PortClaim
from shared.runtime.topics import TopicCreationError, create_topics
from shared.sealing import new_sealing_key
from shared.settings import SERVICES, ServiceName, Settings

log = logging.getLogger(__name__)

RESTART_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before restarting a crashed service: the n-th restart in a row waits the n-th."""
STABLE_AFTER = 60.0
"""A service that ran this long before crashing is restarted after the shortest delay again."""
HEALTH_REPORT_EVERY = 10.0
"""While starting, how often to say which services are not healthy yet."""


class PlatformFailure(RuntimeError):
    """Something the whole platform depends on failed; the supervisor stops everything."""


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        seed_path: Path | None,
        topics: Sequence[str],
        fresh: bool = False,
        service_stop_timeout: float = 15.0,
    ) -> None:
        self.settings = settings
        self.seed_path = seed_path.resolve() if seed_path else None
        self.topics = list(topics)
        self.fresh = fresh
        self.service_stop_timeout = service_stop_timeout
        self.data_dir = settings.data_dir.resolve()
        self.kafka = (
            None
            if settings.kafka_bootstrap
            else EmbeddedKafka(settings.embedded_kafka_port, self.data_dir / "kafka.log")
        )
        self.postgres = (
            None
            if settings.database_url
            else EmbeddedPostgres(self.data_dir / "postgres", settings.embedded_postgres_port)
        )
        self.services: list[ServiceProcess] = []
        self._service_tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def port_claims(self) -> list[PortClaim]:
        """Every port this run will bind, to be checked before anything starts."""
        host = self.settings.http_host
        claims = [PortClaim(host, self.settings.http_port(s), f"{s} HTTP") for s in SERVICES]
        if self.kafka:
            claims.append(PortClaim(self.kafka.host, self.kafka.port, "embedded Kafka broker"))
        if self.postgres:
            claims.append(PortClaim(self.postgres.host, self.postgres.port, "embedded PostgreSQL"))
        return claims

    async def run(self) -> int:
        """Run until SIGINT/SIGTERM (exit code 0) or until the platform fails (exit code 1)."""
        loop = asyncio.get_running_loop()
        work = asyncio.create_task(self._start_and_watch(time.monotonic()))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_stop_signal, sig, work)
        try:
            return await work
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            return 0
        except (PlatformFailure, EmbeddedKafkaError, EmbeddedPostgresError) as exc:
            log.error("%s", exc)
            return 1
        finally:
            self._stopping = True
            await self._shutdown()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    def _on_stop_signal(self, sig: signal.Signals, work: asyncio.Task[int]) -> None:
        if self._stopping:
            log.info("%s received; already stopping", sig.name)
            return
        log.info("%s received; stopping the platform", sig.name)
        self._stopping = True
        work.cancel()

    async def _start_and_watch(self, started: float) -> int:
        if self.fresh and self.postgres is None:
            log.warning("--fresh only wipes embedded PostgreSQL; the external database is kept")
        if self.postgres:
            self.postgres.start(fresh=self.fresh)
        database_url = self.settings.database_url or self.postgres.server_url
        try:
            for service in SERVICES:
                await create_database(database_url, f"{self.settings.database_prefix}{service}")
        except (OSError, asyncpg.PostgresError) as exc:
            raise PlatformFailure(
                f"cannot prepare the databases on {redact_url(database_url)}: {exc}"
            ) from exc
        if self.kafka:
            self.kafka.start()
        bootstrap = self.settings.kafka_bootstrap or self.kafka.bootstrap
        try:
            await create_topics(
                bootstrap,
                self.topics,
                self.settings.topic_partitions,
                self.settings.topic_replication_factor,
                options=sasl_options(self.settings),
            )
        except (KafkaError, OSError, TopicCreationError) as exc:
            raise PlatformFailure(f"cannot create the topics on {bootstrap}: {exc}") from exc

        environment = {
            **os.environ,
            "ALLIANCE_KAFKA_BOOTSTRAP": bootstrap,
            "ALLIANCE_DATABASE_URL": database_url,
        }
        if self.settings.sealing_keys is None:
            # One key for the run, the same for every (re)start of every service.
            environment["ALLIANCE_SEALING_KEYS"] = new_sealing_key()
        if self.settings.admin_token is None:
            environment["ALLIANCE_ADMIN_TOKEN"] = local_admin_token(self.data_dir).get_secret_value()
        self.services = [
            ServiceProcess(name, self._serve_command(name), environment, self._base_url(name))
            for name in SERVICES
        ]
        self._service_tasks = [
            asyncio.create_task(service.keep_running(), name=f"keep {service.name} running")
            for service in self.services
        ]
        await self._wait_until_healthy(started)
        self._announce(time.monotonic() - started, bootstrap, database_url)
        while True:
            self._check_supervision()
            await asyncio.sleep(0.5)

    async def _wait_until_healthy(self, started: float) -> None:
        next_report = started + HEALTH_REPORT_EVERY
        while not all(service.healthy for service in self.services):
            self._check_supervision()
            if time.monotonic() >= next_report:
                waiting = ", ".join(s.name for s in self.services if not s.healthy)
                log.info("waiting for /health of: %s", waiting)
                next_report += HEALTH_REPORT_EVERY
            await asyncio.sleep(0.1)

    def _check_supervision(self) -> None:
        """Raise if the broker or database died, or a restart loop itself failed."""
        for name, child in (
            ("embedded Kafka broker", self.kafka),
            ("embedded PostgreSQL", self.postgres),
        ):
            if child and child.process and child.process.poll() is not None:
                raise PlatformFailure(
                    f"the {name} exited unexpectedly with code {child.process.returncode} "
                    f"(see {child.log_path}); stopping the platform"
                )
        for task in self._service_tasks:
            if task.done():
                raise PlatformFailure(f"{task.get_name()} failed: {task.exception()!r}")

    def _serve_command(self, service: ServiceName) -> list[str]:
        command = [alliance_executable(), "serve", service]
        if self.seed_path:
            command += ["--seed", str(self.seed_path)]
        return command

    def _base_url(self, service: ServiceName) -> str:
        host = self.settings.http_host
        return f"http://{host}:{self.settings.http_port(service)}"

    def _announce(self, elapsed: float, bootstrap: str, database_url: str) -> None:
        lines = [f"The alliance platform is up ({elapsed:.1f} s)."]
        for service in self.services:
            lines.append(
                f"  {service.name:<14} {service.base_url}  API docs {service.base_url}/docs"
            )
        if self.kafka:
            lines.append(f"  {'Kafka':<14} {bootstrap}  embedded, in memory: lost when it stops")
        else:
            lines.append(f"  {'Kafka':<14} {bootstrap}")
        if self.postgres:
            lines.append(
                f"  {'PostgreSQL':<14} {database_url}  embedded, data in {self.postgres.data}"
            )
        else:
            lines.append(f"  {'PostgreSQL':<14} {redact_url(database_url)}")
        if self.settings.admin_token is None:
            lines.append(
                f"  {'Admin token':<14} in {token_path(self.data_dir)}: `alliance` commands run here use it"
            )
        else:
            lines.append(f"  {'Admin token':<14} ALLIANCE_ADMIN_TOKEN, as set")
        lines.append("Press Ctrl-C to stop.")
        print("\n".join(lines), flush=True)

    async def _shutdown(self) -> None:
        started = time.monotonic()
        for task in self._service_tasks:
            task.cancel()
        await asyncio.gather(*self._service_tasks, return_exceptions=True)
        await asyncio.gather(*(s.stop(self.service_stop_timeout) for s in self.services))
        if self.kafka:
            self.kafka.stop()
        if self.postgres:
            self.postgres.stop()
        log.info("everything stopped in %.1f s", time.monotonic() - started)


class ServiceProcess:
    """One `alliance serve <name>` child, restarted with backoff whenever it exits unasked."""

    def __init__(
        self, name: ServiceName, command: list[str], environment: dict[str, str], base_url: str
    ) -> None:
        self.name = name
        self.command = command
        self.environment = environment
        self.base_url = base_url
        self.process: asyncio.subprocess.Process | None = None
        self.healthy = False
        self.restarts = 0

    async def keep_running(self) -> None:
        crashes_in_a_row = 0
        while True:
            started = time.monotonic()
            try:
                await self._spawn()
            except OSError as exc:
                log.error("cannot start %s: %s", self.name, exc)
                exit_text = "not started"
            else:
                try:
                    exit_text = await self._run_until_exit(started)
                finally:
                    self.healthy = False
            ran = time.monotonic() - started
            crashes_in_a_row = 0 if ran >= STABLE_AFTER else crashes_in_a_row
            delay = RESTART_DELAYS[min(crashes_in_a_row, len(RESTART_DELAYS) - 1)]
            crashes_in_a_row += 1
            self.restarts += 1
            log.warning(
                "%s %s after %.1f s; restarting it in %.0f s (restart %d)",
                self.name,
                exit_text,
                ran,
                delay,
                self.restarts,
            )
            await asyncio.sleep(delay)

    async def _spawn(self) -> None:
        """Shielded, so that a stop arriving mid-spawn still finds the process to stop."""

        async def spawn() -> None:
            self.process = await asyncio.create_subprocess_exec(
                *self.command,
                env=self.environment,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )

        await asyncio.shield(spawn())
        log.info("started %s (pid %d)", self.name, self.process.pid)

    async def _run_until_exit(self, started: float) -> str:
        health = asyncio.create_task(self._wait_healthy(started))
        try:
            code = await self.process.wait()
        finally:
            health.cancel()
        return describe_exit(code)

    async def _wait_healthy(self, started: float) -> None:
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.base_url}/health")).status_code == 200:
                        break
                await asyncio.sleep(0.2)
        self.healthy = True
        log.info(
            "%s is healthy (pid %d, %.1f s after start)",
            self.name,
            self.process.pid,
            time.monotonic() - started,
        )

    async def stop(self, timeout: float) -> None:
        """SIGTERM, then SIGKILL if the service has not exited within `timeout` seconds."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            log.warning("%s did not stop within %.0f s of SIGTERM; killing it", self.name, timeout)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        log.info("%s stopped (%s)", self.name, describe_exit(process.returncode))


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def alliance_executable() -> str:
    """The `alliance` console script of this installation (beside the running interpreter)."""
    beside = Path(sys.executable).with_name("alliance")
    found = str(beside) if beside.exists() else shutil.which("alliance")
    if found is None:
        raise PlatformFailure("the `alliance` command is not installed; run `make venv`")
    return found


def redact_url(url: str) -> str:
    """The URL with its password replaced, for logs and the start-up summary."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
