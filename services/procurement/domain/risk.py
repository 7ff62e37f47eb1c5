"""Risk alerts: which ones are in force, which of those procurement acts on, and what they do to
a decision. Pure: given the alerts (and, for exposure, who holds what), the answer.

- An alert's scope is any of supplier, SKU, region (ISO country of the delivery). It covers an
  offer of supplier s for SKU k to a request shipping to country c when every part it names
  matches.
- In force: raised, neither resolved nor past its `valid_until`.
- Trust: alerts raised by ops, and a supplier's alert about itself (it names itself, or names
  no supplier but a SKU of its own catalog), are effective at once; a supplier's self-alert
  without a supplier acts on that supplier's own offers only. Any other alert (a member's, a
  supplier's about someone else) only warns until `corroboration` distinct members have raised
  alerts with the very same scope; then the group acts with the most severe of those members'
  reports.
- Effect by severity: critical excludes the scope from every new decision, high makes it a last
  resort (`RiskLevel.HIGH`), medium and low inform only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from services.procurement.domain.bundling import Offer, RiskLevel
from services.procurement.domain.catalog import Supplier
from shared.contract import RiskAlertRaised, RiskKind, Severity
from shared.reasons import QuarantineReason
from shared.signing import signed_by


class AlertSource(StrEnum):
    OPS = "ops"
    MEMBER = "member"
    SUPPLIER = "supplier"


class AlertStatus(StrEnum):
    ACTIVE = "active"
    RESOLVED = "resolved"
    EXPIRED = "expired"


OPS_REPORTER = "ops"
"""The reporter of every alert raised through the admin API."""


def alert_key(source: AlertSource, reporter: str, alert_id: str) -> str:
    """A stable id for an alert that does not reveal who raised it (alert ids are unique per
    reporter only, and a member's id must never reach another member)."""
    digest = hashlib.blake2b(f"{source}\x1f{reporter}\x1f{alert_id}".encode(), digest_size=10)
    return f"ra-{digest.hexdigest()}"


@dataclass(frozen=True, slots=True)
class Scope:
    supplier_id: str | None = None
    sku: str | None = None
    region: str | None = None

    def covers(self, supplier_id: str, sku: str, country: str) -> bool:
        """Whether supplier `supplier_id` delivering `sku` to `country` is inside the scope."""
        return (
            self.supplier_id in (None, supplier_id)
            and self.sku in (None, sku)
            and self.region in (None, country)
        )


@dataclass(frozen=True, slots=True)
class Alert:
    source: AlertSource
    reporter: str
    alert_id: str
    scope: Scope
    kind: RiskKind
    severity: Severity
    summary: str
    trusted: bool
    status: AlertStatus = AlertStatus.ACTIVE
    valid_until: datetime | None = None

    @property
    def key(self) -> str:
        return alert_key(self.source, self.reporter, self.alert_id)

    @property
    def acting_scope(self) -> Scope:
        """Where the alert acts and whom it exposes: as raised, except that a supplier's trusted
        alert naming no supplier is about that supplier's own offers."""
        if self.source is AlertSource.SUPPLIER and self.trusted and self.scope.supplier_id is None:
            return replace(self.scope, supplier_id=self.reporter)
        return self.scope

    def in_force(self, now: datetime) -> bool:
        return self.status is AlertStatus.ACTIVE and (self.valid_until is None or now < self.valid_until)

    def same_report(self, raised: RiskAlertRaised) -> bool:
        """Whether `raised` says what this alert says (a redelivery, not a reuse of its id)."""
        return (
            self.scope == scope_of(raised)
            and self.kind == raised.kind
            and self.severity == raised.severity
            and self.summary == raised.summary
            and self.valid_until == raised.valid_until
        )


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One entry of an alert's history (raised, redelivered with changes, resolved...)."""

    at: datetime
    change: str
    detail: str


@dataclass(frozen=True, slots=True)
class RegisteredAlert:
    """An alert as the registry keeps it: when it was raised and when it ended."""

    alert: Alert
    raised_at: datetime
    ended_at: datetime | None


def scope_of(raised: RiskAlertRaised) -> Scope:
    return Scope(raised.supplier_id, raised.sku, raised.region)


def is_trusted(
    source: AlertSource, reporter: str, raised: RiskAlertRaised, reporter_skus: Collection[str]
) -> bool:
    """Ops, and a supplier speaking about itself, are believed at once; members need others."""
    if source is AlertSource.OPS:
        return True
    if source is AlertSource.SUPPLIER:
        if raised.supplier_id is not None:
            return raised.supplier_id == reporter
        return raised.sku is not None and raised.sku in reporter_skus
    return False


@dataclass(frozen=True, slots=True)
class Effect:
    """What procurement does about a scope: `severity` decides, `alert_keys` are the alerts
    behind it (one trusted alert, or a corroborated group of members' alerts)."""

    scope: Scope
    severity: Severity
    alert_keys: frozenset[str]

    @property
    def risk(self) -> RiskLevel:
        return severity_risk(self.severity)


def severity_risk(severity: Severity) -> RiskLevel:
    if severity is Severity.CRITICAL:
        return RiskLevel.EXCLUDED
    if severity is Severity.HIGH:
        return RiskLevel.HIGH
    return RiskLevel.OK


def effects(alerts: Iterable[Alert], now: datetime, corroboration: int) -> list[Effect]:
    """The effects of the alerts in force: each trusted one, and each group of untrusted alerts
    with one scope that `corroboration` distinct members back."""
    found: list[Effect] = []
    groups: dict[Scope, list[Alert]] = {}
    for alert in alerts:
        if not alert.in_force(now):
            continue
        if alert.trusted:
            found.append(Effect(alert.acting_scope, alert.severity, frozenset({alert.key})))
        else:
            groups.setdefault(alert.scope, []).append(alert)
    for scope, group in groups.items():
        backing = [a for a in group if a.source is AlertSource.MEMBER]
        if len({a.reporter for a in backing}) >= corroboration:
            worst = max((a.severity for a in backing), key=lambda s: s.rank)
            found.append(Effect(scope, worst, frozenset(a.key for a in backing)))
    return found


def effective_alerts(effects_in_force: Iterable[Effect]) -> set[str]:
    """Keys of the alerts procurement acts on."""
    return {key for effect in effects_in_force for key in effect.alert_keys}


def risk_level(effects_in_force: Iterable[Effect], supplier_id: str, sku: str, country: str) -> RiskLevel:
    """The risk of `supplier_id` delivering `sku` to `country`: the worst effect covering it."""
    worst = RiskLevel.OK
    for effect in effects_in_force:
        if effect.scope.covers(supplier_id, sku, country):
            worst = _worse(worst, effect.risk)
    return worst


_RISK_ORDER = (RiskLevel.OK, RiskLevel.HIGH, RiskLevel.EXCLUDED)


def _worse(a: RiskLevel, b: RiskLevel) -> RiskLevel:
    return a if _RISK_ORDER.index(a) >= _RISK_ORDER.index(b) else b


def with_risk(offer: Offer, sku: str, effects_in_force: Sequence[Effect]) -> Offer:
    """`offer` of `sku` rated by the effects: one risk for every country, plus the countries of
    its regions where a region-scoped effect makes it worse."""
    relevant = [e for e in effects_in_force if e.scope.supplier_id in (None, offer.supplier_id)
                and e.scope.sku in (None, sku) and e.risk is not RiskLevel.OK]
    if not relevant:
        return offer
    everywhere = RiskLevel.OK
    for effect in relevant:
        if effect.scope.region is None:
            everywhere = _worse(everywhere, effect.risk)
    regional = []
    for country in sorted(offer.regions):
        level = risk_level(relevant, offer.supplier_id, sku, country)
        if level is not everywhere:
            regional.append((country, level))
    return replace(offer, risk=everywhere, regional_risk=tuple(regional))


def as_last_resort(offer: Offer) -> Offer:
    """`offer` used only where no other supplier serves a request in time (at least high risk
    everywhere; an exclusion stays one)."""
    regional = tuple((country, _worse(level, RiskLevel.HIGH)) for country, level in offer.regional_risk)
    return replace(offer, risk=_worse(offer.risk, RiskLevel.HIGH), regional_risk=regional)


def offers_with_risk(
    offers: Mapping[str, Sequence[Offer]], effects_in_force: Sequence[Effect]
) -> dict[str, list[Offer]]:
    """Every SKU's offers rated by the effects in force."""
    return {sku: [with_risk(o, sku, effects_in_force) for o in sku_offers] for sku, sku_offers in offers.items()}


def excluded_suppliers(effects_in_force: Iterable[Effect]) -> set[str]:
    """Suppliers a critical effect names: they get no new orders inside its scope."""
    return {
        e.scope.supplier_id
        for e in effects_in_force
        if e.severity is Severity.CRITICAL and e.scope.supplier_id is not None
    }


@dataclass(frozen=True, slots=True)
class Holding:
    """A member's live request: open (no supplier yet), or on an order line not yet confirmed
    or not yet delivered."""

    member_id: str
    request_id: str
    sku: str
    country: str
    supplier_id: str | None = None
    order_id: str | None = None
    order_confirmed: bool = False


SupplierServes = Callable[[str, str, str], bool]
"""(supplier_id, sku, country) -> whether that supplier could deliver an open request."""


def serving(suppliers: Sequence[Supplier]) -> SupplierServes:
    """Whether a supplier lists the SKU and ships to the country (as the catalog stands)."""
    offered = {(s.supplier_id, item.sku) for s in suppliers for item in s.catalog}
    regions = {s.supplier_id: frozenset(s.regions) for s in suppliers}

    def serves(supplier_id: str, sku: str, country: str) -> bool:
        return (supplier_id, sku) in offered and country in regions.get(supplier_id, frozenset())

    return serves


def holding_in_scope(scope: Scope, holding: Holding, serves: SupplierServes) -> bool:
    """An order line is inside when its supplier, SKU and country are; an open request when its
    SKU and country are and, for a supplier scope, that supplier could be chosen for it."""
    if scope.sku not in (None, holding.sku) or scope.region not in (None, holding.country):
        return False
    if scope.supplier_id is None:
        return True
    if holding.supplier_id is None:
        return serves(scope.supplier_id, holding.sku, holding.country)
    return holding.supplier_id == scope.supplier_id


def exposure(
    alert: Alert, holdings: Iterable[Holding], serves: SupplierServes
) -> dict[str, tuple[str, ...]]:
    """member_id -> its own request ids inside the alert's scope. The reporter is left out: it
    knows its own alert, and an exposure must never name who raised it."""
    exposed: dict[str, set[str]] = {}
    scope = alert.acting_scope
    for holding in holdings:
        if alert.source is AlertSource.MEMBER and holding.member_id == alert.reporter:
            continue
        if holding_in_scope(scope, holding, serves):
            exposed.setdefault(holding.member_id, set()).add(holding.request_id)
    return {member: tuple(sorted(ids)) for member, ids in sorted(exposed.items())}


@dataclass(frozen=True, slots=True)
class OrdersAtRisk:
    """Orders inside a critical effect: unconfirmed ones are cancelled, confirmed ones flagged."""

    to_cancel: tuple[str, ...]
    to_flag: tuple[str, ...]


def orders_at_risk(critical: Sequence[Effect], holdings: Iterable[Holding]) -> OrdersAtRisk:
    cancel: set[str] = set()
    flag: set[str] = set()
    for holding in holdings:
        if holding.order_id is None or holding.supplier_id is None:
            continue
        if any(e.scope.covers(holding.supplier_id, holding.sku, holding.country) for e in critical):
            (flag if holding.order_confirmed else cancel).add(holding.order_id)
    return OrdersAtRisk(tuple(sorted(cancel)), tuple(sorted(flag)))


def newly_critical(before: Iterable[Effect], after: Iterable[Effect]) -> list[Effect]:
    """Critical effects after a change that were not in force before it (a new trusted alert, a
    group that reached its corroboration, or a new member joining a critical group)."""
    known = {(e.scope, e.alert_keys) for e in before if e.severity is Severity.CRITICAL}
    return [e for e in after if e.severity is Severity.CRITICAL and (e.scope, e.alert_keys) not in known]


def due_to_expire(alerts: Iterable[Alert], now: datetime) -> list[Alert]:
    """Active alerts whose `valid_until` has passed."""
    return [a for a in alerts if a.status is AlertStatus.ACTIVE and a.valid_until is not None and now >= a.valid_until]


def authenticate_supplier_alert(
    signature_header: bytes | None, body: bytes, supplier: Supplier, now: datetime
) -> QuarantineReason | None:
    """The supplier the record's key names signed the exact bytes (current secret, or the
    previous one during a rotation, within 300 s). A key naming nobody is `UNKNOWN_REPORTER`."""
    return signed_by(supplier, signature_header, body, now)
