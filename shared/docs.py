"""`make docs`: each service's AsyncAPI document and the contract's JSON Schemas, into docs/.

They are committed, so a change to a topic, an event or the contract shows in review.
"""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared.contract import INBOUND_DATA, NOTICE_DATA, SUPPLIER_ORDER_DATA, CloudEvent
from shared.messaging.consumer import document_publications, subscribe
from shared.settings import SERVICES, Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _never_called():  # type: ignore[no-untyped-def]
    raise RuntimeError("documentation brokers never consume")


def _documented_subscriptions(messaging: object, settings: Settings) -> list:
    """A service's subscriptions with its handlers' other dependencies left out: the document
    needs topics and descriptions, and these handlers are never called."""
    factory = messaging.subscriptions  # type: ignore[attr-defined]
    dependencies = [
        p for p in list(inspect.signature(factory).parameters.values())[1:] if p.default is inspect.Parameter.empty
    ]
    return factory(settings, *(None for _ in dependencies))


def asyncapi_document(service: str, settings: Settings) -> str:
    messaging = importlib.import_module(f"services.{service}.entrypoints.messaging")
    broker = KafkaBroker("kafka:9092")
    subscribe(broker, _documented_subscriptions(messaging, settings), f"alliance-{service}", _never_called,
              batch_size=1, fetch_max_wait_ms=1)
    document_publications(broker, messaging.publications(settings))
    main = importlib.import_module(f"services.{service}")
    specification = AsyncAPI(
        broker, title=f"alliance {service}", version="1", description=(main.__doc__ or "").strip()
    ).to_specification()
    return specification.to_yaml()


def contract_schemas() -> dict[str, dict]:
    """JSON Schema of the envelope and of each event type's data, by file name."""
    schemas: dict[str, dict] = {"cloudevent.json": CloudEvent.model_json_schema()}
    for table, direction, mode in (
        (INBOUND_DATA, "inbound", "validation"),  # what we accept
        (SUPPLIER_ORDER_DATA, "to-supplier", "serialization"),  # what we send
        (NOTICE_DATA, "webhook", "serialization"),
    ):
        for event_type, model in table.items():
            schemas[f"{direction}/{event_type}.json"] = model.model_json_schema(mode=mode)
    return schemas


def main() -> None:
    settings = Settings(topic_prefix="")  # the documents describe the product, not one deployment
    for service in SERVICES:
        path = DOCS / "asyncapi" / f"{service}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(asyncapi_document(service, settings))
    for name, schema in contract_schemas().items():
        path = DOCS / "schemas" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
