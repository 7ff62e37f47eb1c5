"""Consuming what the other services want members told, and what members are.

Notice requests are stored once per request id (deterministic per cause and member), so a
redelivered batch stores and routes nothing twice. A request whose record key and member
disagree is dead-lettered, never delivered: a notice must not reach the wrong member.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from services.notifications.domain.notices import Notice
from services.notifications.service_layer.routing import (
    OfferDue,
    RoutingPolicy,
    route_notices,
    route_waiting,
)
from services.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from shared.contract import NOTICE_DATA
from shared.events.members import MemberProfile
from shared.events.notices import MemberNoticeRequested, MemberNoticesRequested
from shared.messaging.envelope import validation_summary
from shared.messaging.intake import Command
from shared.reasons import DeadLetterReason
from shared.sealing import SecretBox, Unsealable


async def store_notice_requests(
    uow: NotificationsUnitOfWork, commands: list[Command], policy: RoutingPolicy, offer: OfferDue
) -> None:
    notices: list[Notice] = []
    for command in commands:
        record, request = command.record, command.data
        if isinstance(request, MemberNoticeRequested):
            requested = [(command.event.id, request.notice_type, request.data)]
        else:
            assert isinstance(request, MemberNoticesRequested)
            requested = [(n.notice_id, n.notice_type, n.data) for n in request.notices]
        unknown = [t for _, t, _ in requested if t not in NOTICE_DATA]
        if unknown:
            uow.dead_letter(record, DeadLetterReason.UNKNOWN_NOTICE_TYPE, f"{unknown[0]!r} is no contract notice")
            continue
        try:
            validated = [
                (notice_id, notice_type, NOTICE_DATA[notice_type].model_validate(data).model_dump(mode="json"))
                for notice_id, notice_type, data in requested
            ]
        except ValidationError as error:
            uow.dead_letter(record, DeadLetterReason.INVALID_PAYLOAD, validation_summary(error))
            continue
        if record.key_text != request.member_id:
            detail = "the record key and the notice's member differ"
            uow.dead_letter(record, DeadLetterReason.NOTICE_NOT_FOR_KEY, detail)
            continue
        notices.extend(
            Notice(notice_id, request.member_id, notice_type, data, command.event.time)
            for notice_id, notice_type, data in validated
        )
    stored = await uow.notices.add(notices)
    topic = commands[0].record.topic
    if len(stored) < len(notices):
        uow.count_consumed(topic, "duplicate", len(notices) - len(stored))
    if stored:
        uow.count_consumed(topic, "processed", len(stored))
        due = await route_notices(uow, stored, policy)
        if due:
            uow.after_commit(lambda: offer(due))


async def project_member_profiles(
    uow: NotificationsUnitOfWork, commands: list[Command], policy: RoutingPolicy, offer: OfferDue, box: SecretBox
) -> None:
    """Keep each member's channels current; route the notices that were waiting for them.

    A webhook secret none of our keys opens (the services disagree on ALLIANCE_SEALING_KEYS)
    dead-letters the profile with the reason: replayed once the keys agree, nothing is lost."""
    profiles: list[tuple[MemberProfile, str | None, datetime]] = []
    for command in commands:
        profile: MemberProfile = command.data
        sealed = profile.sealed_webhook_secret
        try:
            profiles.append((profile, box.open(sealed) if sealed else None, command.event.time))
        except Unsealable as error:
            detail = f"member {profile.member_id}: webhook secret {error}"
            uow.dead_letter(command.record, DeadLetterReason.UNSEALABLE_SECRET, detail)
    if not profiles:
        return
    await uow.channels.upsert(profiles)
    uow.count_consumed(commands[0].record.topic, "processed", len(profiles))
    due = await route_waiting(uow, policy, [p.member_id for p, _, _ in profiles])
    if due:
        uow.after_commit(lambda: offer(due))
