"""How every process connects to Kafka: the bootstrap, SASL when configured, the settings a
replicated cluster needs, and what the broker can do, detected rather than assumed from its name.

The embedded Tansu broker and Apache Kafka differ in what they support: Kafka hands out producer
ids (idempotent producers), Tansu advertises the request but fails it. So the outbox relay asks
the broker once at start (`supports_idempotence`) and uses the idempotent producer only where
it works; `acks=all` everywhere, and the inbox dedupes either way.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaClient, errors
from aiokafka.errors import KafkaError
from aiokafka.protocol.transaction import InitProducerIdRequest
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from shared.settings import Settings

log = logging.getLogger(__name__)

METADATA_MAX_AGE_MS = 5_000
"""aiokafka workaround: after a partition's leader moves (a broker lost), a producer or consumer
answered NotLeaderForPartition may keep asking the old leader until its next periodic refresh,
by default 5 minutes later. Refreshing every 5 s bounds such a stall to seconds, for a metadata
request per client every 5 s (a precaution: docs/ops.md, "Running on Apache Kafka")."""

PRODUCER_ID_ATTEMPTS = 20
"""Times to ask, half a second apart, while the broker answers with a retriable error."""

_SECURITY = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}


def client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments: `bootstrap_servers`, SASL if configured, metadata refresh."""
    if not settings.kafka_bootstrap:
        raise RuntimeError("ALLIANCE_KAFKA_BOOTSTRAP is not set (use `alliance run` for the embedded broker)")
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "metadata_max_age_ms": METADATA_MAX_AGE_MS,
        **sasl_options(settings),
    }


def sasl_options(settings: Settings) -> dict[str, Any]:
    """The SASL part of aiokafka's keyword arguments; empty without ALLIANCE_KAFKA_SASL_USERNAME."""
    if settings.kafka_sasl_username is None:
        return {}
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else "",
    }


def faststream_security(settings: Settings) -> BaseSecurity | None:
    """The same SASL settings as FastStream's security object (None: plaintext, no SASL)."""
    if settings.kafka_sasl_username is None:
        return None
    password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
    return _SECURITY[settings.kafka_sasl_mechanism](settings.kafka_sasl_username, password)


async def supports_idempotence(options: dict[str, Any]) -> bool:
    """Whether the broker hands this principal a producer id, which an idempotent producer needs.

    Asked for real: Tansu lists InitProducerId among its APIs but answers it with an error. A
    principal allowed to write nowhere is refused one as well (and then needs no producer)."""
    client = AIOKafkaClient(**options)
    request = InitProducerIdRequest(transactional_id=None, transaction_timeout_ms=60_000)
    try:
        await client.bootstrap()
        for _ in range(PRODUCER_ID_ATTEMPTS):
            response = await client.send(client.get_random_node(), request)
            error = errors.for_code(response.error_code)
            if response.error_code == 0 or not error.retriable:  # a broker just started may be loading
                break
            await asyncio.sleep(0.5)
    except KafkaError as exc:
        log.info("the broker gives no producer id (%s): publishing without idempotence", exc)
        return False
    finally:
        await client.close()
    if response.error_code != 0:
        log.info("the broker gives no producer id (%s): publishing without idempotence", error.__name__)
        return False
    return True
