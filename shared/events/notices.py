"""What a service asks notifications to tell one member."""

from __future__ import annotations

from typing import Any

from shared.contract import NOTICE_DATA
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

    def validated_data(self) -> dict[str, Any]:
        """The data checked against the contract's model of that notice type."""
        return NOTICE_DATA[self.notice_type].model_validate(self.data).model_dump(mode="json")
