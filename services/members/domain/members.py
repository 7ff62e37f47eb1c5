"""A member firm of the alliance, as the registry keeps it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from shared.contract import Severity
from shared.events.members import Interests, MemberProfile


class MemberStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    name: str
    status: MemberStatus
    region: str
    erp_secret: str = field(repr=False)
    previous_erp_secret: str | None = field(default=None, repr=False)
    previous_secret_valid_until: datetime | None = None
    email: str | None = None
    locale: str = "de"
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    interest_categories: tuple[str, ...] = ()
    min_risk_severity: Severity = Severity.MEDIUM
    peppol_id: str | None = None
    """Its delivery party in the orders XML suppliers get (docs/suppliers.md)."""
    vat_id: str | None = None

    def verification_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the previous one while its grace period lasts."""
        secrets = [self.erp_secret]
        if (
            self.previous_erp_secret
            and self.previous_secret_valid_until is not None
            and now <= self.previous_secret_valid_until
        ):
            secrets.append(self.previous_erp_secret)
        return secrets

    def rotated(self, new_secret: str, now: datetime, grace: timedelta) -> Member:
        """Switch to `new_secret`; the old one keeps working for `grace`."""
        if new_secret == self.erp_secret:
            return self
        return replace(
            self,
            erp_secret=new_secret,
            previous_erp_secret=self.erp_secret,
            previous_secret_valid_until=now + grace,
        )

    def profile(self, sealed_webhook_secret: str | None) -> MemberProfile:
        """What the other services may know: no ERP secret, the webhook secret sealed."""
        return MemberProfile(
            member_id=self.member_id,
            name=self.name,
            status=self.status.value,
            region=self.region,
            email=self.email,
            locale=self.locale if self.locale in ("de", "en") else "de",
            webhook_url=self.webhook_url,
            sealed_webhook_secret=sealed_webhook_secret,
            interests=Interests(categories=self.interest_categories, min_risk_severity=self.min_risk_severity),
            peppol_id=self.peppol_id,
            vat_id=self.vat_id,
        )
