"""Which channels a notice takes, by the member's channels and preferences."""

from datetime import UTC, datetime

import pytest

from services.notifications.domain.notices import Channel, MemberChannels
from services.notifications.domain.preferences import (
    DigestSchedule,
    Preferences,
    Route,
    Suppression,
    route,
)
from shared.contract import EventType, Severity

BOTH = MemberChannels(
    "m-a", "A GmbH", "de", "a@example.org", "http://a.example/hook", "s", Severity.MEDIUM
)
RISK = {
    "severity": "medium",
    "kind": "delay",
    "summary": "late",
    "alert_id": "a1",
    "affected_request_ids": [],
}


def test_defaults_send_everything_on_every_channel():
    assert route(
        EventType.PURCHASE_REQUEST_ACCEPTED, {}, BOTH, Preferences(), email_enabled=True
    ) == [
        Route(Channel.WEBHOOK),
        Route(Channel.EMAIL),
    ]


def test_email_only_when_smtp_is_configured():
    assert route(
        EventType.PURCHASE_REQUEST_ACCEPTED, {}, BOTH, Preferences(), email_enabled=False
    ) == [Route(Channel.WEBHOOK)]


def test_a_member_without_channels_is_suppressed():
    silent = MemberChannels("m-b", "B", "de", None, None, None, Severity.LOW)
    assert (
        route(EventType.PURCHASE_REQUEST_ACCEPTED, {}, silent, Preferences(), True)
        is Suppression.NO_CHANNEL
    )


def test_a_disabled_type_goes_nowhere():
    preferences = Preferences(disabled_types=frozenset({EventType.PURCHASE_REQUEST_ACCEPTED}))
    assert (
        route(EventType.PURCHASE_REQUEST_ACCEPTED, {}, BOTH, preferences, True)
        is Suppression.TYPE_DISABLED
    )
    assert (
        route(EventType.PURCHASE_REQUEST_REJECTED, {}, BOTH, preferences, True)
        != Suppression.TYPE_DISABLED
    )


@pytest.mark.parametrize(
    ("severity", "declared", "override", "sent"),
    [
        ("medium", Severity.MEDIUM, None, True),
        ("low", Severity.MEDIUM, None, False),
        ("low", Severity.MEDIUM, Severity.LOW, True),
        ("high", Severity.MEDIUM, Severity.CRITICAL, False),
        ("critical", Severity.CRITICAL, None, True),
        ("unheard-of", Severity.CRITICAL, None, True),
    ],
)
def test_risk_notices_below_the_threshold_are_suppressed(severity, declared, override, sent):
    member = MemberChannels("m-a", "A", "de", None, "http://a.example/hook", "s", declared)
    decision = route(
        EventType.RISK_ALERT_NOTICE,
        {**RISK, "severity": severity},
        member,
        Preferences(min_risk_severity=override),
        True,
    )
    assert (decision is not Suppression.BELOW_MIN_SEVERITY) is sent


def test_the_digest_holds_informational_emails_only():
    digest = Preferences(daily_digest=True)
    assert route(EventType.PURCHASE_REQUEST_CONFIRMED, {}, BOTH, digest, True) == [
        Route(Channel.WEBHOOK),
        Route(Channel.EMAIL, held_for_digest=True),
    ]
    assert route(EventType.PURCHASE_REQUEST_ORDERED, {}, BOTH, digest, True) == [
        Route(Channel.WEBHOOK),
        Route(Channel.EMAIL),
    ]


def test_digests_go_out_at_the_next_daily_time():
    daily_at_six = DigestSchedule(interval_s=86_400, offset_s=6 * 3600)
    assert daily_at_six.next_after(datetime(2026, 11, 21, 5, 59, tzinfo=UTC)) == datetime(
        2026, 11, 21, 6, tzinfo=UTC
    )
    assert daily_at_six.next_after(datetime(2026, 11, 21, 6, 0, tzinfo=UTC)) == datetime(
        2026, 11, 22, 6, tzinfo=UTC
    )
    assert daily_at_six.next_after(datetime(2026, 11, 21, 23, 0, tzinfo=UTC)) == datetime(
        2026, 11, 22, 6, tzinfo=UTC
    )
