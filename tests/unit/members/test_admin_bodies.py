"""The members admin API's bodies refuse what the registry cannot store, before it is touched
(each case here answered HTTP 500 under schemathesis)."""

import pytest
from pydantic import ValidationError

from services.members.entrypoints.http import MAX_GRACE_SECONDS, MemberChanges, NewMember, SecretRotation


@pytest.mark.parametrize("field", ["name", "region", "locale", "min_risk_severity", "interest_categories"])
def test_a_field_every_member_has_cannot_be_cleared(field):
    with pytest.raises(ValidationError, match=f"{field} cannot be null"):
        MemberChanges.model_validate({field: None})


def test_what_may_be_empty_is_cleared_by_null():
    assert MemberChanges.model_validate({"email": None, "webhook_url": None}).as_fields() == {
        "email": None, "webhook_url": None,
    }


def test_a_new_members_identity_and_secret_are_not_among_its_fields():
    body = NewMember.model_validate({"member_id": "m-neu", "name": "Neu GmbH", "region": "DE", "erp_secret": "s3cret"})
    assert body.as_fields() == {"name": "Neu GmbH", "region": "DE"}


@pytest.mark.parametrize("grace", [MAX_GRACE_SECONDS + 1, 10**30, -1])
def test_a_grace_period_beyond_a_year_or_negative_is_refused(grace):
    with pytest.raises(ValidationError):
        SecretRotation.model_validate({"new_secret": "n3w", "grace_seconds": grace})
    SecretRotation.model_validate({"new_secret": "n3w", "grace_seconds": MAX_GRACE_SECONDS})
