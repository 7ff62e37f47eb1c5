"""Members' notices as the notifications consumer takes them: the declared intakes of
`alliance.notices` and `members.events` over a unit of work in memory. Who gets what, on which
channel, and that a notice reaches only the member it is for."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from services.notifications.adapters.repository import SMTP_ENDPOINT, DueDelivery
from services.notifications.domain.notices import Channel, DeliveryStatus
from services.notifications.domain.preferences import DigestSchedule, Preferences
from services.notifications.entrypoints.messaging import subscriptions
from services.notifications.service_layer.routing import RoutingPolicy
from shared import topics
from shared.contract import EventType, PurchaseRequestAccepted, PurchaseRequestRejected
from shared.events.members import MEMBER_REGISTERED, MemberProfile
from shared.messaging.notices import member_notice, member_notices
from shared.messaging.records import InboundRecord
from shared.reasons import DeadLetterReason
from shared.sealing import SecretBox, new_sealing_key
from shared.settings import Settings
from tests.support.events import encode, new_event
from tests.support.fake_notifications import FakeNotificationsUnitOfWork
from tests.support.intake import intake_of

SETTINGS = Settings(topic_prefix="test.")
NOTICES = SETTINGS.topic(topics.MEMBER_NOTICES)
PROFILES = SETTINGS.topic(topics.MEMBER_EVENTS)
BOX = SecretBox(new_sealing_key())
POLICY = RoutingPolicy(horizon_s=3600, email_enabled=True, digest=DigestSchedule(86_400, 6 * 3600))
HUBER_HOOK = "https://erp.huber.example/hook"
BERG_HOOK = "https://erp.berg.example/hook"


class Dispatcher:
    """Stands in for the dispatcher: what each committed batch offered it."""

    def __init__(self) -> None:
        self.offered: list[DueDelivery] = []

    def offer(self, due: Sequence[DueDelivery]) -> None:
        self.offered.extend(due)


@pytest.fixture
def dispatcher() -> Dispatcher:
    return Dispatcher()


@pytest.fixture
async def uow(dispatcher: Dispatcher) -> FakeNotificationsUnitOfWork:
    """Huber reachable by webhook and e-mail, Berg by webhook only."""
    uow = FakeNotificationsUnitOfWork(topic_prefix=SETTINGS.topic_prefix)
    await deliver(uow, dispatcher, PROFILES, profile("m-huber", HUBER_HOOK, "buyer@huber.example"),
                  profile("m-berg", BERG_HOOK))
    return uow


def profile(member_id: str, webhook_url: str | None, email: str | None = None) -> InboundRecord:
    member = MemberProfile(member_id=member_id, name=f"{member_id} GmbH", status="active", region="DE", email=email,
                           webhook_url=webhook_url, sealed_webhook_secret=BOX.seal("s") if webhook_url else None)
    return InboundRecord(PROFILES, 0, 0, member_id.encode(), encode(new_event(MEMBER_REGISTERED, "members", member)))


def accepted(member_id: str, request_id: str, key: str | None = None) -> InboundRecord:
    message = member_notice("members", member_id, EventType.PURCHASE_REQUEST_ACCEPTED,
                            PurchaseRequestAccepted(request_id=request_id), f"cause-{request_id}")
    return InboundRecord(NOTICES, 0, 0, (key or member_id).encode(), message.value)


def intake(dispatcher: Dispatcher, topic: str):
    return intake_of(subscriptions(SETTINGS, POLICY, dispatcher.offer, BOX), topic)


async def deliver(uow: FakeNotificationsUnitOfWork, dispatcher: Dispatcher, topic: str, *records: InboundRecord) -> None:
    async with uow:
        await intake(dispatcher, topic)(uow, list(records))


def deliveries(uow: FakeNotificationsUnitOfWork) -> set[tuple[str, str, Channel, DeliveryStatus]]:
    """(member, notice type, channel, status) of every delivery routed."""
    notices = uow.tables.notices
    return {(d.member_id, notices[notice_id].notice.notice_type, channel, d.status)
            for (notice_id, channel), d in uow.tables.deliveries.items()}


async def test_a_notice_goes_to_its_member_on_each_of_its_channels_and_to_nobody_else(uow, dispatcher):
    async with uow:
        await intake(dispatcher, NOTICES)(uow, [accepted("m-huber", "r-1")])
        assert dispatcher.offered == [], "offered to the dispatcher only once committed"

    accepted_type = EventType.PURCHASE_REQUEST_ACCEPTED
    assert deliveries(uow) == {("m-huber", accepted_type, Channel.WEBHOOK, DeliveryStatus.PENDING),
                               ("m-huber", accepted_type, Channel.EMAIL, DeliveryStatus.PENDING)}
    assert sorted(d.endpoint for d in dispatcher.offered) == sorted([HUBER_HOOK, SMTP_ENDPOINT])
    assert uow.outcomes(NOTICES) == {"processed": 1}


async def test_a_members_batch_of_notices_is_routed_notice_by_notice(uow, dispatcher):
    rejected = PurchaseRequestRejected(request_id="r-2", reason="unknown_sku", detail="no such sku")
    message = member_notices("members", "m-berg", [
        (EventType.PURCHASE_REQUEST_ACCEPTED, {"request_id": "r-1"}, "c-1"),
        (EventType.PURCHASE_REQUEST_REJECTED, rejected, "c-2"),
    ])
    await deliver(uow, dispatcher, NOTICES, InboundRecord(NOTICES, 0, 0, b"m-berg", message.value))

    assert deliveries(uow) == {
        ("m-berg", EventType.PURCHASE_REQUEST_ACCEPTED, Channel.WEBHOOK, DeliveryStatus.PENDING),
        ("m-berg", EventType.PURCHASE_REQUEST_REJECTED, Channel.WEBHOOK, DeliveryStatus.PENDING),
    }
    assert [d.endpoint for d in dispatcher.offered] == [BERG_HOOK, BERG_HOOK]


async def test_a_notice_whose_record_key_names_another_member_is_dead_lettered_and_never_delivered(uow, dispatcher):
    await deliver(uow, dispatcher, NOTICES, accepted("m-huber", "r-1", key="m-berg"))

    assert [d.reason for d in uow.dead_letters] == [DeadLetterReason.NOTICE_NOT_FOR_KEY]
    assert uow.tables.notices == {} and dispatcher.offered == []


@pytest.mark.parametrize(
    ("notice_type", "data", "reason"),
    [
        ("purchase_request.gossip", {"request_id": "r-1"}, DeadLetterReason.UNKNOWN_NOTICE_TYPE),
        (EventType.PURCHASE_REQUEST_REJECTED, {"request_id": "r-1"}, DeadLetterReason.INVALID_PAYLOAD),
    ],
)
async def test_a_notice_outside_the_contract_is_dead_lettered(uow, dispatcher, notice_type, data, reason):
    message = member_notices("members", "m-huber", [(notice_type, data, "c-1")])
    await deliver(uow, dispatcher, NOTICES, InboundRecord(NOTICES, 0, 0, b"m-huber", message.value))

    assert [d.reason for d in uow.dead_letters] == [reason]
    assert uow.tables.notices == {}


async def test_a_redelivered_notice_is_stored_and_routed_once(uow, dispatcher):
    await deliver(uow, dispatcher, NOTICES, accepted("m-berg", "r-1"), accepted("m-berg", "r-1"))
    await deliver(uow, dispatcher, NOTICES, accepted("m-berg", "r-1"))

    assert len(uow.tables.notices) == 1 and len(uow.tables.deliveries) == 1
    assert len(dispatcher.offered) == 1
    assert uow.outcomes(NOTICES) == {"processed": 1, "duplicate": 2}


async def test_a_notice_waits_for_its_members_profile_then_goes_out(uow, dispatcher):
    await deliver(uow, dispatcher, NOTICES, accepted("m-late", "r-1"))
    assert uow.tables.deliveries == {} and dispatcher.offered == []

    await deliver(uow, dispatcher, PROFILES, profile("m-late", None, "late@example.com"))

    assert deliveries(uow) == {("m-late", EventType.PURCHASE_REQUEST_ACCEPTED, Channel.EMAIL, DeliveryStatus.PENDING)}
    assert [d.endpoint for d in dispatcher.offered] == [SMTP_ENDPOINT]


async def test_preferences_suppress_a_type_or_hold_informational_e_mail_for_the_digest(uow, dispatcher):
    async with uow:
        await uow.preferences.save("m-berg", Preferences(disabled_types=frozenset({EventType.PURCHASE_REQUEST_ACCEPTED})))
        await uow.preferences.save("m-huber", Preferences(daily_digest=True))
    await deliver(uow, dispatcher, NOTICES, accepted("m-berg", "r-1"), accepted("m-huber", "r-2"))

    assert deliveries(uow) == {
        ("m-huber", EventType.PURCHASE_REQUEST_ACCEPTED, Channel.WEBHOOK, DeliveryStatus.PENDING),
        ("m-huber", EventType.PURCHASE_REQUEST_ACCEPTED, Channel.EMAIL, DeliveryStatus.HELD),
    }
    assert [n.suppressed for n in uow.tables.notices.values() if n.notice.member_id == "m-berg"] == ["type_disabled"]
    assert [d.endpoint for d in dispatcher.offered] == [HUBER_HOOK], "held e-mail waits for the digest"
