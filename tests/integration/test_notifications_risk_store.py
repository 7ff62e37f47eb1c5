"""Routing risk exposure assessments against a real PostgreSQL: who is stored a notice, who is
remembered as told, and what a redelivered or repeated assessment, a resolution in the same
batch, a member's preferences and procurement's other events come to."""

from __future__ import annotations

import json

import asyncpg
import pytest

from services.notifications.adapters.repository import (
    MemberChannelsRepository,
    PreferencesRepository,
)
from services.notifications.domain.notices import MemberChannels
from services.notifications.domain.preferences import DigestSchedule, Preferences
from services.notifications.entrypoints.messaging import subscriptions
from services.notifications.service_layer.routing import RoutingPolicy
from shared import topics
from shared.contract import EventType, Severity
from shared.events.members import MEMBER_REGISTERED, Interests, MemberProfile
from shared.events.procurement import (
    CATALOG_ITEM_LISTED,
    RISK_EXPOSURE_ASSESSED,
    SOURCE,
    CatalogItemListed,
    MemberExposure,
    RiskExposureAssessed,
)
from shared.messaging.consumer import BatchHandler
from shared.messaging.records import InboundRecord
from shared.sealing import SecretBox, new_sealing_key
from shared.settings import Settings
from tests.support.events import encode, new_event
from tests.support.intake import intake_of
from tests.support.notifications_store import UnitOfWorkFactory, pool, uow  # noqa: F401 (fixtures)
from tests.support.services import SEALING_BOX

pytestmark = pytest.mark.integration

POLICY = RoutingPolicy(
    horizon_s=3600, email_enabled=False, digest=DigestSchedule(interval_s=86_400, offset_s=0)
)
TOPIC = "procurement.events"


def profile_record(
    member_id: str,
    categories: tuple[str, ...] = (),
    min_severity: Severity = Severity.MEDIUM,
    status: str = "active",
    box: SecretBox = SEALING_BOX,
) -> InboundRecord:
    member = MemberProfile(
        member_id=member_id,
        name=member_id,
        status=status,
        region="DE",
        webhook_url=f"http://127.0.0.1:9/{member_id}",
        sealed_webhook_secret=box.seal("s"),
        interests=Interests(categories=categories, min_risk_severity=min_severity),
    )
    value = encode(new_event(MEMBER_REGISTERED, "alliance/members", member))
    return InboundRecord("members.events", 0, 0, member_id.encode(), value)


def assessment(
    status: str = "raised",
    severity: str = "high",
    alert_id: str = "a-1",
    **exposed: tuple[str, ...],
) -> InboundRecord:
    exposure = RiskExposureAssessed(
        alert_id=alert_id,
        status=status,  # type: ignore[arg-type]
        kind="shortage",
        severity=severity,
        sku="BOARD-18MM",
        summary="Mill on fire",
        categories=("wood",),
        exposed=tuple(
            MemberExposure(member_id=m, affected_request_ids=ids) for m, ids in exposed.items()
        ),
    )
    value = encode(new_event(RISK_EXPOSURE_ASSESSED, SOURCE, exposure))
    return InboundRecord(TOPIC, 0, 0, alert_id.encode(), value)


def _intake(topic: str) -> BatchHandler:
    return intake_of(subscriptions(Settings(topic_prefix=""), POLICY, lambda due: None, SEALING_BOX), topic)


async def project(uow: UnitOfWorkFactory, *records: InboundRecord) -> None:
    async with uow() as unit:
        await _intake(topics.MEMBER_EVENTS)(unit, records)


async def consume(uow: UnitOfWorkFactory, *records: InboundRecord) -> None:
    async with uow() as unit:
        await _intake(topics.PROCUREMENT_EVENTS)(unit, records)


async def notices(pool: asyncpg.Pool) -> dict[tuple[str, str], list[str]]:
    """(member, status) -> the affected request ids it was stored a notice with."""
    rows = await pool.fetch("SELECT member_id, data FROM notices")
    told: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        data = json.loads(row["data"])
        key = (row["member_id"], data["status"])
        assert key not in told, f"{key} stored twice"
        told[key] = data["affected_request_ids"]
    return told


async def test_raised_and_resolved_in_one_batch_each_tell_the_same_members_once(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(
        uow,
        profile_record("m-exposed", ("metal",)),
        profile_record("m-wood", ("wood",)),
        profile_record("m-metal", ("metal",)),
        profile_record("m-picky", ("wood",), min_severity=Severity.CRITICAL),
    )
    raised = assessment(**{"m-exposed": ("r-1", "r-2")})
    resolved = assessment("resolved", **{"m-exposed": ("r-2",), "m-newly": ("r-7",)})
    await consume(uow, raised, raised, resolved)
    await consume(uow, raised, resolved)

    assert await notices(pool) == {
        ("m-exposed", "raised"): ["r-1", "r-2"],
        ("m-wood", "raised"): [],
        ("m-exposed", "resolved"): ["r-1", "r-2"],
        ("m-wood", "resolved"): [],
    }
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 4


async def test_a_repeated_assessment_tells_only_members_not_told_yet(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await consume(uow, assessment(**{"m-a": ("r-1",)}))
    await consume(uow, assessment(**{"m-a": ("r-1", "r-5"), "m-b": ("r-9",)}))
    await consume(uow, assessment("resolved"))
    assert await notices(pool) == {
        ("m-a", "raised"): ["r-1"],
        ("m-b", "raised"): ["r-9"],
        ("m-a", "resolved"): ["r-1"],
        ("m-b", "resolved"): ["r-9"],
    }


async def test_a_suspended_member_hears_of_its_own_exposure_only(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(
        uow,
        profile_record("m-wood", ("wood",), status="suspended"),
        profile_record("m-exposed", ("wood",), status="suspended"),
    )
    await consume(uow, assessment(**{"m-exposed": ("r-1",)}))
    assert await notices(pool) == {("m-exposed", "raised"): ["r-1"]}
    await project(uow, profile_record("m-wood", ("wood",)))  # reactivated
    await consume(uow, assessment(alert_id="a-2"))
    assert ("m-wood", "raised") in await notices(pool)


async def test_an_exposed_member_is_told_below_its_minimum_severity_an_interested_one_not(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(
        uow,
        profile_record("m-exposed", ("wood",), min_severity=Severity.CRITICAL),
        profile_record("m-interested", ("wood",), min_severity=Severity.CRITICAL),
    )
    await consume(uow, assessment(severity="low", **{"m-exposed": ("r-1",)}))
    assert await notices(pool) == {("m-exposed", "raised"): ["r-1"]}
    assert await pool.fetchval("SELECT suppressed FROM notices") is None


async def test_preferences_decide_for_interested_members_and_who_was_not_told_hears_no_all_clear(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(
        uow,
        profile_record("m-off", ("wood",)),
        profile_record("m-lowered", ("wood",), min_severity=Severity.CRITICAL),
        profile_record("m-raised", ("wood",)),
    )
    async with uow() as unit:
        preferences = PreferencesRepository(unit.conn)
        await preferences.save(
            "m-off", Preferences(disabled_types=frozenset({EventType.RISK_ALERT_NOTICE}))
        )
        await preferences.save("m-lowered", Preferences(min_risk_severity=Severity.LOW))
        await preferences.save("m-raised", Preferences(min_risk_severity=Severity.CRITICAL))
    await consume(uow, assessment(severity="medium"))
    await consume(uow, assessment("resolved", severity="medium"))

    rows = await pool.fetch("SELECT member_id, data->>'status' AS status, suppressed FROM notices")
    assert sorted((r["member_id"], r["status"], r["suppressed"]) for r in rows) == [
        ("m-lowered", "raised", None),
        ("m-lowered", "resolved", None),
        ("m-off", "raised", "type_disabled"),
    ]


async def test_an_exposed_member_not_known_yet_is_told_when_its_profile_arrives(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await consume(uow, assessment(**{"m-late": ("r-1",)}))
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0
    await project(uow, profile_record("m-late"))
    assert await pool.fetchval("SELECT count(*) FROM deliveries WHERE member_id = 'm-late'") == 1


async def test_a_profile_whose_secret_none_of_our_keys_opens_is_dead_lettered(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    await project(uow, profile_record("m-foreign", box=SecretBox(new_sealing_key())), profile_record("m-ok"))
    assert await pool.fetchval("SELECT array_agg(member_id) FROM member_channels") == ["m-ok"]
    [row] = await pool.fetch("SELECT header_names, header_values FROM outbox")
    headers = dict(zip(row["header_names"], row["header_values"], strict=True))
    assert headers["alliance-reason"] == b"unsealable_secret"
    assert b"m-foreign" in headers["alliance-reason-detail"]


async def test_other_procurement_events_are_skipped_and_unreadable_ones_dead_lettered(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    listed = encode(
        new_event(
            CATALOG_ITEM_LISTED,
            SOURCE,
            CatalogItemListed(sku="BOARD-18MM", category="wood", name="Board", unit="piece"),
        )
    )
    invalid = encode(new_event(RISK_EXPOSURE_ASSESSED, SOURCE, {"alert_id": "a-2"}))
    await consume(
        uow,
        InboundRecord(TOPIC, 0, 1, b"BOARD-18MM", listed),
        InboundRecord(TOPIC, 0, 2, b"a-2", b"not json"),
        InboundRecord(TOPIC, 0, 3, b"a-2", invalid),
        assessment(**{"m-a": ("r-1",)}),
    )
    assert await notices(pool) == {("m-a", "raised"): ["r-1"]}
    reasons = [
        dict(zip(r["header_names"], r["header_values"], strict=True))["alliance-reason"]
        for r in await pool.fetch("SELECT header_names, header_values FROM outbox ORDER BY id")
    ]
    assert reasons == [b"not_json", b"invalid_payload"]


async def test_interests_come_from_the_seed_until_the_members_profile_replaces_them(
    uow: UnitOfWorkFactory, pool: asyncpg.Pool
) -> None:
    seeded = MemberChannels(
        member_id="m-seeded",
        name="Seeded GmbH",
        locale="de",
        email=None,
        webhook_url="http://127.0.0.1:9/m-seeded",
        webhook_secret="s",
        declared_min_risk_severity=Severity.LOW,
        interest_categories=frozenset({"wood", "metal"}),
    )
    async with uow() as unit:
        assert await MemberChannelsRepository(unit.conn).add_missing([seeded]) == 1
    await consume(uow, assessment(alert_id="a-1"))
    await project(uow, profile_record("m-seeded", ("metal",)))
    await consume(uow, assessment(alert_id="a-2"))
    rows = await pool.fetch("SELECT member_id, data->>'alert_id' AS alert FROM notices")
    assert [(r["member_id"], r["alert"]) for r in rows] == [("m-seeded", "a-1")]
