"""The members admin API refuses what the registry cannot store with a 422 problem, before a unit
of work is opened (each case here answered HTTP 500 under schemathesis)."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from services.members.entrypoints.http import (
    MAX_GRACE_SECONDS,
    MemberChanges,
    NewMember,
    SecretRotation,
    admin_router,
)
from shared.http import PROBLEM_JSON, create_app


def _no_database():
    raise AssertionError("a refused request opened a unit of work")


async def _healthy() -> dict[str, bool]:
    return {"ok": True}


@pytest.fixture
def admin():
    app = create_app("members", _healthy, SecretStr("t0ken"), [admin_router(_no_database, None, timedelta(days=1))])
    return TestClient(app, base_url="http://test/admin", headers={"Authorization": "Bearer t0ken"})


def _refused(answer) -> dict:
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM_JSON
    problem = answer.json()
    assert problem["status"] == 422 and problem["title"] == "Unprocessable Entity"
    return problem


@pytest.mark.parametrize("field", ["name", "region", "locale", "min_risk_severity", "interest_categories"])
def test_a_field_every_member_has_cannot_be_cleared(admin, field):
    problem = _refused(admin.patch("/members/m-huber", json={field: None}))
    assert f"{field} cannot be null" in problem["detail"] and problem["errors"][0]["field"] == "body"


def test_what_may_be_empty_is_cleared_by_null():
    assert MemberChanges.model_validate({"email": None, "webhook_url": None}).as_fields() == {
        "email": None, "webhook_url": None,
    }


def test_the_document_offers_no_null_for_what_cannot_be_cleared():
    properties = MemberChanges.model_json_schema()["properties"]
    assert properties["locale"]["enum"] == ["de", "en"] and "anyOf" not in properties["locale"]
    assert {"type": "null"} in properties["email"]["anyOf"]


def test_a_new_members_identity_and_secret_are_not_among_its_fields():
    body = NewMember.model_validate({"member_id": "m-neu", "name": "Neu GmbH", "region": "DE", "erp_secret": "s3cret"})
    assert body.as_fields() == {"name": "Neu GmbH", "region": "DE"}


def test_a_nul_character_in_a_new_member_is_refused(admin):
    body = {"member_id": "m-neu", "name": "Neu\u0000GmbH", "region": "DE", "erp_secret": "s3cret"}
    assert "NUL" in _refused(admin.post("/members", json=body))["detail"]


def test_an_unknown_key_is_named_and_the_secret_never_echoed(admin):
    body = {"member_id": "m-neu", "name": "Neu GmbH", "region": "DE", "erp_secret": "s3cret-XYZ", "nmae": "x"}
    answer = admin.post("/members", json=body)
    assert _refused(answer)["errors"] == [{"field": "body.nmae", "message": "Extra inputs are not permitted"}]
    assert "s3cret-XYZ" not in answer.text


@pytest.mark.parametrize("grace", [MAX_GRACE_SECONDS + 1, 10**30, -1, True, "60", 1.5])
def test_a_grace_period_beyond_a_year_negative_or_not_an_integer_is_refused(admin, grace):
    problem = _refused(admin.post("/members/m-huber/rotate-secret", json={"new_secret": "n3w", "grace_seconds": grace}))
    assert problem["errors"][0]["field"] == "body.grace_seconds"


def test_a_whole_number_written_as_a_float_is_an_integer_as_json_schema_says():
    assert SecretRotation.model_validate({"new_secret": "n3w", "grace_seconds": 60.0}).grace_seconds == 60
    with pytest.raises(ValidationError):
        SecretRotation.model_validate({"new_secret": "n3w", "grace_seconds": MAX_GRACE_SECONDS + 1})
