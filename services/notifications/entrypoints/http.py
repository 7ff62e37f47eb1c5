"""The notifications admin API (bearer token): deliveries, dead notices, the log, preferences.

Nothing here ever returns a webhook secret; a member view says only whether one is set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field, StrictBool

from services.notifications.domain.notices import DeliveryStatus
from services.notifications.domain.preferences import Preferences
from services.notifications.service_layer import admin
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared.contract import NOTICE_DATA, Severity
from shared.http import RequestBody, problems

NoticeType = StrEnum("NoticeType", {name.replace(".", "_"): name for name in NOTICE_DATA})  # type: ignore[misc]
"""The contract's webhook event types, the ones a member can switch off."""


class MemberView(BaseModel):
    member_id: str
    name: str
    locale: str
    email: str | None
    webhook_url: str | None
    has_webhook_secret: bool


class PreferencesBody(RequestBody):
    """Replaces a member's preferences; fields left out take their defaults."""

    disabled_types: list[NoticeType] = Field(
        default=[], description="notice types the member is not sent"
    )
    min_risk_severity: Severity | None = Field(
        default=None,
        description="risk notices below it are not sent; null = the member's declared interest",
    )
    daily_digest: StrictBool = Field(
        default=False,
        description="informational notices (accepted, confirmed, cancelled) by e-mail once a day",
    )

    @classmethod
    def of(cls, preferences: Preferences) -> PreferencesBody:
        return cls(
            disabled_types=sorted(NoticeType(t) for t in preferences.disabled_types),
            min_risk_severity=preferences.min_risk_severity,
            daily_digest=preferences.daily_digest,
        )

    def preferences(self) -> Preferences:
        return Preferences(
            disabled_types=frozenset(t.value for t in self.disabled_types),
            min_risk_severity=self.min_risk_severity,
            daily_digest=self.daily_digest,
        )


class DeliveryState(BaseModel):
    """Where one delivery of a notice stands, on one channel."""

    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime
    deadline: datetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    dead_at: datetime | None


class DeliveryView(DeliveryState):
    notice_id: str
    member_id: str
    notice_type: str
    stored_at: datetime


class NoticeDelivery(DeliveryState):
    digest_id: str | None


class NoticeView(BaseModel):
    notice_id: str
    member_id: str
    notice_type: str
    data: dict[str, Any]
    occurred_at: datetime
    stored_at: datetime
    routed_at: datetime | None
    suppressed: str | None
    deliveries: list[NoticeDelivery]


class LogEntry(BaseModel):
    notice_id: str
    notice_type: str
    channel: str
    attempt: int
    outcome: str
    status_code: int | None
    error: str | None
    latency_ms: float | None
    logged_at: datetime


class RetryAccepted(BaseModel):
    notice_id: str
    requeued: int = Field(description="dead deliveries of the notice put back in line")


class Discarded(BaseModel):
    notice_id: str
    discarded: int = Field(description="dead deliveries of the notice given up")


Limit = Annotated[int, Query(ge=1, le=1000)]


def admin_router(
    unit_of_work: Callable[[], NotificationsUnitOfWork], horizon_s: float, wake: Callable[[], None]
) -> APIRouter:
    router = APIRouter(tags=["notifications"])

    @router.get(
        "/members", response_model=list[MemberView], summary="Members as notifications knows them"
    )
    async def list_members() -> list[MemberView]:
        async with unit_of_work() as uow:
            members = await uow.channels.list()
        return [
            MemberView(
                member_id=m.member_id,
                name=m.name,
                locale=m.locale,
                email=m.email,
                webhook_url=m.webhook_url,
                has_webhook_secret=bool(m.webhook_secret),
            )
            for m in members
        ]

    @router.get("/members/{member_id}/preferences", response_model=PreferencesBody, responses=problems(404))
    async def show_preferences(member_id: str) -> PreferencesBody:
        async with unit_of_work() as uow:
            if member_id not in await uow.channels.get_many([member_id]):
                raise HTTPException(404, f"no member {member_id!r}")
            preferences = (await uow.preferences.get_many([member_id]))[member_id]
        return PreferencesBody.of(preferences)

    @router.put("/members/{member_id}/preferences", response_model=PreferencesBody, responses=problems(404))
    async def replace_preferences(member_id: str, body: PreferencesBody) -> PreferencesBody:
        try:
            async with unit_of_work() as uow:
                await admin.set_preferences(uow, member_id, body.preferences())
        except admin.UnknownMember:
            raise HTTPException(404, f"no member {member_id!r}") from None
        return body

    @router.get(
        "/members/{member_id}/log",
        response_model=list[LogEntry],
        summary="The member's delivery log, newest first",
    )
    async def member_log(member_id: str, limit: Limit = 100) -> list[LogEntry]:
        async with unit_of_work() as uow:
            rows = await uow.deliveries.log(member_id, limit)
        return [LogEntry(**r) for r in rows]

    @router.get(
        "/deliveries",
        response_model=list[DeliveryView],
        summary="Deliveries, newest notices first; status=dead for dead ones",
    )
    async def list_deliveries(
        status: DeliveryStatus | None = None, member_id: str | None = None, limit: Limit = 100
    ) -> list[DeliveryView]:
        async with unit_of_work() as uow:
            rows = await uow.deliveries.list(
                status.value if status else None, member_id, limit
            )
        return [DeliveryView(**r) for r in rows]

    @router.get("/notices/{notice_id}", response_model=NoticeView, responses=problems(404))
    async def show_notice(notice_id: str) -> NoticeView:
        async with unit_of_work() as uow:
            found = await uow.notices.get(notice_id)
            deliveries = await uow.deliveries.of_notice(notice_id)
        if found is None:
            raise HTTPException(404, f"no notice {notice_id!r}")
        notice, bookkeeping = found
        return NoticeView(
            notice_id=notice.notice_id,
            member_id=notice.member_id,
            notice_type=notice.notice_type,
            data=notice.data,
            occurred_at=notice.occurred_at,
            **bookkeeping,
            deliveries=[NoticeDelivery(**d) for d in deliveries],
        )

    @router.post(
        "/notices/{notice_id}/retry",
        response_model=RetryAccepted,
        status_code=202,
        responses=problems(404, 409),
        summary="Send a dead notice again (same delivery id, a fresh retry horizon)",
    )
    async def retry_notice(notice_id: str) -> RetryAccepted:
        try:
            async with unit_of_work() as uow:
                requeued = await admin.retry_notice(uow, notice_id, horizon_s)
        except admin.UnknownNotice:
            raise HTTPException(404, f"no notice {notice_id!r}") from None
        except admin.NotDead:
            raise HTTPException(409, f"notice {notice_id!r} has no dead delivery") from None
        wake()
        return RetryAccepted(notice_id=notice_id, requeued=requeued)

    @router.post(
        "/notices/{notice_id}/discard",
        response_model=Discarded,
        responses=problems(404, 409),
        summary="Give up on a dead notice (the member was told another way); it stops counting as dead",
    )
    async def discard_notice(notice_id: str) -> Discarded:
        try:
            async with unit_of_work() as uow:
                discarded = await admin.discard_notice(uow, notice_id)
        except admin.UnknownNotice:
            raise HTTPException(404, f"no notice {notice_id!r}") from None
        except admin.NotDead:
            raise HTTPException(409, f"notice {notice_id!r} has no dead delivery") from None
        return Discarded(notice_id=notice_id, discarded=discarded)

    return router
