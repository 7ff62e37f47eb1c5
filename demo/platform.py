"""`alliance run` as a child process, on the demo's generated seed and its own data directory.

It runs in its own session, so a Ctrl-C reaches only the demo, which then stops it with SIGTERM
and waits while the supervisor stops services, broker and database in order. Should the demo
itself be killed, the platform receives SIGTERM all the same (`die_with_parent`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from pathlib import Path

import httpx

from shared.runtime import die_with_parent, log_tail
from shared.runtime.ports import port_is_free
from shared.runtime.supervisor import alliance_executable
from shared.settings import SERVICES, Settings


class PlatformError(RuntimeError):
    """The platform could not start, or stopped on its own; the message shows its log's tail."""


class Platform:
    def __init__(self, settings: Settings, seed_path: Path, data_dir: Path, admin_token: str) -> None:
        self._http = {s: (settings.http_host, settings.http_port(s)) for s in SERVICES}
        self.base_urls = {s: f"http://{host}:{port}" for s, (host, port) in self._http.items()}
        self.bootstrap = settings.kafka_bootstrap or f"127.0.0.1:{settings.embedded_kafka_port}"
        self.topic_prefix = settings.topic_prefix
        self.log_path = data_dir / "platform.log"
        self._seed_path = seed_path
        self._data_dir = data_dir
        self._admin_token = admin_token
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def metrics_urls(self) -> list[str]:
        return [f"{url}/metrics" for url in self.base_urls.values()]

    async def start(self, timeout: float = 180.0) -> None:
        """Start `alliance run --fresh` and return once all three services answer /health.

        Their ports must be free first: otherwise a platform already running there (`make run`)
        would answer /health, and the demo would talk to it instead of its own.
        """
        taken = [f"{host}:{port}" for host, port in self._http.values() if not port_is_free(host, port)]
        if taken:
            raise PlatformError(
                f"{', '.join(taken)} already in use: stop the platform running there, or give the demo "
                "other ports (ALLIANCE_MEMBERS_PORT, ALLIANCE_PROCUREMENT_PORT, ALLIANCE_NOTIFICATIONS_PORT)"
            )
        environment = {
            **os.environ,
            "ALLIANCE_DATA_DIR": str(self._data_dir),
            "ALLIANCE_ADMIN_TOKEN": self._admin_token,
        }
        command = [alliance_executable(), "run", "--seed", str(self._seed_path), "--fresh"]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGTERM),
            )
        async with httpx.AsyncClient(timeout=2.0) as client, asyncio.timeout(timeout):
            while not await self._healthy(client):
                self.check_running()
                await asyncio.sleep(0.5)

    async def _healthy(self, client: httpx.AsyncClient) -> bool:
        for url in self.base_urls.values():
            try:
                if (await client.get(f"{url}/health")).status_code != 200:
                    return False
            except httpx.HTTPError:
                return False
        return True

    def check_running(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise PlatformError(
                f"`alliance run` exited with code {self.process.returncode}; the end of "
                f"{self.log_path}:\n{log_tail(self.log_path)}"
            )

    async def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout`); the exit code, None if never started."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, timeout)
            except subprocess.TimeoutExpired:
                process.kill()  # its own children die with it (die_with_parent)
                await asyncio.to_thread(process.wait)
        return process.returncode

    def admin(self) -> httpx.AsyncClient:
        """The procurement admin API (the operator's surface), with the demo's token."""
        return httpx.AsyncClient(
            base_url=f"{self.base_urls['procurement']}/admin",
            headers={"Authorization": f"Bearer {self._admin_token}"},
            timeout=60.0,
        )
