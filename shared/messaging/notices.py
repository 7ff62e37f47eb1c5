"""Asking notifications to tell one member something, through the caller's outbox."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel

from shared import topics
from shared.events.notices import (
    MEMBER_NOTICE_REQUESTED,
    MEMBER_NOTICES_REQUESTED,
    MemberNoticeRequested,
)
from shared.messaging.envelope import event_record
from shared.messaging.records import OutboundMessage


def notice_id(*parts: str) -> str:
    """A deterministic id, so a redelivered cause asks for the same notice, stored once."""
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


def member_notice(
    source: str, member_id: str, notice_type: str, data: BaseModel, cause_id: str
) -> OutboundMessage:
    notice = MemberNoticeRequested(
        member_id=member_id, notice_type=notice_type, data=data.model_dump(mode="json")
    )
    return event_record(
        topics.MEMBER_NOTICES,
        member_id,
        MEMBER_NOTICE_REQUESTED,
        source,
        notice,
        event_id=notice_id(member_id, notice_type, cause_id),
    )


def member_notices(
    source: str,
    member_id: str,
    notices: list[tuple[str, BaseModel | dict[str, Any], str]],
) -> OutboundMessage:
    """One record telling `member_id` several things: (notice_type, data, cause_id) each.

    `data` is a contract model or its JSON form (a dict), as the hot paths render thousands.
    """
    rendered = [
        {"notice_id": notice_id(member_id, notice_type, cause), "notice_type": notice_type, "data": data}
        for notice_type, data, cause in notices
    ]
    event_id = notice_id(member_id, *(n["notice_id"] for n in rendered))
    return event_record(
        topics.MEMBER_NOTICES,
        member_id,
        MEMBER_NOTICES_REQUESTED,
        source,
        {"member_id": member_id, "notices": rendered},
        event_id=event_id,
    )
