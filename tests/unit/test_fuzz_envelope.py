"""Fuzzing the envelope decoder, the first thing every consumer runs on a record: whatever the
bytes, `decode` returns a CloudEvent or raises `Undecodable` with one of its documented reasons
(docs/contract.md, extension 3), and a record is refused for its size or depth without being
parsed."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from shared.contract import CloudEvent
from shared.messaging.envelope import MAX_EVENT_BYTES, MAX_NESTING, Undecodable, decode
from tests.support.events import encode

REASONS = frozenset({"empty_record", "too_large", "too_deep", "not_utf8", "not_json", "not_cloudevent"})
TRICKY_TEXT = st.text(alphabet=st.sampled_from('[]{}"\\/:,aé\u2028\x00 '), max_size=40) | st.text(max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TRICKY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY_TEXT, inner, max_size=4),
    max_leaves=25,
)
timestamps = st.datetimes(timezones=st.just(UTC)).map(lambda t: t.isoformat().replace("+00:00", "Z"))
cloud_event_like = st.fixed_dictionaries(
    {
        "specversion": st.just("1.0") | json_values,
        "id": st.text(min_size=1, max_size=40) | json_values,
        "source": st.text(min_size=1, max_size=40) | json_values,
        "type": st.sampled_from(["purchase_request.submitted", "joint_order.confirmed"]) | json_values,
        "time": timestamps | json_values,
        "data": st.dictionaries(TRICKY_TEXT, json_values, max_size=5) | json_values,
    },
    optional={"datacontenttype": st.just("application/json") | json_values, "extra": json_values},
)


def outcome(raw: bytes | None) -> str:
    """`accepted`, or the reason it was refused; any other exception fails the test."""
    try:
        event = decode(raw)
    except Undecodable as refused:
        assert refused.reason in REASONS, refused.reason
        assert refused.detail
        return refused.reason
    assert isinstance(event, CloudEvent)
    assert CloudEvent.model_validate_json(encode(event)) == event  # what we accepted, we can pass on
    return "accepted"


@given(st.binary(max_size=3000))
@example(b"")
@example(b"\xff\xfe")
@example(b"\xef\xbb\xbf{}")
def test_any_bytes_are_decoded_or_refused_with_a_reason(raw: bytes) -> None:
    outcome(raw)


def test_no_record_at_all_is_refused() -> None:
    assert outcome(None) == "empty_record"


@given(json_values)
def test_any_json_is_decoded_or_refused_with_a_reason(value: Any) -> None:
    assert outcome(json.dumps(value).encode()) != "not_json"


@given(cloud_event_like)
@example({"specversion": "1.0", "id": "x", "source": "s", "type": "t", "time": "2026-01-01T00:00:00", "data": {}})
def test_cloud_event_shaped_documents_are_decoded_or_refused_as_not_a_cloud_event(document: dict[str, Any]) -> None:
    assert outcome(json.dumps(document).encode()) in {"accepted", "not_cloudevent", "too_deep"}


@given(st.integers(1, 3 * MAX_NESTING), st.sampled_from(["[", '{"a":']))
def test_nesting_deeper_than_the_limit_is_refused_unparsed(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    raw = (opener * depth + "1" + closer * depth).encode()
    assert (outcome(raw) == "too_deep") == (depth > MAX_NESTING)


@given(TRICKY_TEXT.map(lambda text: "[" * 40 + text + "\\" * 3 + '"' + "{" * 40))
def test_brackets_inside_strings_are_not_nesting(text: str) -> None:
    document = {"specversion": "1.0", "id": "e-1", "source": "s", "type": "t", "time": "2026-01-01T00:00:00Z",
                "data": {"note": text}}
    assert outcome(json.dumps(document).encode()) == "accepted"


def test_the_size_limit_is_exact() -> None:
    head = b'{"specversion":"1.0","id":"e","source":"s","type":"t","time":"2026-01-01T00:00:00Z","data":{"x":"'
    tail = b'"}}'
    at_limit = head + b"x" * (MAX_EVENT_BYTES - len(head) - len(tail)) + tail
    assert outcome(at_limit) == "accepted"
    assert outcome(at_limit + b" ") == "too_large"
