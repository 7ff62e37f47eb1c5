"""Settings from `ALLIANCE_*` environment variables, one object for every process.

The embedded default needs no configuration: with no Kafka bootstrap or database URL set,
`alliance run` starts the embedded broker and PostgreSQL and hands their addresses to the
services through the same variables, so a service never knows which one it talks to.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.sealing import SecretBox

STANDARDS_BESIDE_THE_PROJECT = Path(__file__).resolve().parents[1].parent / "shared" / "standards"
"""The conformance kit's folder in a checkout: `../shared/standards` beside the project."""

ServiceName = Literal["members", "procurement", "notifications"]
SERVICES: tuple[ServiceName, ...] = ("members", "procurement", "notifications")


def service_description(service: ServiceName) -> str:
    """What a service does, from its package's docstring: the one text its API documents show."""
    return (importlib.import_module(f"services.{service}").__doc__ or "").strip()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALLIANCE_", extra="ignore")

    kafka_bootstrap: str | None = Field(
        default=None, description="host:port[,host:port]; unset = start the embedded broker"
    )
    kafka_sasl_username: str | None = Field(
        default=None, description="SASL principal of this process on Kafka; unset = no SASL (plaintext)"
    )
    kafka_sasl_password: SecretStr | None = Field(default=None, description="that principal's password")
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    database_url: str | None = Field(
        default=None,
        description="postgresql://user[:password]@host:port/ of the server; each service uses "
        "its own database `<database_prefix><service>` on it. Unset = start embedded PostgreSQL",
    )
    database_prefix: str = Field(
        default="alliance_", description="each service's database is <prefix><service>"
    )
    data_dir: Path = Field(default=Path(".alliance"), description="embedded PostgreSQL data, logs, the local admin token")
    topic_prefix: str = Field(default="", description="prepended to every topic name")
    admin_token: SecretStr | None = Field(
        default=None, description="bearer token of the admin APIs and the CLI; unset = `alliance run` makes one in "
        "<data dir>/admin-token (the CLI reads it there), and `alliance serve` disables its admin API"
    )
    sealing_keys: SecretStr | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, that seal members' webhook secrets on their way "
        "from members to notifications (the first seals, all open); the same value for both. "
        "Unset = `alliance run` makes one for the run",
    )
    http_host: str = "127.0.0.1"
    members_port: int = 8081
    procurement_port: int = 8082
    notifications_port: int = 8083
    embedded_kafka_port: int = 9092
    embedded_postgres_port: int = 54329
    topic_partitions: int = Field(
        default=6, description="partitions of each topic created at start"
    )
    topic_replication_factor: int = Field(
        default=1, description="replicas of each topic created at start (the embedded broker has 1)"
    )
    standards_dir: Path = Field(
        default=STANDARDS_BESIDE_THE_PROJECT,
        description="the official UBL 2.1 and openTRANS 2.1 schemas XML suppliers' documents are validated "
        "against (docs/suppliers.md); default: ../shared/standards beside the project's checkout",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")

    consumer_batch_size: int = 500
    consumer_fetch_max_wait_ms: int = 50
    outbox_batch_size: int = Field(
        default=1000, description="outbox rows per relay round (a consumed batch can write two per record)"
    )
    outbox_poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        description="how often the relay looks for rows nothing woke it for (a commit wakes it at once)",
    )
    db_pool_size: int = 8
    inbox_retention_days: int = Field(
        default=30,
        ge=1,
        description="how long a consumer remembers the event ids it has had its effect for; keep "
        "it above the topics' retention (Kafka's default: 7 days), past which no event comes again",
    )
    secret_grace_s: int = Field(
        default=86_400, description="how long a rotated-out ERP/supplier secret still verifies"
    )
    order_answer_timeout_s: int = Field(
        default=86_400, ge=1, description="a joint order unanswered this long is escalated to ops"
    )
    receipt_grace_days: int = Field(
        default=3,
        ge=0,
        description="days after a dispatch's expected arrival before goods not received are reported to "
        "the supplier as missing (joint_order.discrepancy) and escalated",
    )
    supplier_otif_floor: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="a supplier whose on-time-in-full for a category over the last 90 days is below this "
        "is used for that category's SKUs only as a last resort",
    )
    risk_corroboration_members: int = Field(
        default=2,
        ge=1,
        description="distinct members whose alerts with one scope make a member's alert act "
        "(exclude or penalise), not only warn",
    )

    @field_validator("sealing_keys")
    @classmethod
    def _usable_sealing_keys(cls, keys: SecretStr | None) -> SecretStr | None:
        if keys is not None:
            SecretBox(keys.get_secret_value())  # raises ValueError saying what a key looks like
        return keys

    def secret_box(self) -> SecretBox:
        """What members seals webhook secrets with and notifications opens them with."""
        if self.sealing_keys is None:
            raise ValueError("ALLIANCE_SEALING_KEYS is not set")
        return SecretBox(self.sealing_keys.get_secret_value())

    def topic(self, name: str) -> str:
        """The deployed name of a topic (the contract allows a prefix)."""
        return self.topic_prefix + name

    def http_port(self, service: ServiceName) -> int:
        return getattr(self, f"{service}_port")

    def service_database_url(self, service: ServiceName) -> str:
        """The service's own database on the configured server."""
        if not self.database_url:
            raise RuntimeError("ALLIANCE_DATABASE_URL is not set and no embedded database runs")
        return database_url_for(self.database_url, f"{self.database_prefix}{service}")


def database_url_for(server_url: str, database: str) -> str:
    """Replace the database part of a postgresql:// URL, keeping credentials and query."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))
