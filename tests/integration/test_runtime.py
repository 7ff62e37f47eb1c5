"""The embedded runtime: PostgreSQL state across restarts, idempotent topics, `alliance run`
refusing to start (exit code 2, nothing started) on a bad seed or a port in use, and
`alliance run` supervising the real services: restart after a crash, no orphan after a stop.

Every run here uses its own ports and data directory, so it never meets a developer's platform.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from shared.runtime.embedded_postgres import EmbeddedPostgres, create_database
from shared.runtime.ports import free_port
from shared.runtime.supervisor import alliance_executable
from shared.runtime.topics import create_topics
from shared.settings import database_url_for
from tests.support.backends import drop_database, scratch_directory

pytestmark = pytest.mark.integration
DEMO_SEED = Path(__file__).resolve().parents[2] / "seeds" / "demo.yaml"


@pytest.fixture
def postgres_root() -> Iterator[Path]:
    with scratch_directory("alliance-test-runtime-") as directory:
        yield directory / "postgres"


async def test_embedded_postgres_keeps_its_data_across_restarts_and_fresh_wipes_it(
    postgres_root: Path,
) -> None:
    server = EmbeddedPostgres(postgres_root, free_port())
    url = database_url_for(server.server_url, "kept")

    server.start()
    try:
        assert await create_database(server.server_url, "kept") is True
        conn = await asyncpg.connect(url)
        await conn.execute("CREATE TABLE note (text text); INSERT INTO note VALUES ('still here')")
        await conn.close()
    finally:
        server.stop()

    server.start()
    try:
        assert await create_database(server.server_url, "kept") is False
        conn = await asyncpg.connect(url)
        assert await conn.fetchval("SELECT text FROM note") == "still here"
        await conn.close()
    finally:
        server.stop()

    server.start(fresh=True)
    try:
        conn = await asyncpg.connect(database_url_for(server.server_url, "postgres"))
        assert await conn.fetchval("SELECT count(*) FROM pg_database WHERE datname = 'kept'") == 0
        await conn.close()
    finally:
        server.stop()


async def test_creating_topics_is_idempotent(kafka_bootstrap: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    names = [f"{prefix}erp.purchase-requests", f"{prefix}supplier.orders.s-holz"]

    assert sorted(await create_topics(kafka_bootstrap, names, partitions=3)) == sorted(names)
    assert await create_topics(kafka_bootstrap, names + names[:1], partitions=3) == []

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    assert {t["topic"]: len(t["partitions"]) for t in described} == {name: 3 for name in names}


def isolated_environment(data_dir: Path, **ports: int) -> dict[str, str]:
    """The developer's environment without any ALLIANCE_* setting, on ports of the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLIANCE_")}
    env["ALLIANCE_DATA_DIR"] = str(data_dir)
    for name in ("members", "procurement", "notifications", "embedded_kafka", "embedded_postgres"):
        env[f"ALLIANCE_{name.upper()}_PORT"] = str(ports.get(name) or free_port())
    return env


def run_alliance(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [alliance_executable(), *args], env=env, capture_output=True, text=True, timeout=60
    )


def processes_mentioning(text: str) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if text in cmdline:
            found.append(cmdline)
    return found


def test_run_with_a_malformed_seed_exits_2_naming_entry_and_field(tmp_path: Path) -> None:
    seed = tmp_path / "bad.yaml"
    seed.write_text(
        "cycle: {interval_seconds: 60}\n"
        "members:\n"
        "  - id: m-huber\n"
        "    name: Schreinerei Huber GmbH\n"
        "    erp_secret: demo-secret-not-shown\n"
        "    webhook: {url: 'erp.huber', secret: demo-webhook-secret-not-shown}\n"
        "    region: DE\n"
    )
    data_dir = tmp_path / "data"

    result = run_alliance(["run", "--seed", str(seed)], isolated_environment(data_dir))

    assert result.returncode == 2, result.stderr
    assert f"{seed}: members[0] (id 'm-huber'): webhook.url: Input should be a valid URL" in (
        result.stderr
    )
    assert "not-shown" not in result.stderr + result.stdout
    assert not data_dir.exists(), "nothing may start before the seed is valid"
    assert processes_mentioning(str(tmp_path)) == []


def test_run_with_a_port_in_use_exits_2_naming_the_port(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = isolated_environment(data_dir, members=8081)
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", 8081))
            holder.listen()
        except OSError:
            pass  # something already listens on 8081: just as good for this test

        result = run_alliance(["run", "--seed", str(DEMO_SEED)], env)

    assert result.returncode == 2, result.stderr
    assert "port 8081 (members HTTP) is already in use" in result.stderr
    assert not data_dir.exists(), "nothing may start when a port is taken"
    assert processes_mentioning(env["ALLIANCE_EMBEDDED_KAFKA_PORT"]) == []
    assert processes_mentioning(str(data_dir)) == []


async def test_a_service_database_can_be_created_on_the_configured_server(
    postgres_server_url: str,
) -> None:
    name = f"test_{uuid.uuid4().hex[:12]}"
    created = await asyncio.gather(*(create_database(postgres_server_url, name) for _ in range(3)))
    try:
        assert sorted(created) == [False, False, True]
    finally:
        conn = await asyncpg.connect(database_url_for(postgres_server_url, "postgres"))
        await conn.execute(f'DROP DATABASE "{name}"')
        await conn.close()


def wait_for_text(path: Path, text: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the log of `alliance run`:\n{path.read_text()[-5000:]}")


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.e2e
def test_run_restarts_a_killed_service_and_stops_everything_on_sigterm() -> None:
    tag = uuid.uuid4().hex[:8]
    with scratch_directory("alliance-test-run-") as scratch:
        env = isolated_environment(scratch / "data")
        if external := os.environ.get("ALLIANCE_DATABASE_URL"):
            env["ALLIANCE_DATABASE_URL"] = external  # the supervisor's external-database path
            env["ALLIANCE_DATABASE_PREFIX"] = f"t{tag}_"
        log = scratch / "run.log"
        with log.open("wb") as output:
            run = subprocess.Popen(
                [alliance_executable(), "run", "--seed", str(DEMO_SEED)],
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_text(log, "The alliance platform is up", run, timeout=180)
            supervisor = psutil.Process(run.pid)
            members = next(
                child for child in supervisor.children() if "members" in child.cmdline()[2:]
            )
            members.kill()
            wait_for_text(log, "members was killed by SIGKILL", run, timeout=30)
            wait_for_text(log, "restart 1", run, timeout=30)
            family = supervisor.children(recursive=True)

            run.send_signal(signal.SIGTERM)
            assert run.wait(timeout=90) == 0, log.read_text()[-5000:]
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
            if external:
                asyncio.run(drop_databases(external, f"t{tag}_"))
        assert "everything stopped" in log.read_text()
        assert [p.pid for p in family if not gone(p)] == [], "no orphan may outlive the run"


async def drop_databases(server_url: str, prefix: str) -> None:
    for service in ("members", "procurement", "notifications"):
        await drop_database(server_url, f"{prefix}{service}")
