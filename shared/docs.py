"""`make docs`: each service's AsyncAPI and OpenAPI documents and the contract's JSON Schemas,
into docs/.

They are committed, so a change to a topic, an event, an admin route or the contract shows in review.
"""

from __future__ import annotations

import importlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared.contract import INBOUND_DATA, NOTICE_DATA, SUPPLIER_ORDER_DATA, CloudEvent
from shared.http import create_app
from shared.messaging.consumer import Publication, Subscription, document_publications, subscribe
from shared.settings import SERVICES, Settings, service_description

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _never_called():  # type: ignore[no-untyped-def]
    raise RuntimeError("documentation brokers never consume")


def _without_dependencies(factory: Callable[..., Any], *given: object) -> Any:
    """What `factory` builds with the dependencies it needs at run time left out: documents need
    topics, routes and descriptions, and nothing they hold is ever called."""
    parameters = list(inspect.signature(factory).parameters.values())[len(given) :]
    dependencies = [p for p in parameters if p.default is inspect.Parameter.empty]
    return factory(*given, *(None for _ in dependencies))


def declared_topics(service: str, settings: Settings) -> tuple[list[Subscription], list[Publication]]:
    """What a service declares it consumes and publishes, with its handlers' other dependencies
    left out: the AsyncAPI document and the Kafka ACLs need topics and descriptions, and these
    handlers are never called."""
    messaging = importlib.import_module(f"services.{service}.entrypoints.messaging")
    return _without_dependencies(messaging.subscriptions, settings), messaging.publications(settings)


def asyncapi_document(service: str, settings: Settings) -> str:
    subscriptions, publications = declared_topics(service, settings)
    broker = KafkaBroker("kafka:9092")
    subscribe(broker, subscriptions, f"alliance-{service}", _never_called, batch_size=1, fetch_max_wait_ms=1)
    document_publications(broker, publications)
    specification = AsyncAPI(
        broker, title=f"alliance {service}", version="1", description=service_description(service)
    ).to_specification()
    return canonical_yaml(specification.to_jsonable())


def openapi_document(service: str) -> str:
    """The admin API as `alliance run` serves it at /openapi.json."""
    http = importlib.import_module(f"services.{service}.entrypoints.http")
    app = create_app(service, _never_called, None, [_without_dependencies(http.admin_router)])
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def canonical_yaml(document: dict) -> str:
    """The document with its named collections (channels, operations, components) in name order:
    FastStream lists them as declared, which moved between its releases, and the committed files
    are compared byte for byte."""
    for key in ("channels", "operations"):
        document[key] = dict(sorted(document.get(key, {}).items()))
    components = document.get("components", {})
    for key, collection in components.items():
        components[key] = dict(sorted(collection.items()))
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


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


def generated_documents() -> dict[Path, str]:
    """Every file `make docs` writes, by path, with its exact text."""
    settings = Settings(topic_prefix="")  # the documents describe the product, not one deployment
    documents = {DOCS / "asyncapi" / f"{service}.yaml": asyncapi_document(service, settings) for service in SERVICES}
    documents |= {DOCS / "openapi" / f"{service}.json": openapi_document(service) for service in SERVICES}
    for name, schema in contract_schemas().items():
        documents[DOCS / "schemas" / name] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return documents


def main() -> None:
    for path, text in generated_documents().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


if __name__ == "__main__":
    main()
