"""A member's notification preferences and which channels a notice takes because of them.

Type switches and the minimum risk severity apply to every channel; the minimum severity
spares a member alerts it only follows out of interest, never one naming its own requests
(it has them at stake). The daily digest is an e-mail matter: a member's ERP needs every
event when it happens, a buyer's inbox does not, so informational notices wait for the
digest only on the e-mail channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from services.notifications.domain.notices import INFORMATIONAL_TYPES, Channel, MemberChannels
from shared.contract import EventType, Severity


@dataclass(frozen=True, slots=True)
class Preferences:
    """Defaults: every notice type on, the member's declared risk threshold, no digest."""

    disabled_types: frozenset[str] = frozenset()
    min_risk_severity: Severity | None = None
    """None: the minimum the member declared with its interests at registration."""
    daily_digest: bool = False


class Suppression(StrEnum):
    TYPE_DISABLED = "type_disabled"
    BELOW_MIN_SEVERITY = "below_min_severity"
    NO_CHANNEL = "no_channel"


@dataclass(frozen=True, slots=True)
class Route:
    channel: Channel
    held_for_digest: bool = False


def route(
    notice_type: str,
    data: dict[str, Any],
    member: MemberChannels,
    preferences: Preferences,
    email_enabled: bool,
) -> list[Route] | Suppression:
    """The channels a notice goes out on, or why it goes out on none."""
    if notice_type in preferences.disabled_types:
        return Suppression.TYPE_DISABLED
    if (
        notice_type == EventType.RISK_ALERT_NOTICE
        and not data.get("affected_request_ids")
        and not reaches(data.get("severity"), risk_threshold(member, preferences))
    ):
        return Suppression.BELOW_MIN_SEVERITY
    routes: list[Route] = []
    if member.webhook_url:
        routes.append(Route(Channel.WEBHOOK))
    if member.email and email_enabled:
        held = preferences.daily_digest and notice_type in INFORMATIONAL_TYPES
        routes.append(Route(Channel.EMAIL, held_for_digest=held))
    return routes or Suppression.NO_CHANNEL


def risk_threshold(member: MemberChannels, preferences: Preferences) -> Severity:
    """The least severe risk alert the member wants to hear of out of interest."""
    return preferences.min_risk_severity or member.declared_min_risk_severity


def reaches(severity: object, threshold: Severity) -> bool:
    """An unknown severity ranks highest: better told once too often than not at all."""
    try:
        rank = Severity(str(severity)).rank
    except ValueError:
        rank = Severity.CRITICAL.rank
    return rank >= threshold.rank


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """Digests go out once per `interval_s`, `offset_s` into each period (UTC): 06:00 daily by default."""

    interval_s: int
    offset_s: int

    def next_after(self, moment: datetime) -> datetime:
        periods = math.floor((moment.timestamp() - self.offset_s) / self.interval_s) + 1
        return datetime.fromtimestamp(periods * self.interval_s + self.offset_s, UTC)
