"""What a service asks notifications to tell one member."""

from __future__ import annotations

from typing import Any

from shared.events import InternalModel

MEMBER_NOTICE_REQUESTED = "alliance.member_notice.requested"


class MemberNoticeRequested(InternalModel):
    """One notice for one member: `notice_type` and `data` are the contract's webhook event.

    The producer builds it only from that member's own data, so confidentiality is decided
    where the data lives; notifications adds channels, preferences and delivery.
    """

    member_id: str
    notice_type: str
    data: dict[str, Any]


MEMBER_NOTICES_REQUESTED = "alliance.member_notices.requested"


class RequestedNotice(InternalModel):
    notice_id: str
    """Deterministic per (cause, member, type): the same cause always asks for the same notice."""
    notice_type: str
    data: dict[str, Any]


class MemberNoticesRequested(InternalModel):
    """Several notices for one member in one record: a cycle close tells each member about
    all its requests at once, so it writes one record per member, not one per request."""

    member_id: str
    notices: tuple[RequestedNotice, ...]
