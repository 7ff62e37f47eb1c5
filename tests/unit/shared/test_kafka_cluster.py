"""The local Apache Kafka cluster's configuration, without starting a JVM."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.runtime import kafka_cluster
from shared.runtime.kafka_cluster import KAFKA_VERSION, KafkaCluster, KafkaToolsMissing, require_tools

REPOSITORY = Path(__file__).resolve().parents[3]


def test_the_local_broker_is_the_version_compose_deploys() -> None:
    compose = yaml.safe_load((REPOSITORY / "deploy/compose.yaml").read_text())
    images = {service["image"] for service in compose["services"].values() if "image" in service}
    kafka_images = {image for image in images if image.startswith("apache/kafka:")}
    assert kafka_images == {f"apache/kafka:{KAFKA_VERSION}"}


def test_three_brokers_are_all_in_the_bootstrap_and_replicate_three_ways(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path / "cluster", tmp_path / "libs", brokers=3)
    assert len(cluster.bootstrap.split(",")) == 3
    properties = cluster._server_properties(cluster.node(2))
    assert "default.replication.factor=3" in properties
    assert "min.insync.replicas=2" in properties
    assert properties.count("@127.0.0.1:") == 3  # every voter of the quorum


def test_sasl_enforces_acls_and_keeps_the_password_out_of_the_repr(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path / "cluster", tmp_path / "libs", sasl=True)
    properties = cluster._server_properties(cluster.node(1))
    assert "allow.everyone.if.no.acl.found=false" in properties
    assert "BROKER:SASL_PLAINTEXT" in properties
    assert cluster.admin_password not in repr(cluster)


def test_a_machine_without_maven_is_told_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kafka_cluster.shutil, "which", lambda name: None if name == "mvn" else "/usr/bin/java")
    with pytest.raises(KafkaToolsMissing, match="apt-get install .*maven"):
        require_tools()


def test_cluster_ids_never_start_with_a_dash_which_storage_tool_would_read_as_an_option(
        monkeypatch: pytest.MonkeyPatch) -> None:
    dashed_then_plain = iter([bytes([0xF8]) + bytes(15), bytes(16)])  # base64url "-A…", then "AAA…"
    monkeypatch.setattr(kafka_cluster.uuid, "uuid4", lambda: kafka_cluster.uuid.UUID(bytes=next(dashed_then_plain)))
    cluster_id = kafka_cluster.new_cluster_id()
    assert cluster_id == "A" * 22
