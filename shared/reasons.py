"""Why a record was set aside: the stable codes in the `alliance-reason` header of quarantined
and dead-lettered records (docs/contract.md, extension 3), and the label of their metrics.

One enumeration for every service, so the same failure has the same name wherever it happens.
"""

from __future__ import annotations

from enum import StrEnum


class QuarantineReason(StrEnum):
    """Failed authentication (`alliance.quarantine`): kept for ops, acknowledged to nobody."""

    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_SIGNATURE = "malformed_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_MEMBER = "unknown_member"
    KEY_NOT_MEMBER = "key_not_member"
    """The data names another member than the record's key."""
    UNKNOWN_SUPPLIER = "unknown_supplier"
    KEY_NOT_SUPPLIER = "key_not_supplier"
    ORDER_NOT_HELD = "order_not_held"
    """A supplier answered an order that is not its own."""
    UNKNOWN_REPORTER = "unknown_reporter"
    """A risk alert keyed by neither a member nor a supplier."""


class DeadLetterReason(StrEnum):
    """Unreadable or unusable (`alliance.dead-letters`): its partition moves on, ops see why."""

    EMPTY_RECORD = "empty_record"
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_CLOUDEVENT = "not_cloudevent"
    UNEXPECTED_EVENT_TYPE = "unexpected_event_type"
    INVALID_PAYLOAD = "invalid_payload"
    """The data does not satisfy the event type's contract model."""
    INVALID_DOCUMENT = "invalid_document"
    """An XML supplier's document that is not well-formed, not valid against its standard's schema,
    or unsafe to parse (DTDs, entities, oversized): the validator's message is the detail."""
    HANDLER_ERROR = "handler_error"
    """The record failed its handler even alone: a bug, kept for replay once fixed."""
    CONFLICTING_ANSWER = "conflicting_answer"
    """A supplier answered an order it had answered otherwise."""
    UNKNOWN_LINE = "unknown_line"
    """An answer names a line that is not on the order."""
    MISSING_LINE = "missing_line"
    """An answer leaves out a line of the order (every line is answered, exactly once)."""
    REPEATED_LINE = "repeated_line"
    """An answer names one line twice."""
    PARTIAL_QUANTITY_OUT_OF_RANGE = "partial_quantity_out_of_range"
    """A partial line's quantity is not between 1 and the line's quantity - 1."""
    ORDER_NOT_ANSWERED = "order_not_answered"
    """A dispatch of an order the supplier has not answered yet."""
    ORDER_CANCELLED = "order_cancelled"
    """A dispatch of an order the alliance cancelled."""
    UNKNOWN_DELIVERY = "unknown_delivery"
    """A dispatch names a delivery_id that is not on the order."""
    DISPATCH_EXCEEDS_CONFIRMED = "dispatch_exceeds_confirmed"
    """A delivery's dispatches would add up to more than was confirmed for it."""
    DISPATCH_ID_REUSED = "dispatch_id_reused"
    """A dispatch_id the supplier used before, with different content."""
    MEMBER_SUSPENDED = "member_suspended"
    """A suspended member raised a risk alert."""
    ALERT_ID_REUSED = "alert_id_reused"
    ALREADY_EXPIRED = "already_expired"
    UNKNOWN_ALERT = "unknown_alert"
    UNKNOWN_NOTICE_TYPE = "unknown_notice_type"
    NOTICE_NOT_FOR_KEY = "key_not_member"
    """A notice request whose record key and member differ: it must not reach the wrong member."""
    UNSEALABLE_SECRET = "unsealable_secret"
    """A member's webhook secret none of ALLIANCE_SEALING_KEYS opens: replayed once they agree."""
