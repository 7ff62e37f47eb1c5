"""A notice to one member, the channels that carry it, and what its webhook body looks like."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.contract import EventType, Severity
from shared.messaging.envelope import event_bytes

WEBHOOK_SOURCE = "alliance"
"""`source` of every webhook body: members see the alliance, never which service spoke."""

DIGEST_TYPE = "alliance.notice_digest"
"""Internal type of a daily digest e-mail; it bundles held notices and is never a webhook."""

INFORMATIONAL_TYPES = frozenset(
    {
        EventType.PURCHASE_REQUEST_ACCEPTED,
        EventType.PURCHASE_REQUEST_CONFIRMED,
        EventType.PURCHASE_REQUEST_CANCELLED,
        EventType.RISK_BUFFER_STATEMENT,
    }
)
"""Notices that ask nothing of the member, so a digest may carry them a day later."""


class Channel(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Due at its next attempt time."""
    HELD = "held"
    """Waiting for the member's daily digest e-mail."""
    DIGESTED = "digested"
    """Handed to a digest e-mail, which is delivered as a notice of its own."""
    DELIVERED = "delivered"
    DEAD = "dead"
    """Every attempt within the retry horizon failed; an admin may send it again."""
    DISCARDED = "discarded"
    """Dead, and an admin decided it will not be sent (the member was told another way)."""


@dataclass(frozen=True, slots=True)
class Notice:
    notice_id: str
    """The id of the request that asked for it, deterministic per (cause, member): the
    delivery id the member dedupes on."""
    member_id: str
    notice_type: str
    data: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class MemberChannels:
    """What notifications knows of a member: where and how to tell it, and which risks concern it."""

    member_id: str
    name: str
    locale: str
    email: str | None
    webhook_url: str | None
    webhook_secret: str | None = field(repr=False)
    declared_min_risk_severity: Severity
    """From the member's registered interests; a preference set by an admin overrides it."""
    interest_categories: frozenset[str] = frozenset()
    """From the member's registered interests: risk alerts in these catalog categories concern it."""
    active: bool = True
    """False while the member is suspended: it is told of nothing out of interest alone."""


def webhook_body(notice: Notice) -> bytes:
    """The CloudEvent a member's receiver gets: the same bytes on every attempt."""
    return event_bytes(
        notice.notice_type, WEBHOOK_SOURCE, notice.data, event_id=notice.notice_id, time=notice.occurred_at
    )


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one attempt on a channel came to; `error` never holds a secret or an address."""

    delivered: bool
    status_code: int | None = None
    error: str | None = None
    retry_after_s: float | None = None
    endpoint_fault: bool = True
    """False when the attempt failed on our side (no address, no secret): the endpoint's
    circuit breaker must not count it."""
