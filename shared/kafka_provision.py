"""`alliance kafka provision`: make a Kafka cluster's topics, SCRAM principals and ACLs match the
seed, idempotently (docs/ops.md, "Tenancy on Kafka").

What the cluster should hold is computed purely (`desired_acls`, `principals`) from the seed's
members and suppliers and from shared/topics.py, so a topic added there is provisioned and
guarded without touching this file. Reconciling it talks to the cluster with confluent-kafka's
admin client (aiokafka has no ACL or SCRAM API): missing topics are created and configured,
principals whose password does not authenticate are (re)set, ACLs missing are added and ACLs of
the platform's principals or on its resources that the seed no longer asks for are removed, and
so are the principals of members and suppliers no longer in the seed. Passwords come from
environment variables and are never printed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from shared import topics
from shared.runtime.topics import topic_configs
from shared.settings import SERVICES, Settings

log = logging.getLogger(__name__)

SCRAM_ITERATIONS = 8192
PASSWORD_VARIABLE_PREFIX = "ALLIANCE_KAFKA_PASSWORD_"


class ProvisionError(RuntimeError):
    """The cluster could not be brought to the seed's state; the message says what is missing."""


class MissingPasswords(ProvisionError):
    """Principals without a password variable: nothing was changed."""


@dataclass(frozen=True, order=True)
class Acl:
    """One ALLOW rule: `principal` may do `operation` on a topic or group (literal or prefixed)."""

    principal: str
    resource: str  # "topic" or "group"
    name: str
    operation: str  # READ, WRITE, DESCRIBE, CREATE
    prefixed: bool = False

    def binding(self) -> AclBinding:
        return AclBinding(
            ResourceType[self.resource.upper()], self.name,
            ResourcePatternType.PREFIXED if self.prefixed else ResourcePatternType.LITERAL,
            f"User:{self.principal}", "*", AclOperation[self.operation], AclPermissionType.ALLOW,
        )

    @classmethod
    def of(cls, binding: AclBinding) -> Acl | None:
        """The rule a cluster's binding is, or None for one outside this model (DENY, a host...)."""
        if (binding.permission_type != AclPermissionType.ALLOW or binding.host != "*"
                or not binding.principal.startswith("User:")
                or binding.restype not in (ResourceType.TOPIC, ResourceType.GROUP)):
            return None
        return cls(binding.principal.removeprefix("User:"), binding.restype.name.lower(), binding.name,
                   binding.operation.name, binding.resource_pattern_type == ResourcePatternType.PREFIXED)


SUPPLIER_GROUP_PREFIX = "supplier."


def supplier_group(prefix: str, supplier_id: str) -> str:
    """The consumer group a supplier may read its orders in: `supplier.<its id>`."""
    return f"{prefix}{SUPPLIER_GROUP_PREFIX}{supplier_id}"


def service_principal(service: str) -> str:
    return f"alliance-{service}"


def principals(member_ids: Iterable[str], supplier_ids: Iterable[str]) -> list[str]:
    """Every SCRAM principal the seed asks for: one per member, supplier and service."""
    names = [*member_ids, *supplier_ids, *(service_principal(s) for s in SERVICES)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ProvisionError(f"one principal name for two parties: {', '.join(duplicates)}")
    return names


def password_variable(principal: str) -> str:
    """The environment variable holding a principal's password: m-huber -> ALLIANCE_KAFKA_PASSWORD_M_HUBER."""
    return PASSWORD_VARIABLE_PREFIX + re.sub(r"[^A-Z0-9]", "_", principal.upper())


def service_access(prefix: str) -> dict[str, tuple[set[str], set[str]]]:
    """service -> (topics it reads, topics it writes), from the service's own declarations (its
    subscriptions and publications, which its AsyncAPI document shows too); every service writes
    the dead-letter and quarantine topics, where it sets bad records aside."""
    from shared.docs import declared_topics  # the services' entrypoints, only when provisioning

    access = {}
    for service in SERVICES:
        subscriptions, publications = declared_topics(service, Settings(topic_prefix=prefix))
        writes = {p.topic for p in publications} | {prefix + topics.DEAD_LETTERS, prefix + topics.QUARANTINE}
        access[service] = ({s.topic for s in subscriptions}, writes)
    return access


def desired_acls(prefix: str, member_ids: Iterable[str], supplier_ids: Iterable[str]) -> set[Acl]:
    """The ACLs of docs/ops.md: members write requests and risk alerts; a supplier reads its own
    orders (in its consumer group, `supplier_group`) and writes responses and risk alerts; each
    service reads what it consumes and writes what it publishes (`service_access`), sees every
    platform topic's metadata, and uses its own group; nobody anything else."""
    acls: set[Acl] = set()

    def allow(principal: str, resource: str, name: str, *operations: str, prefixed: bool = False) -> None:
        acls.update(Acl(principal, resource, name, op, prefixed) for op in operations)

    for member in member_ids:
        for topic in (topics.PURCHASE_REQUESTS, topics.RISK_ALERTS):
            allow(member, "topic", prefix + topic, "WRITE", "DESCRIBE")
    for supplier in supplier_ids:
        allow(supplier, "topic", prefix + topics.supplier_orders(supplier), "READ", "DESCRIBE")
        allow(supplier, "group", supplier_group(prefix, supplier), "READ")
        for topic in (topics.SUPPLIER_RESPONSES, topics.RISK_ALERTS):
            allow(supplier, "topic", prefix + topic, "WRITE", "DESCRIBE")
    for service, (reads, writes) in service_access(prefix).items():
        principal = service_principal(service)
        for topic in topics.all_topics(prefix):
            allow(principal, "topic", topic, "DESCRIBE")
        allow(principal, "topic", prefix + topics.SUPPLIER_ORDERS_PREFIX, "DESCRIBE", prefixed=True)
        for topic in reads:
            allow(principal, "topic", topic, "READ")
        for topic in writes:
            if topic.startswith(prefix + topics.SUPPLIER_ORDERS_PREFIX):  # a supplier's own topic, by its id
                allow(principal, "topic", prefix + topics.SUPPLIER_ORDERS_PREFIX, "WRITE", prefixed=True)
            else:
                allow(principal, "topic", topic, "WRITE")
        allow(principal, "group", f"{prefix}alliance-{service}", "READ")
    # procurement creates the orders topic of a supplier added while it runs
    allow(service_principal("procurement"), "topic", prefix + topics.SUPPLIER_ORDERS_PREFIX, "CREATE", prefixed=True)
    return acls


@dataclass
class Changes:
    """What a run changed, for the operator (names only, never a password)."""

    topics_created: list[str] = field(default_factory=list)
    topics_altered: list[str] = field(default_factory=list)
    principals_set: list[str] = field(default_factory=list)
    principals_removed: list[str] = field(default_factory=list)
    acls_added: int = 0
    acls_removed: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def nothing(self) -> bool:
        return not (self.topics_created or self.topics_altered or self.principals_set or self.principals_removed
                    or self.acls_added or self.acls_removed)

    def lines(self) -> list[str]:
        if self.nothing:
            return ["the cluster already matches the seed: nothing changed", *self.warnings]
        return [
            f"topics created: {', '.join(self.topics_created) or 'none'}",
            f"topics reconfigured: {', '.join(self.topics_altered) or 'none'}",
            f"principals set: {', '.join(self.principals_set) or 'none'}",
            f"principals removed: {', '.join(self.principals_removed) or 'none'}",
            f"ACLs added: {self.acls_added}, removed: {self.acls_removed}",
            *self.warnings,
        ]


@dataclass
class Provisioner:
    """Reconciles one cluster, connected as a super user (`admin_options`: aiokafka's arguments)."""

    admin_options: Mapping[str, Any]
    prefix: str
    partitions: int
    replication_factor: int

    def __post_init__(self) -> None:
        self._admin = AdminClient(_librdkafka_config(self.admin_options))

    def provision(self, member_ids: list[str], supplier_ids: list[str], environment: Mapping[str, str]) -> Changes:
        wanted = principals(member_ids, supplier_ids)
        missing = [password_variable(p) for p in wanted if not environment.get(password_variable(p))]
        if missing:
            raise MissingPasswords("no password for these principals; set " + ", ".join(missing))
        changes = Changes()
        self._topics(topics.all_topics(self.prefix, supplier_ids), changes)
        self._principals({p: environment[password_variable(p)] for p in wanted}, changes)
        removed = self._acls(desired_acls(self.prefix, member_ids, supplier_ids), set(wanted), changes)
        self._remove_principals(removed, changes)
        return changes

    def _topics(self, names: list[str], changes: Changes) -> None:
        configs = topic_configs(self.replication_factor)
        existing = self._admin.list_topics(timeout=30).topics
        missing = [n for n in names if n not in existing]
        if missing:
            futures = self._admin.create_topics(
                [NewTopic(n, self.partitions, self.replication_factor, config=configs) for n in missing])
            for name, future in futures.items():
                _result(future, f"creating topic {name}")
            changes.topics_created += missing
        present = [n for n in names if n in existing]
        grow = [NewPartitions(n, self.partitions) for n in present if len(existing[n].partitions) < self.partitions]
        if grow:
            for name, future in self._admin.create_partitions(grow).items():
                _result(future, f"adding partitions to {name}")
            changes.topics_altered += [g.topic for g in grow]
        for name in present:
            replicas = len(next(iter(existing[name].partitions.values())).replicas)
            if replicas != self.replication_factor:
                changes.warnings.append(
                    f"warning: {name} has {replicas} replicas, not {self.replication_factor}: "
                    "reassign its partitions (kafka-reassign-partitions) to change that")
        if present:
            resources = [ConfigResource(ResourceType.TOPIC, n) for n in present]
            current = {r.name: _result(f, f"reading the settings of {r.name}")
                       for r, f in self._admin.describe_configs(resources).items()}
            stale = [n for n in present if any(current[n][k].value != v for k, v in configs.items())]
            if stale:
                alterations = [ConfigResource(ResourceType.TOPIC, n, incremental_configs=[
                    ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in configs.items()])
                    for n in stale]
                for resource, future in self._admin.incremental_alter_configs(alterations).items():
                    _result(future, f"setting {resource.name}'s configuration")
                changes.topics_altered += [n for n in stale if n not in changes.topics_altered]

    def _principals(self, passwords: dict[str, str], changes: Changes) -> None:
        """Set each principal whose password does not authenticate (new, or changed in the environment)."""
        stale = [p for p, password in passwords.items() if not asyncio.run(self._authenticates(p, password))]
        if not stale:
            return
        upserts = [UserScramCredentialUpsertion(p, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS),
                                                passwords[p].encode()) for p in stale]
        for user, future in self._admin.alter_user_scram_credentials(upserts).items():
            _result(future, f"setting the credential of {user}")
        changes.principals_set += stale

    async def _authenticates(self, principal: str, password: str) -> bool:
        options = {**self.admin_options, "sasl_plain_username": principal, "sasl_plain_password": password}
        client = AIOKafkaClient(**options)
        quiet = logging.getLogger("aiokafka")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # a refused login is the expected answer for a new principal
        try:
            await client.bootstrap()
            return True
        except KafkaError:
            return False
        finally:
            quiet.setLevel(level)
            await client.close()

    def _acls(self, wanted: set[Acl], principals_wanted: set[str], changes: Changes) -> set[str]:
        """Add the missing ACLs, remove the platform's that are not wanted; return the principals
        whose every ACL was removed (members and suppliers gone from the seed)."""
        any_binding = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, None, None,
                                       AclOperation.ANY, AclPermissionType.ANY)
        present = {acl for b in _result(self._admin.describe_acls(any_binding), "reading the ACLs")
                   if (acl := Acl.of(b)) is not None}
        ours = {acl for acl in present if self._platform_resource(acl)}  # others' ACLs are left alone
        missing, unwanted = wanted - present, ours - wanted
        if missing:
            for binding, future in self._admin.create_acls([a.binding() for a in sorted(missing)]).items():
                _result(future, f"adding ACL {binding}")
            changes.acls_added = len(missing)
        if unwanted:
            filters = [_exact_filter(a.binding()) for a in sorted(unwanted)]
            for future in self._admin.delete_acls(filters).values():
                _result(future, "removing an ACL")
            changes.acls_removed = len(unwanted)
        left = {a.principal for a in (present - unwanted) | missing}
        return {a.principal for a in unwanted} - left - principals_wanted

    def _platform_resource(self, acl: Acl) -> bool:
        if acl.resource == "group":
            return acl.name.startswith((f"{self.prefix}alliance-", self.prefix + SUPPLIER_GROUP_PREFIX))
        return acl.name in topics.all_topics(self.prefix) or acl.name.startswith(
            self.prefix + topics.SUPPLIER_ORDERS_PREFIX)

    def _remove_principals(self, removed: set[str], changes: Changes) -> None:
        if not removed:
            return
        existing = _result(self._admin.describe_user_scram_credentials(), "reading the SCRAM principals")
        gone = sorted(p for p in removed if p in existing)
        if gone:
            deletions = [UserScramCredentialDeletion(p, ScramMechanism.SCRAM_SHA_512) for p in gone]
            for user, future in self._admin.alter_user_scram_credentials(deletions).items():
                _result(future, f"removing the credential of {user}")
        changes.principals_removed += gone


def _exact_filter(binding: AclBinding) -> AclBindingFilter:
    return AclBindingFilter(binding.restype, binding.name, binding.resource_pattern_type, binding.principal,
                            binding.host, binding.operation, binding.permission_type)


def _result(future: Any, what: str) -> Any:
    try:
        return future.result(timeout=60)
    except KafkaException as exc:
        raise ProvisionError(f"{what} failed: {exc.args[0].str() if exc.args else exc}") from None


def _librdkafka_config(options: Mapping[str, Any]) -> dict[str, str]:
    """aiokafka's keyword arguments in librdkafka's vocabulary."""
    config = {"bootstrap.servers": options["bootstrap_servers"]}
    if options.get("security_protocol", "PLAINTEXT") != "PLAINTEXT":
        config |= {
            "security.protocol": options["security_protocol"],
            "sasl.mechanism": options["sasl_mechanism"],
            "sasl.username": options["sasl_plain_username"],
            "sasl.password": options["sasl_plain_password"],
        }
    return config

