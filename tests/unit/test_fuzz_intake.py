"""Fuzzing what the services do with a record from outside, with the domain's own functions in
the order their handlers apply them: members' admission of ERP records, procurement's intake of
supplier answers, and both services' intake of risk alerts.

Whatever the key, bytes and signature header, a record ends in exactly one of: accepted,
rejected (its member is told why), quarantined (failed authentication) or dead-lettered
(unreadable or unusable); no other exception escapes.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.members.domain.admission import (
    ADMISSION_TYPES,
    Outcome,
    assess_cancellation,
    assess_submission,
    authenticate,
)
from services.members.domain.members import Member, MemberStatus
from services.members.domain.risk import RISK_ALERT_TYPES, assess_alert, authenticate_reporter
from services.procurement.domain.catalog import Supplier
from services.procurement.domain.orders import AnswerOutcome, OrderRecord, OrderStatus, judge_answer
from services.procurement.domain.responses import authenticate_response, order_held
from services.procurement.domain.risk import authenticate_supplier_alert
from shared.contract import EventType, JointOrderConfirmed, JointOrderRejected, RiskAlertRaised, RiskAlertResolved
from shared.messaging.envelope import Undecodable, decode
from shared.reasons import QuarantineReason
from shared.signing import SignatureFailure, sign, verify

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
ACCEPTED, REJECTED, QUARANTINED, DEAD_LETTERED = "accepted", "rejected", "quarantined", "dead-lettered"
HUGE_TIMESTAMP = f"t={'9' * 400},v1={'a' * 64}".encode()
"""A timestamp no clock can reach: it is still just a signature that fails."""

MEMBERS = {
    "m-huber": Member("m-huber", "Huber", MemberStatus.ACTIVE, "DE", "huber-secret"),
    "m-berg": Member("m-berg", "Berg", MemberStatus.SUSPENDED, "DE", "berg-secret"),
    "m-maier": Member("m-maier", "Maier", MemberStatus.ACTIVE, "AT", "maier-new", previous_erp_secret="maier-old",
                      previous_secret_valid_until=NOW + timedelta(hours=1)),
}
SUPPLIERS = {
    "s-holz": Supplier("s-holz", "Holz", ("DE",), 3, "holz-secret"),
    "s-wald": Supplier("s-wald", "Wald", ("DE",), 3, "wald-new", previous_secret="wald-old",
                       previous_secret_valid_until=NOW - timedelta(seconds=1)),
}
ORDERS = {
    f"ord-{status.value}": OrderRecord(f"ord-{status.value}", "s-holz", "cycle-1", status, Decimal("90"), 10, NOW)
    for status in OrderStatus
}
SECRETS = ["huber-secret", "berg-secret", "maier-new", "maier-old", "holz-secret", "wald-new", "wald-old", "guessed"]
SENDERS = [*MEMBERS, *SUPPLIERS, "m-ghost", "", "ord-placed"]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
identifiers = st.sampled_from([*SENDERS, *ORDERS, "r-1", "a-1"]) | st.text(max_size=70)
data_fields = {
    "request_id": identifiers, "member_id": identifiers, "supplier_id": identifiers, "order_id": identifiers,
    "alert_id": identifiers, "sku": st.sampled_from(["BOARD-18MM", "NOT-SOLD"]) | st.text(max_size=5),
    "quantity": st.integers(-5, 2_000_000) | json_values, "needed_by": st.dates().map(str) | json_values,
    "max_unit_price": st.from_regex(r"\d{1,3}\.\d{2}", fullmatch=True) | json_values,
    "reason": st.text(max_size=600), "expected_delivery": st.dates().map(str) | json_values,
    "kind": st.sampled_from(["insolvency", "delay", "rumour"]), "severity": st.sampled_from(["low", "critical", "x"]),
    "summary": st.text(max_size=600), "region": st.sampled_from(["DE", "de", "DEU"]),
}
event_data = st.fixed_dictionaries({}, optional=data_fields) | st.dictionaries(st.text(max_size=8), json_values)
event_types = st.sampled_from([*EventType, "joint_order.placed", "nonsense"])


@st.composite
def records(draw: st.DrawFn) -> tuple[str | None, bytes, bytes | None]:
    """(key, value, alliance-signature header) as anyone might send them."""
    key = draw(st.sampled_from(SENDERS) | st.none() | st.text(max_size=10))
    if draw(st.integers(0, 9)) == 0:
        value = draw(st.binary(max_size=200))
    else:
        event = {"specversion": "1.0", "id": draw(st.text(min_size=1, max_size=10)), "source": "x",
                 "type": draw(event_types), "time": "2026-11-21T10:00:00Z", "data": draw(event_data)}
        value = json.dumps(event).encode()
    header = draw(
        st.none()
        | st.just(HUGE_TIMESTAMP)
        | st.binary(max_size=80)
        | st.builds(lambda secret, skew: sign(secret, value, NOW.timestamp() + skew).encode(),
                    st.sampled_from(SECRETS), st.integers(-400, 400) | st.integers(-(10**12), 10**12))
    )
    return key, value, header


def decoded(value: bytes) -> Any:
    try:
        return decode(value)
    except Undecodable:
        return None


def admission(key: str | None, value: bytes, header: bytes | None, known: dict[tuple[str, str], bytes]) -> str:
    """services/members/service_layer/admission.py, decision by decision."""
    event = decoded(value)
    if event is None or event.type not in ADMISSION_TYPES:
        return DEAD_LETTERED
    member = MEMBERS.get(key or "")
    failure = authenticate(key, event.data, header, value, member, NOW)
    if failure is not None:
        assert isinstance(failure, QuarantineReason)
        return QUARANTINED
    assert member is not None
    request = (member.member_id, str(event.data.get("request_id", "")))
    if event.type == EventType.PURCHASE_REQUEST_SUBMITTED:
        verdict = assess_submission(event.data, member, {"BOARD-18MM"}, known.get(request))
    else:
        verdict = assess_cancellation(event.data, member, request in known)
    return REJECTED if verdict.outcome is Outcome.REJECTED else ACCEPTED


def supplier_answer(key: str | None, value: bytes, header: bytes | None) -> str:
    """services/procurement/service_layer/responses.py, decision by decision."""
    answers = {EventType.JOINT_ORDER_CONFIRMED: (JointOrderConfirmed, OrderStatus.CONFIRMED),
               EventType.JOINT_ORDER_REJECTED: (JointOrderRejected, OrderStatus.REJECTED)}
    event = decoded(value)
    if event is None or event.type not in answers:
        return DEAD_LETTERED
    order_id = event.data.get("order_id")
    order = ORDERS.get(order_id) if isinstance(order_id, str) else None
    supplier = SUPPLIERS.get(key) if key is not None else None
    failure = authenticate_response(key, event.data, header, value, supplier, NOW)
    if failure is None and supplier is not None:
        failure = order_held(order, supplier)
    if failure is not None:
        assert isinstance(failure, QuarantineReason)
        return QUARANTINED
    assert order is not None
    model, status = answers[event.type]
    try:
        model.model_validate(event.data)
    except ValidationError:
        return DEAD_LETTERED
    return DEAD_LETTERED if judge_answer(order.status, status) is AnswerOutcome.CONFLICT else ACCEPTED


def risk_alert(key: str | None, value: bytes, header: bytes | None) -> str:
    """A record on `risk.alerts`: the members service takes members' (services/members/service_layer/
    risk.py), procurement the rest (services/procurement/service_layer/risk_intake.py)."""
    event = decoded(value)
    member = MEMBERS.get(key or "")
    if member is not None:
        if event is None:
            return DEAD_LETTERED
        if authenticate_reporter(header, value, member, NOW) is not None:
            return QUARANTINED
        if event.type not in RISK_ALERT_TYPES:
            return DEAD_LETTERED
        return ACCEPTED if assess_alert(event.type, event.data, member).data is not None else DEAD_LETTERED
    supplier = SUPPLIERS.get(key) if key is not None else None
    if supplier is None:
        return QUARANTINED  # unknown_reporter
    models = {EventType.RISK_ALERT_RAISED: RiskAlertRaised, EventType.RISK_ALERT_RESOLVED: RiskAlertResolved}
    if event is None or event.type not in models:
        return DEAD_LETTERED
    failure = authenticate_supplier_alert(header, value, supplier, NOW)
    if failure is not None:
        assert isinstance(failure, QuarantineReason)
        return QUARANTINED
    try:
        models[event.type].model_validate(event.data)
    except ValidationError:
        return DEAD_LETTERED
    return ACCEPTED


@given(records(), st.booleans())
@example(("m-huber", b'{"specversion":"1.0","id":"e","source":"x","type":"purchase_request.submitted",'
                     b'"time":"2026-11-21T10:00:00Z","data":{}}', HUGE_TIMESTAMP), False)
def test_every_erp_record_is_accepted_rejected_quarantined_or_dead_lettered(record, seen_before: bool) -> None:
    key, value, header = record
    known = {("m-huber", "r-1"): b"fingerprint", ("m-maier", "r-1"): b"fingerprint"} if seen_before else {}
    assert admission(key, value, header, known) in {ACCEPTED, REJECTED, QUARANTINED, DEAD_LETTERED}


@given(records())
@example(("s-holz", b'{"specversion":"1.0","id":"e","source":"x","type":"joint_order.confirmed",'
                    b'"time":"2026-11-21T10:00:00Z","data":{"order_id":"ord-placed"}}', HUGE_TIMESTAMP))
def test_every_supplier_answer_is_accepted_quarantined_or_dead_lettered(record) -> None:
    assert supplier_answer(*record) in {ACCEPTED, QUARANTINED, DEAD_LETTERED}


@given(records())
@example(("s-holz", b'{"specversion":"1.0","id":"e","source":"x","type":"risk_alert.raised",'
                    b'"time":"2026-11-21T10:00:00Z","data":{}}', HUGE_TIMESTAMP))
def test_every_risk_alert_is_accepted_quarantined_or_dead_lettered(record) -> None:
    assert risk_alert(*record) in {ACCEPTED, QUARANTINED, DEAD_LETTERED}


@given(st.none() | st.binary(max_size=120) | st.text(max_size=120), st.binary(max_size=50),
       st.lists(st.text(max_size=10), max_size=3), st.floats(-1e12, 1e12))
@example(HUGE_TIMESTAMP, b"body", ["secret"], NOW.timestamp())
@example(f"t=-{'9' * 400},v1={'a' * 64}", b"body", ["secret"], NOW.timestamp())
def test_a_signature_header_verifies_or_fails_with_its_reason(header, body: bytes, secrets, now: float) -> None:
    assert verify(header, body, secrets, now=now) in {None, *SignatureFailure}


@given(event_data, st.sampled_from(list(MEMBERS.values())), st.booleans())
def test_the_admission_rules_decide_any_authenticated_data(data: dict[str, Any], member: Member, known: bool) -> None:
    submitted = assess_submission(data, member, {"BOARD-18MM"}, b"fingerprint" if known else None)
    assert submitted.outcome in {Outcome.ACCEPTED, Outcome.RESUBMITTED, Outcome.REJECTED}
    assert (submitted.reason != "") == (submitted.outcome is Outcome.REJECTED)
    cancelled = assess_cancellation(data, member, known)
    assert cancelled.outcome in {Outcome.CANCELLATION, Outcome.REJECTED}
    assert len(submitted.request_id) <= 64 and len(cancelled.request_id) <= 64


def test_the_examples_reach_every_outcome() -> None:
    """The generators are not blind: each outcome is reachable by a record they can draw."""
    genuine = json.dumps({"specversion": "1.0", "id": "e", "source": "x", "type": "purchase_request.submitted",
                          "time": "2026-11-21T10:00:00Z",
                          "data": {"request_id": "r-2", "member_id": "m-huber", "sku": "BOARD-18MM", "quantity": 3,
                                   "needed_by": str(date(2027, 1, 1))}}).encode()
    signature = sign("huber-secret", genuine, NOW.timestamp()).encode()
    assert admission("m-huber", genuine, signature, {}) == ACCEPTED
    assert admission("m-huber", genuine.replace(b"BOARD-18MM", b"NOT-SOLD"),
                     sign("huber-secret", genuine.replace(b"BOARD-18MM", b"NOT-SOLD"), NOW.timestamp()).encode(),
                     {}) == REJECTED
    assert admission("m-huber", genuine, sign("guessed", genuine, NOW.timestamp()).encode(), {}) == QUARANTINED
    assert admission("m-huber", b"\xff", signature, {}) == DEAD_LETTERED
