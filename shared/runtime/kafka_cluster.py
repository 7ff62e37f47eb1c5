"""A local Apache Kafka KRaft cluster: the production broker, run from its Maven artifacts.

The broker is `org.apache.kafka:kafka_2.13` at the compose image's version (`apache/kafka:4.1.0`,
checked by a unit test), its jars fetched once by Maven (`dependency:copy-dependencies` on a
generated pom) into `<cache>/kafka/<version>/libs` and reused afterwards: nothing else is
downloaded at run time. Each node is one JVM acting as broker and controller (a 1- or 3-voter
quorum) with a small heap, on free loopback ports, formatted by `kafka.tools.StorageTool` and
run as `kafka.Kafka`. Like the embedded broker, every node is a child that dies with its parent
and is stopped with SIGTERM, then SIGKILL.

With `sasl`, clients authenticate with SCRAM-SHA-512 and the StandardAuthorizer enforces ACLs
(nothing is allowed without one); the cluster's super user `admin` gets a random password, kept
in `admin.properties` (mode 0600) beside the data, never logged.
"""

from __future__ import annotations

import base64
import fcntl
import logging
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.runtime import start_child, stop_child, wait_until_ready
from shared.runtime.ports import free_port

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.1.0"
"""The version of deploy/compose.yaml's `apache/kafka` image (tests/unit checks they agree)."""
_ARTIFACTS = (
    ("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
    ("org.apache.kafka", "kafka-tools", KAFKA_VERSION),
    # the broker logs through SLF4J 1.7; the distribution binds it to Log4j 2
    ("org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3"),
    ("org.apache.logging.log4j", "log4j-core", "2.24.3"),
)
SCRAM_MECHANISM = "SCRAM-SHA-512"
ADMIN_USER = "admin"
_STARTED = "Kafka Server started"
"""What a node logs once it serves clients (KRaft: after it joined the quorum, unfenced)."""
_LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""


class KafkaToolsMissing(RuntimeError):
    """No JDK or no Maven: the message says what to install."""


def new_cluster_id() -> str:
    """A random cluster id as Kafka's own `Uuid.randomUuid` makes them: base64url of 16 bytes, never
    starting with '-' (StorageTool's argument parser would read such an id as an option: 1 in 64)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class KafkaClusterError(RuntimeError):
    """The cluster could not be fetched, formatted or started."""


def require_tools() -> tuple[str, str]:
    """(java, mvn), or KafkaToolsMissing naming what to install."""
    java, mvn = shutil.which("java"), shutil.which("mvn")
    missing = [name for name, path in (("a JDK 17 or newer (java)", java), ("Maven (mvn)", mvn)) if not path]
    if missing:
        raise KafkaToolsMissing(
            f"running Apache Kafka locally needs {' and '.join(missing)}: on Debian or Ubuntu, "
            "`apt-get install openjdk-17-jre-headless maven`; the embedded broker (Tansu) needs neither"
        )
    return java, mvn  # type: ignore[return-value]


def kafka_libs(cache: Path, version: str = KAFKA_VERSION) -> Path:
    """The directory of the broker's jars, fetched with Maven from Maven Central the first time.
    Several processes (the test suite's workers) may ask at once: one fetches under a file lock,
    the others wait for it, and the directory appears whole or not at all."""
    libs = cache.resolve() / "kafka" / version / "libs"
    complete = libs / ".complete"
    if complete.exists():
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    with (libs.parent / "fetch.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not complete.exists():
            _fetch(libs, version)
    return libs


def _fetch(libs: Path, version: str) -> None:
    _, mvn = require_tools()
    dependencies = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{version if a.startswith('kafka') else v}</version></dependency>"
        for g, a, v in _ARTIFACTS
    )
    pom = (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>alliance</groupId><artifactId>kafka-broker</artifactId><version>1</version>"
        "<packaging>pom</packaging>"
        f"<dependencies>{dependencies}</dependencies></project>"
    )
    log.info("fetching Apache Kafka %s with Maven into %s (once)", version, libs)
    with tempfile.TemporaryDirectory(prefix="alliance-kafka-pom-") as work:
        Path(work, "pom.xml").write_text(pom)
        staging = libs.with_name("libs.partial")
        shutil.rmtree(staging, ignore_errors=True)
        result = subprocess.run(
            [mvn, "-q", "-B", "dependency:copy-dependencies", f"-DoutputDirectory={staging}",
             "-DincludeScope=runtime"],
            cwd=work, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise KafkaClusterError(
                f"Maven could not fetch org.apache.kafka:kafka_2.13:{version} (exit {result.returncode}):\n"
                + "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            )
        (staging / ".complete").touch()
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)


@dataclass
class KafkaNode:
    node_id: int
    broker_port: int
    controller_port: int
    directory: Path
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None
    logged: int = 0
    """The size of its log when last launched: the start line to wait for comes after it."""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.broker_port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    @property
    def properties(self) -> Path:
        return self.directory / "server.properties"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class KafkaCluster:
    """`brokers` KRaft nodes (each broker and controller) under `root`, fresh at every start."""

    root: Path
    libs: Path
    brokers: int = 1
    sasl: bool = False
    heap: str = "384m"
    host: str = "127.0.0.1"
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    nodes: list[KafkaNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.brokers not in (1, 3):
            raise ValueError("a local cluster has 1 or 3 brokers")
        self.root = self.root.resolve()
        self.nodes = [
            KafkaNode(i, free_port(self.host), free_port(self.host), self.root / f"node-{i}", self.host)
            for i in range(1, self.brokers + 1)
        ]

    @property
    def bootstrap(self) -> str:
        """Every broker: a client given one that happens to be down would never find the others."""
        return ",".join(node.address for node in self.nodes)

    @property
    def replication_factor(self) -> int:
        return min(3, self.brokers)

    @property
    def min_insync_replicas(self) -> int:
        return min(2, self.brokers)

    def admin_client_config(self) -> dict[str, Any]:
        """aiokafka keyword arguments for the super user (`bootstrap_servers` included)."""
        config: dict[str, Any] = {"bootstrap_servers": self.bootstrap}
        if self.sasl:
            config |= {
                "security_protocol": "SASL_PLAINTEXT",
                "sasl_mechanism": SCRAM_MECHANISM,
                "sasl_plain_username": ADMIN_USER,
                "sasl_plain_password": self.admin_password,
            }
        return config

    def start(self, timeout: float = 180.0) -> None:
        """Format every node afresh, start them all, wait until each serves clients."""
        self.prepare()
        self.launch()
        self.wait_ready(timeout=timeout)

    def prepare(self) -> None:
        """Write each node's configuration and format its storage (slow: a JVM per node; any thread)."""
        java, _ = require_tools()
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True)
        cluster_id = new_cluster_id()
        (self.root / "log4j2.properties").write_text(_LOG4J2)
        if self.sasl:
            _write_private(self.root / "admin.properties", self._client_properties())
        for node in self.nodes:
            node.directory.mkdir()
            _write_private(node.properties, self._server_properties(node))
            self._format(java, node, cluster_id)

    def launch(self, *node_ids: int) -> None:
        """Start the given nodes (all by default) without waiting for them. Quick; call it from the
        thread that owns the cluster: a node gets SIGTERM when the thread that started it ends."""
        java, _ = require_tools()
        for node in [self.node(i) for i in node_ids] if node_ids else self.nodes:
            node.logged = node.log_path.stat().st_size if node.log_path.exists() else 0
            self._launch(java, node)

    def wait_ready(self, *node_ids: int, timeout: float = 180.0) -> None:
        """Wait until the given nodes (all by default) serve clients (any thread)."""
        started = time.monotonic()
        chosen = [self.node(i) for i in node_ids] if node_ids else self.nodes
        for node in chosen:
            self._wait_started(node, node.logged, started, timeout)
        log.info(
            "Apache Kafka %s: node(s) %s%s ready on %s in %.1f s",
            KAFKA_VERSION, ", ".join(str(n.node_id) for n in chosen), " with SASL/SCRAM and ACLs" if self.sasl else "",
            self.bootstrap, time.monotonic() - started,
        )

    def kill(self, node_id: int) -> None:
        """kill -9 one node, as a crashed machine would go."""
        node = self.node(node_id)
        if node.running:
            node.process.kill()
            node.process.wait()
            log.info("killed Kafka node %d (SIGKILL)", node_id)

    def restart(self, node_id: int, timeout: float = 120.0) -> None:
        """Start a stopped or killed node again on its own data; it catches up from the others.
        From the owning thread (see `launch`); async callers: `launch`, then `wait_ready` in a thread."""
        if not self.node(node_id).running:
            self.launch(node_id)
            self.wait_ready(node_id, timeout=timeout)

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    def exited(self) -> KafkaNode | None:
        """A node that exited without being asked to (for supervision)."""
        return next((n for n in self.nodes if n.process is not None and n.process.poll() is not None), None)

    def stop(self, timeout: float = 20.0) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in self.nodes:
            if node.process is not None:
                stop_child(node.process, f"Kafka node {node.node_id}", signal.SIGTERM, timeout)

    def _format(self, java: str, node: KafkaNode, cluster_id: str) -> None:
        command = [*self._java(java), "kafka.tools.StorageTool", "format", "--cluster-id", cluster_id,
                   "--config", str(node.properties)]
        if self.sasl:
            # the inter-broker user must exist before the brokers can talk (StorageTool takes it
            # only as an argument: visible to `ps` for the second formatting takes, on a random password)
            command += ["--add-scram", f"{SCRAM_MECHANISM}=[name={ADMIN_USER},password={self.admin_password}]"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).replace(self.admin_password, "***")
            raise KafkaClusterError(f"formatting Kafka node {node.node_id} failed:\n{output[-2000:]}")

    def _launch(self, java: str, node: KafkaNode) -> None:
        node.process = start_child([*self._java(java), "kafka.Kafka", str(node.properties)], node.log_path,
                                   signal.SIGTERM)

    def _wait_started(self, node: KafkaNode, logged: int, started: float, timeout: float) -> None:
        """Wait for the start line among what the node logged after its first `logged` bytes."""

        def started_line() -> bool:
            with node.log_path.open("rb") as log_file:
                log_file.seek(logged)
                return _STARTED.encode() in log_file.read()

        wait_until_ready(node.process, started_line, name=f"Kafka node {node.node_id}", log_path=node.log_path,
                         started=started, timeout=timeout, on_timeout=self.stop, error=KafkaClusterError, poll_s=0.2)

    def _java(self, java: str) -> list[str]:
        return [
            java, f"-Xms{self.heap}", f"-Xmx{self.heap}", "-XX:+UseSerialGC", "-Xss512k",
            "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.root / 'log4j2.properties'}",
            "-cp", f"{self.libs}/*",
        ]

    def _server_properties(self, node: KafkaNode) -> str:
        voters = ",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in self.nodes)
        protocol = "SASL_PLAINTEXT" if self.sasl else "PLAINTEXT"
        rf, isr = self.replication_factor, self.min_insync_replicas
        lines = [
            "process.roles=broker,controller",
            f"node.id={node.node_id}",
            f"controller.quorum.voters={voters}",
            f"listeners=BROKER://{node.host}:{node.broker_port},CONTROLLER://{node.host}:{node.controller_port}",
            f"advertised.listeners=BROKER://{node.address}",
            f"listener.security.protocol.map=BROKER:{protocol},CONTROLLER:{protocol}",
            "inter.broker.listener.name=BROKER",
            "controller.listener.names=CONTROLLER",
            f"log.dirs={node.directory / 'data'}",
            # a 2-core machine: few threads, small internal topics, no waiting for group members
            "num.network.threads=2",
            "num.io.threads=2",
            "num.replica.fetchers=1",
            "background.threads=2",
            "num.recovery.threads.per.data.dir=1",
            "offsets.topic.num.partitions=6",
            "group.initial.rebalance.delay.ms=0",
            f"offsets.topic.replication.factor={rf}",
            f"transaction.state.log.replication.factor={rf}",
            f"transaction.state.log.min.isr={isr}",
            f"share.coordinator.state.topic.replication.factor={rf}",
            f"share.coordinator.state.topic.min.isr={isr}",
            f"default.replication.factor={rf}",
            f"min.insync.replicas={isr}",
            "num.partitions=1",
            "message.max.bytes=8388608",
            "replica.fetch.max.bytes=8388608",
            "unclean.leader.election.enable=false",
        ]
        if self.sasl:
            password = self.admin_password
            lines += [
                "sasl.enabled.mechanisms=" + SCRAM_MECHANISM,
                "sasl.mechanism.inter.broker.protocol=" + SCRAM_MECHANISM,
                "listener.name.broker.sasl.enabled.mechanisms=" + SCRAM_MECHANISM,
                ("listener.name.broker.scram-sha-512.sasl.jaas.config="
                f'org.apache.kafka.common.security.scram.ScramLoginModule required username="{ADMIN_USER}" '
                f'password="{password}";'),
                # KRaft controllers cannot use SCRAM (its credentials live in the metadata they serve)
                "sasl.mechanism.controller.protocol=PLAIN",
                "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                ("listener.name.controller.plain.sasl.jaas.config="
                f'org.apache.kafka.common.security.plain.PlainLoginModule required username="{ADMIN_USER}" '
                f'password="{password}" user_{ADMIN_USER}="{password}";'),
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                f"super.users=User:{ADMIN_USER}",
                "allow.everyone.if.no.acl.found=false",
            ]
        return "\n".join(lines) + "\n"

    def _client_properties(self) -> str:
        return (
            f"bootstrap.servers={self.bootstrap}\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism={SCRAM_MECHANISM}\n"
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_USER}" password="{self.admin_password}";\n'
        )


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read: it holds a password."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
