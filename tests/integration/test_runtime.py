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
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
import yaml
from aiokafka.admin import AIOKafkaAdminClient

from shared.runtime.embedded_postgres import EmbeddedPostgres, create_database
from shared.runtime.ports import free_port
from shared.runtime.supervisor import alliance_executable
from shared.runtime.topics import create_topics
from shared.settings import database_url_for
from tests.support.backends import drop_database, scratch_directory
from tests.support.runs import (
    DEMO_SEED,
    isolated_environment,
    platform_up,
    wait_for_text,
)

pytestmark = pytest.mark.integration


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


@pytest.mark.e2e
def test_after_a_plain_run_the_cli_reaches_the_admin_api_with_the_local_token() -> None:
    """`make run` then `alliance ...` in another shell, neither with a token: the run makes one
    for its data directory (the default `.alliance` of the working directory) and the CLI finds it."""
    seed_members = sorted(entry["id"] for entry in yaml.safe_load(DEMO_SEED.read_text())["members"])
    with scratch_directory("alliance-test-token-") as scratch:
        env = isolated_environment(scratch / "unused")
        del env["ALLIANCE_DATA_DIR"]
        log = scratch / "run.log"
        with platform_up(env, log, cwd=scratch):
            token_file = scratch / ".alliance" / "admin-token"
            token = token_file.read_text().strip()
            assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
            assert len(token) >= 32 and token not in log.read_text()
            assert f"in {token_file}" in log.read_text()

            def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run([alliance_executable(), *args], cwd=scratch, env={**env, **extra},
                                      capture_output=True, text=True, timeout=120)

            closed = cli("cycle", "close")
            assert closed.returncode == 0, closed.stderr
            assert "requests placed on" in closed.stdout
            listed = cli("members", "list")
            assert listed.returncode == 0, listed.stderr
            assert sorted(line.split("\t")[0] for line in listed.stdout.splitlines()) == seed_members
            refused = cli("members", "list", ALLIANCE_ADMIN_TOKEN="not-the-token")
            assert refused.returncode == 1 and "(401)" in refused.stderr, refused.stderr
            assert token not in closed.stdout + closed.stderr + listed.stdout + refused.stderr
