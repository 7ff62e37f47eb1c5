"""The committed docs/ match the code: a contract or topic change must come with `make docs`."""

import json

import pytest
import yaml

from shared.docs import DOCS, asyncapi_document, contract_schemas
from shared.settings import SERVICES, Settings


def test_contract_schemas_are_current():
    for name, schema in contract_schemas().items():
        committed = json.loads((DOCS / "schemas" / name).read_text())
        assert committed == schema, f"docs/schemas/{name} is stale: run `make docs`"


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_documents_are_current(service):
    committed = yaml.safe_load((DOCS / "asyncapi" / f"{service}.yaml").read_text())
    generated = yaml.safe_load(asyncapi_document(service, Settings(topic_prefix="")))
    assert committed == generated, (
        f"docs/asyncapi/{service}.yaml is stale: run `make docs`"
    )
