"""`alliance kafka ...`: Apache Kafka, the production broker, locally and on a real cluster.

`start` runs a local KRaft cluster from the broker's Maven artifacts until Ctrl-C; `provision`
makes a cluster's topics, SCRAM principals and ACLs match a seed. Without a JDK or Maven, the
commands that need them say what to install and exit 2.
"""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from typing import Annotated

import typer

kafka_app = typer.Typer(help="Apache Kafka: a local KRaft cluster, provisioning a real one.", no_args_is_help=True)


@kafka_app.command("start")
def start(
    brokers: Annotated[int, typer.Option(help="KRaft nodes, each broker and controller: 1 or 3.")] = 1,
    sasl: Annotated[bool, typer.Option("--sasl", help="SCRAM-SHA-512 authentication and ACLs.")] = False,
) -> None:
    """Run a local Apache Kafka cluster (the compose image's version) until Ctrl-C; its data is
    fresh at every start, under <data dir>/kafka-cluster."""
    from shared.cli import EXIT_USAGE, _settings_or_exit, configure_logging
    from shared.runtime.kafka_cluster import KafkaCluster, KafkaClusterError, KafkaToolsMissing, kafka_libs

    if brokers not in (1, 3):
        typer.echo("--brokers: 1 or 3", err=True)
        raise typer.Exit(EXIT_USAGE)
    settings = _settings_or_exit()
    configure_logging(settings.log_level, "kafka")
    try:
        cluster = KafkaCluster(settings.data_dir / "kafka-cluster", kafka_libs(settings.data_dir), brokers, sasl)
    except KafkaToolsMissing as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except KafkaClusterError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        cluster.start()
        lines = [f"Apache Kafka is up: {brokers} KRaft node(s).", f"  bootstrap  {cluster.bootstrap}"]
        if sasl:
            lines.append(f"  super user admin, client settings in {cluster.root / 'admin.properties'} (mode 0600)")
            lines.append("  `alliance kafka provision --seed FILE` with ALLIANCE_KAFKA_BOOTSTRAP and the admin's "
                         "ALLIANCE_KAFKA_SASL_* makes the principals and ACLs")
        lines.append("Press Ctrl-C to stop.")
        typer.echo("\n".join(lines))
        while not stopping:
            if (node := cluster.exited()) is not None:
                logging.getLogger(__name__).error(
                    "Kafka node %d exited unexpectedly with code %s (see %s); stopping",
                    node.node_id, node.process.returncode, node.log_path,
                )
                raise typer.Exit(1)
            time.sleep(0.5)
    except KafkaClusterError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        cluster.stop()


@kafka_app.command("provision")
def provision(
    seed: Annotated[Path, typer.Option("--seed", help="Seed file: its members and suppliers get principals.")],
) -> None:
    """Make the cluster at ALLIANCE_KAFKA_BOOTSTRAP match the seed, connected as the super user
    ALLIANCE_KAFKA_SASL_USERNAME: topics (ALLIANCE_TOPIC_PARTITIONS, ALLIANCE_TOPIC_REPLICATION_FACTOR,
    min.insync.replicas 2 where there are replicas), one SCRAM-SHA-512 principal per member,
    supplier and service with the password in ALLIANCE_KAFKA_PASSWORD_<NAME> (m-huber:
    ALLIANCE_KAFKA_PASSWORD_M_HUBER), and the ACLs of docs/ops.md. Running it again changes nothing."""
    import os

    from shared.cli import EXIT_USAGE, _load_seed_or_exit, _settings_or_exit, configure_logging
    from shared.kafka_client import client_options
    from shared.kafka_provision import MissingPasswords, Provisioner, ProvisionError

    loaded = _load_seed_or_exit(seed)
    settings = _settings_or_exit()
    configure_logging(settings.log_level, "provision")
    if not settings.kafka_bootstrap:
        typer.echo("ALLIANCE_KAFKA_BOOTSTRAP: the cluster to provision", err=True)
        raise typer.Exit(EXIT_USAGE)
    provisioner = Provisioner(client_options(settings), settings.topic_prefix, settings.topic_partitions,
                              settings.topic_replication_factor)
    try:
        changes = provisioner.provision([m.id for m in loaded.members], [s.id for s in loaded.suppliers], os.environ)
    except ProvisionError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(EXIT_USAGE if isinstance(exc, MissingPasswords) else 1) from None
    typer.echo("\n".join(changes.lines()))
