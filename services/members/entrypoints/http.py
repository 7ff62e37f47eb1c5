"""The members admin API (bearer token): the registry for the alliance's admins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, HttpUrl, SecretStr, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from services.members.domain.members import Member, MemberStatus
from services.members.service_layer import registry
from services.members.service_layer.unit_of_work import MembersUnitOfWork
from shared.contract import JSON_INTEGER, CountryCode, Identifier, Severity
from shared.http import RequestBody, problems


class MemberView(BaseModel):
    """A member as admins see it: never a secret, only whether one is set."""

    member_id: str
    name: str
    status: str
    region: str
    email: str | None
    locale: str
    webhook_url: str | None
    has_webhook_secret: bool
    secret_rotation_grace_until: str | None
    interest_categories: list[str]
    min_risk_severity: str
    peppol_id: str | None = None
    vat_id: str | None = None

    @classmethod
    def of(cls, member: Member) -> MemberView:
        return cls(
            member_id=member.member_id,
            name=member.name,
            status=member.status.value,
            region=member.region,
            email=member.email,
            locale=member.locale,
            webhook_url=member.webhook_url,
            has_webhook_secret=bool(member.webhook_secret),
            secret_rotation_grace_until=(
                member.previous_secret_valid_until.isoformat() if member.previous_secret_valid_until else None
            ),
            interest_categories=list(member.interest_categories),
            min_risk_severity=member.min_risk_severity.value,
            peppol_id=member.peppol_id,
            vat_id=member.vat_id,
        )


MAX_GRACE_SECONDS = 366 * 86_400
"""A rotated-out ERP secret verifies at most a year: a longer grace is no rotation at all."""
NOT_CLEARABLE = ("name", "region", "locale", "interest_categories", "min_risk_severity")
IDENTITY = {"member_id", "erp_secret"}


Kept = SkipJsonSchema[None]
"""Left out means unchanged; the document offers no null, and a null sent anyway is refused."""


class MemberChanges(RequestBody):
    """A partial update: a field left out stays; null clears only what may be empty (e-mail,
    webhook), and is refused for what every member has (name, region, locale, interests, severity)."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | Kept = None
    region: CountryCode | Kept = None
    email: str | None = None
    locale: Literal["de", "en"] | Kept = None
    webhook_url: HttpUrl | None = None
    webhook_secret: SecretStr | None = None
    interest_categories: list[str] | Kept = None
    min_risk_severity: Severity | Kept = None

    @model_validator(mode="after")
    def _required_fields_not_cleared(self) -> MemberChanges:
        cleared = [name for name in NOT_CLEARABLE if name in self.model_fields_set and getattr(self, name) is None]
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be null: leave a field out to keep it")
        return self

    def as_fields(self) -> dict[str, object]:
        """The changed member fields (a new member's identity and ERP secret are not changes)."""
        fields: dict[str, object] = {}
        for name, value in self.model_dump(exclude_unset=True, exclude=IDENTITY).items():
            if name == "webhook_secret":
                fields[name] = self.webhook_secret.get_secret_value() if self.webhook_secret else None
            elif name == "webhook_url":
                fields[name] = str(value) if value else None
            elif name == "interest_categories":
                fields[name] = tuple(value or ())
            elif name == "min_risk_severity":
                fields[name] = Severity(value)
            else:
                fields[name] = value
        return fields


class NewMember(MemberChanges):
    member_id: Identifier
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    region: CountryCode
    erp_secret: Annotated[SecretStr, Field(description="write-only; never returned")]


class SecretRotation(RequestBody):
    new_secret: Annotated[SecretStr, Field(description="the member's new ERP secret; write-only")]
    grace_seconds: Annotated[int, Field(ge=0, le=MAX_GRACE_SECONDS), JSON_INTEGER] | None = None


def admin_router(
    unit_of_work: Callable[[], MembersUnitOfWork], announcements: registry.Announcements, default_grace: timedelta
) -> APIRouter:
    router = APIRouter(tags=["members"])

    @router.get("/members", response_model=list[MemberView])
    async def list_members() -> list[MemberView]:
        async with unit_of_work() as uow:
            return [MemberView.of(m) for m in await uow.members.list()]

    @router.get("/members/{member_id}", response_model=MemberView, responses=problems(404))
    async def show_member(member_id: str) -> MemberView:
        async with unit_of_work() as uow:
            member = await uow.members.get(member_id)
        if member is None:
            raise HTTPException(404, f"no member {member_id!r}")
        return MemberView.of(member)

    @router.post("/members", response_model=MemberView, status_code=201, responses=problems(409))
    async def add_member(body: NewMember) -> MemberView:
        fields = body.as_fields()
        member = Member(
            member_id=body.member_id,
            name=body.name,
            status=MemberStatus.ACTIVE,
            region=body.region,
            erp_secret=body.erp_secret.get_secret_value(),
            **{k: v for k, v in fields.items() if k not in ("name", "region")},  # type: ignore[arg-type]
        )
        try:
            async with unit_of_work() as uow:
                await registry.register(uow, announcements, member)
        except registry.MemberExists:
            raise HTTPException(409, f"member {body.member_id!r} exists") from None
        return MemberView.of(member)

    async def _change(member_id: str, **fields: object) -> MemberView:
        try:
            async with unit_of_work() as uow:
                return MemberView.of(await registry.change(uow, announcements, member_id, **fields))
        except registry.UnknownMember:
            raise HTTPException(404, f"no member {member_id!r}") from None

    @router.patch("/members/{member_id}", response_model=MemberView, responses=problems(404))
    async def update_member(member_id: str, body: MemberChanges) -> MemberView:
        return await _change(member_id, **body.as_fields())

    @router.post("/members/{member_id}/suspend", response_model=MemberView, responses=problems(404))
    async def suspend_member(member_id: str) -> MemberView:
        return await _change(member_id, status=MemberStatus.SUSPENDED)

    @router.post("/members/{member_id}/reactivate", response_model=MemberView, responses=problems(404))
    async def reactivate_member(member_id: str) -> MemberView:
        return await _change(member_id, status=MemberStatus.ACTIVE)

    @router.post("/members/{member_id}/rotate-secret", response_model=MemberView, responses=problems(404))
    async def rotate_secret(member_id: str, body: SecretRotation) -> MemberView:
        grace = default_grace if body.grace_seconds is None else timedelta(seconds=body.grace_seconds)
        try:
            async with unit_of_work() as uow:
                member = await registry.rotate_secret(
                    uow, member_id, body.new_secret.get_secret_value(), grace
                )
        except registry.UnknownMember:
            raise HTTPException(404, f"no member {member_id!r}") from None
        return MemberView.of(member)

    return router
