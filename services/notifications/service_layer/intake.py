"""Consuming what the other services want members told, and what members are.

Notice requests are stored once per request id (deterministic per cause and member), so a
redelivered batch stores and routes nothing twice. A request whose record key and member
disagree is dead-lettered, never delivered: a notice must not reach the wrong member.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import ValidationError

from services.notifications.adapters.repository import MemberChannelsRepository, NoticesRepository
from services.notifications.domain.notices import Notice
from services.notifications.service_layer.routing import (
    OfferDue,
    RoutingPolicy,
    route_notices,
    route_waiting,
)
from shared.contract import NOTICE_DATA
from shared.events.members import MEMBER_REGISTERED, MEMBER_UPDATED, MemberProfile
from shared.events.notices import (
    MEMBER_NOTICE_REQUESTED,
    MEMBER_NOTICES_REQUESTED,
    MemberNoticeRequested,
    MemberNoticesRequested,
)
from shared.messaging.envelope import Undecodable, decode, validation_summary
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork
from shared.sealing import SecretBox, Unsealable

PROFILE_TYPES = frozenset({MEMBER_REGISTERED, MEMBER_UPDATED})


async def store_notice_requests(
    uow: UnitOfWork,
    records: Sequence[InboundRecord],
    policy: RoutingPolicy,
    offer: OfferDue,
) -> None:
    notices: list[Notice] = []
    for record in records:
        try:
            event = decode(record.value)
        except Undecodable as error:
            uow.dead_letter(record, error.reason, error.detail)
            continue
        try:
            if event.type == MEMBER_NOTICE_REQUESTED:
                single = MemberNoticeRequested.model_validate(event.data)
                member_id, requested = single.member_id, [(event.id, single.notice_type, single.data)]
            elif event.type == MEMBER_NOTICES_REQUESTED:
                several = MemberNoticesRequested.model_validate(event.data)
                member_id = several.member_id
                requested = [(n.notice_id, n.notice_type, n.data) for n in several.notices]
            else:
                uow.dead_letter(
                    record, "unexpected_event_type", f"{event.type!r} is not accepted on this topic"
                )
                continue
            unknown = [t for _, t, _ in requested if t not in NOTICE_DATA]
            if unknown:
                uow.dead_letter(record, "unknown_notice_type", f"{unknown[0]!r} is no contract notice")
                continue
            validated = [
                (notice_id, notice_type, NOTICE_DATA[notice_type].model_validate(data).model_dump(mode="json"))
                for notice_id, notice_type, data in requested
            ]
        except ValidationError as error:
            uow.dead_letter(record, "invalid_notice", validation_summary(error))
            continue
        if record.key_text != member_id:
            uow.dead_letter(
                record, "key_not_member", "the record key and the notice's member differ"
            )
            continue
        notices.extend(
            Notice(notice_id, member_id, notice_type, data, event.time)
            for notice_id, notice_type, data in validated
        )
    stored = await NoticesRepository(uow.conn).add(notices)
    topic = records[0].topic
    if len(stored) < len(notices):
        uow.count_consumed(topic, "duplicate", len(notices) - len(stored))
    if stored:
        uow.count_consumed(topic, "processed", len(stored))
        due = await route_notices(uow, stored, policy)
        if due:
            uow.after_commit(lambda: offer(due))


async def project_member_profiles(
    uow: UnitOfWork,
    records: Sequence[InboundRecord],
    policy: RoutingPolicy,
    offer: OfferDue,
    box: SecretBox,
) -> None:
    """Keep each member's channels current; route the notices that were waiting for them.

    A webhook secret none of our keys opens (the services disagree on ALLIANCE_SEALING_KEYS)
    dead-letters the profile with the reason: replayed once the keys agree, nothing is lost."""
    profiles: list[tuple[MemberProfile, str | None, datetime]] = []
    for record in records:
        try:
            event = decode(record.value)
        except Undecodable as error:
            uow.dead_letter(record, error.reason, error.detail)
            continue
        if event.type not in PROFILE_TYPES:
            uow.count_consumed(record.topic, "ignored")
            continue
        try:
            profile = MemberProfile.model_validate(event.data)
            sealed = profile.sealed_webhook_secret
            profiles.append((profile, box.open(sealed) if sealed else None, event.time))
        except ValidationError as error:
            uow.dead_letter(record, "invalid_member_profile", validation_summary(error))
        except Unsealable as error:
            uow.dead_letter(record, "unsealable_secret", f"member {profile.member_id}: webhook secret {error}")
    if not profiles:
        return
    await MemberChannelsRepository(uow.conn).upsert(profiles)
    uow.count_consumed(records[0].topic, "processed", len(profiles))
    due = await route_waiting(uow, policy, [p.member_id for p, _, _ in profiles])
    if due:
        uow.after_commit(lambda: offer(due))
