"""Who hears of a risk alert and what each one is told: exposed members their own requests,
interested members (category and severity) no requests, nobody else, never the reporter."""

import json
from datetime import UTC, datetime

from services.notifications.domain.notices import MemberChannels
from services.notifications.domain.preferences import Preferences, Suppression, route
from services.notifications.domain.risk import (
    Recipient,
    exposed_members,
    raised_audience,
    risk_notice,
)
from services.notifications.main import members_from_seed
from shared.contract import NOTICE_DATA, EventType, Severity
from shared.events.procurement import MemberExposure, RiskExposureAssessed
from shared.seed import load_seed
from tests.support.runs import DEMO_SEED

AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def alert(severity: str = "high", *exposed: MemberExposure) -> RiskExposureAssessed:
    return RiskExposureAssessed(
        alert_id="a-1",
        status="raised",
        kind="insolvency",
        severity=severity,
        supplier_id="s-holz",
        summary="Holz AG has filed for insolvency",
        categories=("wood",),
        exposed=exposed,
    )


def member(
    member_id: str, categories: set[str], declared: Severity = Severity.MEDIUM
) -> MemberChannels:
    return MemberChannels(
        member_id,
        f"{member_id} GmbH",
        "de",
        None,
        f"http://x.example/{member_id}",
        "s",
        declared,
        frozenset(categories),
    )


def test_each_exposed_member_once_with_all_its_own_requests():
    exposure = alert(
        "low",
        MemberExposure(member_id="m-a", affected_request_ids=("r-1", "r-2")),
        MemberExposure(member_id="m-b", affected_request_ids=("r-9",)),
        MemberExposure(member_id="m-a", affected_request_ids=("r-2", "r-3")),
    )
    assert exposed_members(exposure) == [
        Recipient("m-a", ("r-1", "r-2", "r-3")),
        Recipient("m-b", ("r-9",)),
    ]


def test_interested_members_hear_of_alerts_in_their_categories_that_reach_their_severity():
    lowered = Preferences(min_risk_severity=Severity.LOW)
    raised = Preferences(min_risk_severity=Severity.CRITICAL)
    interested = [
        (member("m-wood", {"wood", "metal"}), Preferences()),
        (member("m-metal", {"metal"}), Preferences()),
        (member("m-picky", {"wood"}, declared=Severity.CRITICAL), Preferences()),
        (member("m-lowered", {"wood"}, declared=Severity.CRITICAL), lowered),
        (member("m-raised", {"wood"}), raised),
    ]
    audience = raised_audience(alert("high"), interested)
    assert audience == [Recipient("m-wood", ()), Recipient("m-lowered", ())]


def test_an_exposed_member_that_is_also_interested_is_told_once_with_its_requests():
    exposure = alert("high", MemberExposure(member_id="m-wood", affected_request_ids=("r-1",)))
    audience = raised_audience(exposure, [(member("m-wood", {"wood"}), Preferences())])
    assert audience == [Recipient("m-wood", ("r-1",))]


def test_a_suspended_member_hears_of_alerts_on_its_own_requests_only():
    from dataclasses import replace

    suspended = replace(member("m-wood", {"wood"}), active=False)
    assert raised_audience(alert("high"), [(suspended, Preferences())]) == []
    exposure = alert("high", MemberExposure(member_id="m-wood", affected_request_ids=("r-1",)))
    assert raised_audience(exposure, [(suspended, Preferences())]) == [Recipient("m-wood", ("r-1",))]


def test_an_exposed_member_is_told_whatever_its_minimum_severity():
    exposure = alert("low", MemberExposure(member_id="m-picky", affected_request_ids=("r-1",)))
    picky = member("m-picky", {"wood"}, declared=Severity.CRITICAL)
    assert raised_audience(exposure, [(picky, Preferences())]) == [Recipient("m-picky", ("r-1",))]
    notice = risk_notice(exposure, Recipient("m-picky", ("r-1",)), AT)
    assert route(notice.notice_type, notice.data, picky, Preferences(), True) != (
        Suppression.BELOW_MIN_SEVERITY
    )
    switched_off = Preferences(disabled_types=frozenset({EventType.RISK_ALERT_NOTICE}))
    assert (
        route(notice.notice_type, notice.data, picky, switched_off, True)
        is Suppression.TYPE_DISABLED
    )


def test_the_notice_is_the_contracts_and_carries_the_alert_and_the_members_own_requests_only():
    exposure = alert(
        "critical",
        MemberExposure(member_id="m-a", affected_request_ids=("r-1",)),
        MemberExposure(member_id="m-b", affected_request_ids=("r-9",)),
    )
    notice = risk_notice(exposure, Recipient("m-a", ("r-1",)), AT)
    assert notice.member_id == "m-a" and notice.notice_type == EventType.RISK_ALERT_NOTICE
    assert notice.data == {
        "alert_id": "a-1",
        "kind": "insolvency",
        "severity": "critical",
        "supplier_id": "s-holz",
        "sku": None,
        "region": None,
        "summary": "Holz AG has filed for insolvency",
        "affected_request_ids": ["r-1"],
        "status": "raised",
    }
    NOTICE_DATA[EventType.RISK_ALERT_NOTICE].model_validate(notice.data)
    assert "m-b" not in json.dumps(notice.data) and "r-9" not in json.dumps(notice.data)


def test_whatever_else_an_assessment_carries_never_reaches_the_notice():
    exposure = RiskExposureAssessed.model_validate(
        {
            **alert().model_dump(mode="json"),
            "reporter_member_id": "m-reporter",
            "reported_by": "m-reporter",
        }
    )
    notice = risk_notice(exposure, Recipient("m-a", ()), AT)
    assert "m-reporter" not in json.dumps(notice.data)


def test_one_notice_id_per_member_alert_and_status():
    exposure = alert()
    raised = risk_notice(exposure, Recipient("m-a", ("r-1",)), AT)
    more_requests = risk_notice(exposure, Recipient("m-a", ("r-1", "r-2")), AT)
    assert raised.notice_id == more_requests.notice_id
    assert raised.notice_id != risk_notice(exposure, Recipient("m-b", ()), AT).notice_id
    resolved = exposure.model_copy(update={"status": "resolved"})
    assert raised.notice_id != risk_notice(resolved, Recipient("m-a", ("r-1",)), AT).notice_id
    other_alert = exposure.model_copy(update={"alert_id": "a-2"})
    assert raised.notice_id != risk_notice(other_alert, Recipient("m-a", ("r-1",)), AT).notice_id


def test_the_seeds_members_keep_their_interest_categories():
    members = {m.member_id: m for m in members_from_seed(load_seed(DEMO_SEED))}
    assert members["m-huber"].interest_categories == {"wood"}
