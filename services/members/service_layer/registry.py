"""Registry commands: the seed, the admin API and the CLI change members only through these,
so every change is saved and published to the other services' projections together."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from services.members.domain.members import Member, MemberStatus
from services.members.service_layer.unit_of_work import MembersUnitOfWork
from shared import topics
from shared.events.members import MEMBER_REGISTERED, MEMBER_UPDATED, SOURCE
from shared.messaging.envelope import event_record
from shared.sealing import SecretBox
from shared.seed import Seed


class MemberExists(Exception):
    pass


class UnknownMember(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Announcements:
    """Where the registry's changes go, and the box that seals members' webhook secrets for
    the trip (notifications opens them; nobody else reading the topic can)."""

    box: SecretBox


def _publish(uow: MembersUnitOfWork, announcements: Announcements, member: Member, event_type: str) -> None:
    sealed = announcements.box.seal(member.webhook_secret) if member.webhook_secret else None
    uow.publish(
        event_record(
            topics.MEMBER_EVENTS,
            member.member_id,
            event_type,
            SOURCE,
            member.profile(sealed_webhook_secret=sealed),
        )
    )


async def save_member(uow: MembersUnitOfWork, announcements: Announcements, member: Member, *, is_new: bool) -> None:
    await uow.members.save(member)
    _publish(uow, announcements, member, MEMBER_REGISTERED if is_new else MEMBER_UPDATED)


async def register(uow: MembersUnitOfWork, announcements: Announcements, member: Member) -> Member:
    if await uow.members.get(member.member_id) is not None:
        raise MemberExists(member.member_id)
    await save_member(uow, announcements, member, is_new=True)
    return member


async def change(uow: MembersUnitOfWork, announcements: Announcements, member_id: str, **changes: object) -> Member:
    """Apply field changes (status, name, webhook...); publishes only when something changed."""
    current = await uow.members.get(member_id)
    if current is None:
        raise UnknownMember(member_id)
    updated = replace(current, **changes)  # type: ignore[arg-type]
    if updated != current:
        await save_member(uow, announcements, updated, is_new=False)
    return updated


async def rotate_secret(
    uow: MembersUnitOfWork, member_id: str, new_secret: str, grace: timedelta, now: datetime | None = None
) -> Member:
    current = await uow.members.get(member_id)
    if current is None:
        raise UnknownMember(member_id)
    rotated = current.rotated(new_secret, now or datetime.now(UTC), grace)
    await uow.members.save(rotated)  # the profile is unchanged: nothing to publish
    return rotated


def member_from_seed(entry: object) -> Member:
    from shared.seed import Member as SeedMember

    assert isinstance(entry, SeedMember)
    return Member(
        member_id=entry.id,
        name=entry.name,
        status=MemberStatus(entry.status),
        region=entry.region,
        erp_secret=entry.erp_secret.get_secret_value() if entry.erp_secret else "",
        email=entry.email,
        locale=entry.locale[:2],
        webhook_url=str(entry.webhook.url) if entry.webhook else None,
        webhook_secret=entry.webhook.secret.get_secret_value() if entry.webhook and entry.webhook.secret else None,
        interest_categories=tuple(entry.interests.categories),
        min_risk_severity=entry.interests.min_risk_severity,
        peppol_id=entry.peppol_id,
        vat_id=entry.vat_id,
    )


async def sync_seed(
    uow: MembersUnitOfWork, announcements: Announcements, seed: Seed, grace: timedelta, now: datetime | None = None
) -> int:
    """Load the seed idempotently: the same seed changes nothing, a changed one updates.

    A changed ERP secret in the seed is a rotation: the old one keeps working for `grace`.
    Returns how many members were registered or changed.
    """
    now = now or datetime.now(UTC)
    repository = uow.members
    existing = {m.member_id: m for m in await repository.list()}
    changed = 0
    for entry in seed.members:
        wanted = member_from_seed(entry)
        current = existing.get(wanted.member_id)
        if current is None:
            await save_member(uow, announcements, wanted, is_new=True)
            changed += 1
            continue
        rotated = current.rotated(wanted.erp_secret, now, grace)
        merged = replace(
            wanted,
            erp_secret=rotated.erp_secret,
            previous_erp_secret=rotated.previous_erp_secret,
            previous_secret_valid_until=rotated.previous_secret_valid_until,
        )
        if merged != current:
            await save_member(uow, announcements, merged, is_new=False)
            changed += 1
    await uow.catalog.upsert(
        {(item.sku, item.category) for supplier in seed.suppliers for item in supplier.catalog}
    )
    return changed
