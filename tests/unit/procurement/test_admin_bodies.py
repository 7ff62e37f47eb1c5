"""The procurement admin API refuses an invalid alert or supplier with a 422 problem naming the
fields, before a unit of work is opened (its own refusals answered `{"detail": "text"}`, against
its OpenAPI document, before)."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.procurement.entrypoints.http import admin_router
from shared.http import PROBLEM_JSON, create_app


def _no_database():
    raise AssertionError("a refused request opened a unit of work")


async def _healthy() -> dict[str, bool]:
    return {"ok": True}


@pytest.fixture
def admin():
    router = admin_router(_no_database, None, timedelta(days=1), None, None)
    app = create_app("procurement", _healthy, SecretStr("t0ken"), [router])
    return TestClient(app, base_url="http://test/admin", headers={"Authorization": "Bearer t0ken"})


def _fields(answer) -> list[str]:
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM_JSON
    return [error["field"] for error in answer.json()["errors"]]


def test_an_alert_without_a_scope_is_refused(admin):
    answer = admin.post("/alerts", json={"kind": "delay", "severity": "high", "summary": "Streik"})
    assert _fields(answer) == ["body"] and "at least one of supplier_id, sku, region" in answer.json()["detail"]


def test_an_alert_with_an_empty_summary_or_unknown_key_is_refused(admin):
    body = {"region": "DE", "kind": "delay", "severity": "high", "summary": "", "severty": "low"}
    assert sorted(_fields(admin.post("/alerts", json=body))) == ["body.severty", "body.summary"]


def test_an_alert_until_a_time_without_a_zone_is_refused(admin):
    body = {"region": "DE", "kind": "delay", "severity": "high", "summary": "Streik", "valid_until": "2027-01-01T00:00"}
    assert _fields(admin.post("/alerts", json=body)) == ["body.valid_until"]


def test_the_document_requires_a_scope_as_the_contract_does():
    schema = create_app("procurement", _healthy, None, [admin_router(*[None] * 5)]).openapi()
    assert [branch["required"] for branch in schema["components"]["schemas"]["RaiseAlert"]["anyOf"]] == [
        ["supplier_id"], ["sku"], ["region"],
    ]


SUPPLIER = {"id": "s-alpen", "name": "Alpen KG", "secret": "s3cret-XYZ", "regions": ["DE"], "lead_time_days": 2}


def test_a_supplier_whose_body_names_another_id_is_refused(admin):
    answer = admin.put("/suppliers/s-other", json=SUPPLIER)
    assert _fields(answer) == ["body.id"] and "s3cret-XYZ" not in answer.text


@pytest.mark.parametrize("change", [{"secret_env": "SUPPLIER_SECRET"}, {"secret": None}, {"lead_time_days": True}])
def test_a_supplier_needs_exactly_one_secret_and_integer_days(admin, change):
    assert _fields(admin.put("/suppliers/s-alpen", json=SUPPLIER | change))
