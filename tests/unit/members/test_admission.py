"""Admission rules, pure: every outcome of the issue's table without a broker."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.members.domain.admission import (
    Outcome,
    assess_cancellation,
    assess_submission,
    authenticate,
    fingerprint,
)
from services.members.domain.members import Member, MemberStatus
from shared.contract import PurchaseRequestSubmitted
from shared.reasons import QuarantineReason
from shared.signing import sign

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
HUBER = Member("m-huber", "Huber", MemberStatus.ACTIVE, "DE", erp_secret="new-secret")
DATA = {"request_id": "r-1", "member_id": "m-huber", "sku": "BOARD", "quantity": 60, "needed_by": "2026-12-20"}
BODY = b'{"some":"bytes"}'


def header(secret: str = "new-secret", at: datetime = NOW) -> bytes:
    return sign(secret, BODY, now=at.timestamp()).encode()


def test_authentic_record_passes():
    assert authenticate("m-huber", DATA, header(), BODY, HUBER, NOW) is None


@pytest.mark.parametrize(
    ("key", "data", "signature", "member", "reason"),
    [
        ("m-huber", DATA, None, HUBER, QuarantineReason.MISSING_SIGNATURE),
        ("m-huber", DATA, b"t=1,v1=zz", HUBER, QuarantineReason.MALFORMED_SIGNATURE),
        ("m-huber", DATA, header(at=NOW - timedelta(seconds=301)), HUBER, QuarantineReason.STALE_TIMESTAMP),
        ("m-huber", DATA, header("someone-else"), HUBER, QuarantineReason.BAD_SIGNATURE),
        ("m-ghost", DATA, header(), None, QuarantineReason.UNKNOWN_MEMBER),
        (None, DATA, header(), HUBER, QuarantineReason.UNKNOWN_MEMBER),
        ("m-huber", {**DATA, "member_id": "m-other"}, header(), HUBER, QuarantineReason.KEY_NOT_MEMBER),
    ],
)
def test_authentication_failures_are_quarantined_with_reason(key, data, signature, member, reason):
    assert authenticate(key, data, signature, BODY, member, NOW) is reason


def test_rotated_secret_works_during_grace_and_not_after():
    rotated = HUBER.rotated("newer-secret", NOW, timedelta(hours=1))
    old = header("new-secret")
    assert authenticate("m-huber", DATA, old, BODY, rotated, NOW) is None
    later = NOW + timedelta(hours=1, seconds=1)
    assert authenticate("m-huber", DATA, sign("new-secret", BODY, now=later.timestamp()).encode(), BODY, rotated, later) \
        is QuarantineReason.BAD_SIGNATURE
    assert authenticate("m-huber", DATA, sign("newer-secret", BODY, now=later.timestamp()).encode(), BODY, rotated, later) \
        is None


def test_submission_outcomes():
    skus = {"BOARD"}
    accepted = assess_submission(DATA, HUBER, skus, None)
    assert accepted.outcome is Outcome.ACCEPTED and accepted.request is not None

    suspended = assess_submission(DATA, Member("m-huber", "H", MemberStatus.SUSPENDED, "DE", "k"), skus, None)
    assert (suspended.outcome, suspended.reason) == (Outcome.REJECTED, "member_suspended")

    invalid = assess_submission({**DATA, "quantity": "60"}, HUBER, skus, None)
    assert (invalid.outcome, invalid.reason) == (Outcome.REJECTED, "invalid_payload")
    assert "quantity" in invalid.detail

    unknown = assess_submission({**DATA, "sku": "NOPE"}, HUBER, skus, None)
    assert (unknown.outcome, unknown.reason) == (Outcome.REJECTED, "unknown_sku")

    same = fingerprint(PurchaseRequestSubmitted.model_validate(DATA))
    assert assess_submission(DATA, HUBER, skus, same).outcome is Outcome.RESUBMITTED
    conflicting = assess_submission({**DATA, "quantity": 61}, HUBER, skus, same)
    assert (conflicting.outcome, conflicting.reason) == (Outcome.REJECTED, "duplicate_request")


def test_cancellation_outcomes():
    cancel = {"request_id": "r-1", "member_id": "m-huber"}
    assert assess_cancellation(cancel, HUBER, request_known=True).outcome is Outcome.CANCELLATION
    unknown = assess_cancellation(cancel, HUBER, request_known=False)
    assert (unknown.outcome, unknown.reason) == (Outcome.REJECTED, "unknown_request")
    assert assess_cancellation({"request_id": 5}, HUBER, True).reason == "invalid_payload"


@pytest.mark.parametrize(
    "data",
    [DATA, {**DATA, "max_unit_price": "9.125", "ship_to": {"site": "Werk 2", "postal_code": "80331", "country": "AT"}}],
)
def test_admitted_data_is_the_admitted_event_procurement_reads(data):
    """Procurement reads every field as the member sent it: a 9.125 limit stays 9.125, not 9.13."""
    import pydantic_core

    from services.members.service_layer.admission import admitted_data
    from shared.events.members import PurchaseRequestAdmitted

    request = PurchaseRequestSubmitted.model_validate(data)
    expected = PurchaseRequestAdmitted(
        **dict(request), country=request.ship_to.country if request.ship_to else HUBER.region
    )
    rendered = pydantic_core.to_json(admitted_data(request, HUBER))
    assert rendered == expected.model_dump_json().encode()
    assert PurchaseRequestAdmitted.model_validate_json(rendered) == expected
    assert expected.max_unit_price == (Decimal(data["max_unit_price"]) if "max_unit_price" in data else None)
