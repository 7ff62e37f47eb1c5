"""Members' risk alerts, pure: authenticated like purchase requests, then taken or set aside."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.members.domain.members import Member, MemberStatus
from services.members.domain.risk import assess_alert, authenticate_reporter
from shared.contract import EventType, RiskAlertRaised, RiskAlertResolved
from shared.reasons import QuarantineReason
from shared.signing import sign

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
HUBER = Member("m-huber", "Huber", MemberStatus.ACTIVE, "DE", erp_secret="new-secret")
BODY = b'{"some":"bytes"}'
RAISED = {"alert_id": "a-1", "supplier_id": "s-holz", "kind": "insolvency", "severity": "critical", "summary": "x"}


def header(secret: str = "new-secret", at: datetime = NOW) -> bytes:
    return sign(secret, BODY, now=at.timestamp()).encode()


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (header(), None),
        (None, QuarantineReason.MISSING_SIGNATURE),
        (b"t=1,v1=zz", QuarantineReason.MALFORMED_SIGNATURE),
        (header(at=NOW - timedelta(seconds=301)), QuarantineReason.STALE_TIMESTAMP),
        (header("someone-else"), QuarantineReason.BAD_SIGNATURE),
    ],
)
def test_the_member_the_key_names_must_have_signed_it(signature, reason):
    assert authenticate_reporter(signature, BODY, HUBER, NOW) == reason


def test_the_previous_secret_signs_during_its_rotation_grace_only():
    rotated = HUBER.rotated("newer-secret", NOW, timedelta(hours=1))
    assert authenticate_reporter(header("new-secret"), BODY, rotated, NOW) is None
    later = NOW + timedelta(hours=2)
    assert authenticate_reporter(header("new-secret", later), BODY, rotated, later) is QuarantineReason.BAD_SIGNATURE


def test_a_valid_alert_or_resolution_is_taken():
    assert assess_alert(EventType.RISK_ALERT_RAISED, RAISED, HUBER).data == RiskAlertRaised.model_validate(RAISED)
    assert assess_alert(EventType.RISK_ALERT_RESOLVED, {"alert_id": "a-1"}, HUBER).data == RiskAlertResolved(
        alert_id="a-1")


@pytest.mark.parametrize(
    "data",
    [
        {**RAISED, "supplier_id": None},  # no scope
        {**RAISED, "severity": "urgent"},
        {**RAISED, "region": "Germany"},
        {**RAISED, "summary": "x" * 501},
        {k: v for k, v in RAISED.items() if k != "kind"},
    ],
)
def test_an_invalid_alert_is_dead_lettered_with_its_field_errors(data):
    verdict = assess_alert(EventType.RISK_ALERT_RAISED, data, HUBER)
    assert verdict.data is None and verdict.reason == "invalid_payload" and verdict.detail


def test_a_suspended_member_raises_nothing_but_may_end_its_own_alerts():
    suspended = replace(HUBER, status=MemberStatus.SUSPENDED)
    verdict = assess_alert(EventType.RISK_ALERT_RAISED, RAISED, suspended)
    assert (verdict.data, verdict.reason) == (None, "member_suspended")
    assert assess_alert(EventType.RISK_ALERT_RESOLVED, {"alert_id": "a-1"}, suspended).data is not None
