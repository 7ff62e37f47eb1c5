"""Creating the platform's topics before any service starts.

Brokers that auto-create topics on first use (Tansu does) would otherwise give them the
broker's default partition count, and the partitioning the services rely on would be lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

log = logging.getLogger(__name__)


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic for a reason other than it already existing."""


MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""A topic's largest record batch: the outbox relay sends batches of up to 1 MiB and documents
(openTRANS orders of thousands of lines) can be larger than Kafka's default of 1 MiB."""


def topic_configs(replication_factor: int) -> dict[str, str]:
    """Each platform topic's settings: large batches, and with replicas, an acknowledged write
    (acks=all) on at least two of them, so that losing one broker loses nothing acknowledged."""
    return {
        "max.message.bytes": str(MAX_MESSAGE_BYTES),
        "min.insync.replicas": str(min(2, replication_factor)),
    }


async def create_topics(
    bootstrap: str,
    topics: Sequence[str],
    partitions: int,
    replication_factor: int = 1,
    options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create each topic that does not exist yet, with `topic_configs`; return the names created
    (existing ones are left as they are: `alliance kafka provision` reconciles them).
    `options`: further aiokafka client arguments (SASL)."""
    admin = AIOKafkaAdminClient(**{"bootstrap_servers": bootstrap, **(options or {})}, client_id="alliance-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(topics) if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [
                NewTopic(name, partitions, replication_factor, topic_configs=topic_configs(replication_factor))
                for name in missing
            ]
        )
    finally:
        await admin.close()
    created = []
    for name, code, *message in response.topic_errors:  # v1+ add an error message
        reason = message[0] if message and message[0] else "no message"
        if code == 0:
            created.append(name)
        elif code != TopicAlreadyExistsError.errno:
            raise TopicCreationError(
                f"creating topic {name} failed with Kafka error {code}: {reason}"
            )
    if created:
        log.info(
            "created %d topic(s) with %d partitions on %s: %s",
            len(created),
            partitions,
            bootstrap,
            ", ".join(created),
        )
    return created
