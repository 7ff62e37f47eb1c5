"""The notifications service's own settings, from `ALLIANCE_*` environment variables.

Kept beside the service rather than in the shared `Settings`: no other process needs SMTP
credentials or delivery tuning, and a secret that is never loaded cannot leak.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class NotificationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ALLIANCE_", extra="ignore")

    smtp_host: str | None = Field(
        default=None, description="SMTP server; unset = no e-mail is sent"
    )
    smtp_port: int = 587
    smtp_security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        description="starttls (submission, 587), ssl (implicit TLS, 465) or none",
    )
    smtp_username: str | None = Field(default=None, description="unset = no SMTP authentication")
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(
        default="Einkaufsverbund <noreply@alliance.invalid>", description="From: header"
    )
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    smtp_concurrency: int = Field(default=4, ge=1, description="e-mails sent at once")

    notifications_backoff_base_s: float = Field(default=2.0, gt=0, description="first retry bound")
    notifications_backoff_cap_s: float = Field(
        default=3600.0, gt=0, description="largest retry delay"
    )
    notifications_retry_horizon_s: float = Field(
        default=86_400.0,
        gt=0,
        description="a notice not delivered this long after it was stored is dead",
    )
    notifications_attempt_timeout_s: float = Field(
        default=10.0, gt=0, description="one webhook POST, all in"
    )
    notifications_endpoint_concurrency: int = Field(
        default=4, ge=1, description="webhook POSTs in flight per endpoint and instance"
    )
    notifications_max_in_flight: int = Field(
        default=256, ge=1, description="deliveries in flight per instance"
    )
    notifications_breaker_failures: int = Field(
        default=5, ge=1, description="failures in a row that open an endpoint's circuit"
    )
    notifications_breaker_cooldown_s: float = Field(
        default=30.0, gt=0, description="first open period"
    )
    notifications_breaker_max_cooldown_s: float = Field(default=600.0, gt=0)
    notifications_poll_interval_s: float = Field(
        default=0.5,
        gt=0,
        description="how often the database is searched for due deliveries (retries, other "
        "instances' leftovers); notices this instance stores go out at once",
    )
    notifications_digest_interval_s: int = Field(
        default=86_400, ge=60, description="daily digest period"
    )
    notifications_digest_offset_s: int = Field(
        default=6 * 3600,
        ge=0,
        description="digests go out at this many seconds past each period (06:00 UTC)",
    )

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host)
