"""The pure risk rules: what an alert's scope covers, whom procurement believes at once, when
members' alerts corroborate each other, expiry, and what each severity does to a decision."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.bundling import Demand, Offer, RiskLevel, Tier, UnplacedReason, optimize_bundle
from services.procurement.domain.catalog import CatalogItem, Supplier
from services.procurement.domain.risk import (
    Alert,
    AlertSource,
    AlertStatus,
    Effect,
    Holding,
    Scope,
    alert_key,
    due_to_expire,
    effective_alerts,
    effects,
    excluded_suppliers,
    exposure,
    is_trusted,
    newly_critical,
    orders_at_risk,
    risk_level,
    serving,
    severity_risk,
    with_risk,
)
from shared.contract import RiskAlertRaised, RiskKind, Severity

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def alert(
    reporter: str = "ops",
    source: AlertSource = AlertSource.OPS,
    *,
    alert_id: str = "a-1",
    supplier_id: str | None = "s-holz",
    sku: str | None = None,
    region: str | None = None,
    severity: Severity = Severity.CRITICAL,
    trusted: bool | None = None,
    status: AlertStatus = AlertStatus.ACTIVE,
    valid_until: datetime | None = None,
) -> Alert:
    return Alert(
        source=source,
        reporter=reporter,
        alert_id=alert_id,
        scope=Scope(supplier_id, sku, region),
        kind=RiskKind.INSOLVENCY,
        severity=severity,
        summary="insolvency filed",
        trusted=source is AlertSource.OPS if trusted is None else trusted,
        status=status,
        valid_until=valid_until,
    )


def member_alert(member_id: str, **scope_and_more) -> Alert:
    return alert(member_id, AlertSource.MEMBER, **scope_and_more)


def raised(**fields) -> RiskAlertRaised:
    return RiskAlertRaised.model_validate(
        {"alert_id": "a-1", "kind": "shortage", "severity": "high", "summary": "s", **fields}
    )


def offer(supplier_id: str, price: str = "10.00", regions: tuple[str, ...] = ("DE", "AT")) -> Offer:
    return Offer(supplier_id, frozenset(regions), 2, 1_000, 1, (Tier(1, Decimal(price)),))


# --- scope ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "covered"),
    [
        (Scope("s-holz"), True),
        (Scope("s-wald"), False),
        (Scope(sku="BOARD"), True),
        (Scope(sku="NAIL"), False),
        (Scope(region="DE"), True),
        (Scope(region="AT"), False),
        (Scope("s-holz", "BOARD", "DE"), True),
        (Scope("s-holz", "BOARD", "AT"), False),
    ],
)
def test_a_scope_covers_a_delivery_when_every_part_it_names_matches(scope: Scope, covered: bool) -> None:
    assert scope.covers("s-holz", "BOARD", "DE") is covered


# --- trust ------------------------------------------------------------------------------------


def test_ops_and_a_supplier_about_itself_are_trusted_members_never() -> None:
    own_skus = {"BOARD"}
    assert is_trusted(AlertSource.OPS, "ops", raised(supplier_id="s-wald"), ())
    assert is_trusted(AlertSource.SUPPLIER, "s-holz", raised(supplier_id="s-holz"), own_skus)
    assert is_trusted(AlertSource.SUPPLIER, "s-holz", raised(sku="BOARD"), own_skus)
    assert not is_trusted(AlertSource.SUPPLIER, "s-holz", raised(supplier_id="s-wald"), own_skus)
    assert not is_trusted(AlertSource.SUPPLIER, "s-holz", raised(sku="NAIL"), own_skus)
    assert not is_trusted(AlertSource.SUPPLIER, "s-holz", raised(region="DE"), own_skus)
    assert not is_trusted(AlertSource.MEMBER, "m-huber", raised(supplier_id="s-holz"), own_skus)


def test_a_supplier_alert_about_its_own_sku_acts_on_its_own_offers_only() -> None:
    own = alert("s-holz", AlertSource.SUPPLIER, supplier_id=None, sku="BOARD", trusted=True)
    [effect] = effects([own], NOW, corroboration=2)
    assert effect.scope == Scope("s-holz", "BOARD", None)
    assert risk_level([effect], "s-wald", "BOARD", "DE") is RiskLevel.OK
    assert risk_level([effect], "s-holz", "BOARD", "DE") is RiskLevel.EXCLUDED


# --- corroboration ----------------------------------------------------------------------------


def test_one_member_warns_but_acts_only_once_a_second_distinct_member_backs_the_same_scope() -> None:
    first = member_alert("m-huber", severity=Severity.HIGH)
    assert effects([first], NOW, corroboration=2) == []
    same_member_again = member_alert("m-huber", alert_id="a-2", severity=Severity.CRITICAL)
    assert effects([first, same_member_again], NOW, corroboration=2) == []
    other_scope = member_alert("m-maier", sku="BOARD")
    assert effects([first, other_scope], NOW, corroboration=2) == []

    second = member_alert("m-maier", severity=Severity.MEDIUM)
    [effect] = effects([first, second], NOW, corroboration=2)
    assert (effect.scope, effect.severity) == (Scope("s-holz"), Severity.HIGH)  # the most severe report
    assert effect.alert_keys == {first.key, second.key}
    assert effective_alerts([effect]) == {first.key, second.key}


def test_a_supplier_about_a_competitor_counts_as_a_warning_not_as_corroboration() -> None:
    rival = alert("s-wald", AlertSource.SUPPLIER, severity=Severity.CRITICAL, trusted=False)
    huber = member_alert("m-huber", severity=Severity.HIGH)
    assert effects([rival, huber], NOW, corroboration=2) == []
    [effect] = effects([rival, huber, member_alert("m-maier", severity=Severity.HIGH)], NOW, corroboration=2)
    assert effect.severity is Severity.HIGH and rival.key not in effect.alert_keys


def test_the_corroboration_threshold_is_configurable() -> None:
    huber = member_alert("m-huber")
    assert len(effects([huber], NOW, corroboration=1)) == 1
    maier = member_alert("m-maier")
    assert effects([huber, maier], NOW, corroboration=3) == []


# --- expiry -----------------------------------------------------------------------------------


def test_an_alert_stops_acting_at_valid_until_and_once_resolved() -> None:
    expiring = alert(valid_until=NOW + timedelta(minutes=5))
    assert effects([expiring], NOW, 2)
    assert effects([expiring], NOW + timedelta(minutes=5), 2) == []
    assert effects([alert(status=AlertStatus.RESOLVED)], NOW, 2) == []
    assert due_to_expire([expiring, alert(alert_id="forever")], NOW + timedelta(minutes=5)) == [expiring]
    assert due_to_expire([alert(status=AlertStatus.RESOLVED, valid_until=NOW)], NOW) == []


def test_an_expired_corroborator_breaks_the_group() -> None:
    huber = member_alert("m-huber", valid_until=NOW + timedelta(seconds=1))
    maier = member_alert("m-maier")
    assert effects([huber, maier], NOW, 2)
    assert effects([huber, maier], NOW + timedelta(seconds=1), 2) == []


# --- severity -> RiskLevel --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "risk"),
    [
        (Severity.CRITICAL, RiskLevel.EXCLUDED),
        (Severity.HIGH, RiskLevel.HIGH),
        (Severity.MEDIUM, RiskLevel.OK),
        (Severity.LOW, RiskLevel.OK),
    ],
)
def test_critical_excludes_high_is_a_last_resort_the_rest_informs(severity: Severity, risk: RiskLevel) -> None:
    assert severity_risk(severity) is risk
    assert risk_level(effects([alert(severity=severity)], NOW, 2), "s-holz", "BOARD", "DE") is risk


def test_the_worst_covering_effect_decides() -> None:
    found = effects([alert(severity=Severity.HIGH), alert(alert_id="a-2", sku="BOARD", supplier_id=None)], NOW, 2)
    assert risk_level(found, "s-holz", "BOARD", "DE") is RiskLevel.EXCLUDED
    assert risk_level(found, "s-holz", "NAIL", "DE") is RiskLevel.HIGH
    assert risk_level(found, "s-wald", "NAIL", "DE") is RiskLevel.OK


def test_a_region_scope_rates_an_offer_for_that_country_only() -> None:
    found = effects([alert(region="AT")], NOW, 2)
    rated = with_risk(offer("s-holz"), "BOARD", found)
    assert (rated.risk, rated.regional_risk) == (RiskLevel.OK, (("AT", RiskLevel.EXCLUDED),))
    assert rated.risk_in("AT") is RiskLevel.EXCLUDED and rated.risk_in("DE") is RiskLevel.OK
    assert with_risk(offer("s-wald"), "BOARD", found) == offer("s-wald")


def test_a_region_wide_critical_alert_leaves_requests_there_without_a_supplier() -> None:
    found = effects([alert(supplier_id=None, region="AT")], NOW, 2)
    offers = [with_risk(offer("s-holz"), "BOARD", found), with_risk(offer("s-wald", "12.00"), "BOARD", found)]
    demands = [
        Demand("de", "m-1", 10, date(2026, 12, 1), "DE"),
        Demand("at", "m-2", 10, date(2026, 12, 1), "AT"),
    ]
    decision = optimize_bundle(offers, demands, order_date=date(2026, 11, 21), max_supplier_share=1, milp_solver=HIGHS)
    assert decision.assignment == {"de": "s-holz", "at": None}
    assert decision.unplaced == {"at": UnplacedReason.NO_ELIGIBLE_SUPPLIER}


def test_a_high_risk_supplier_serves_only_where_nobody_else_can() -> None:
    found = effects([alert(severity=Severity.HIGH)], NOW, 2)
    offers = [
        with_risk(offer("s-holz", "5.00", ("DE", "AT")), "BOARD", found),
        offer("s-wald", "12.00", ("DE",)),
    ]
    demands = [
        Demand("de", "m-1", 10, date(2026, 12, 1), "DE"),
        Demand("at", "m-2", 10, date(2026, 12, 1), "AT"),
    ]
    decision = optimize_bundle(offers, demands, order_date=date(2026, 11, 21), max_supplier_share=1, milp_solver=HIGHS)
    assert decision.assignment == {"de": "s-wald", "at": "s-holz"}


def test_excluded_suppliers_are_those_a_critical_effect_names() -> None:
    found = effects(
        [alert(), alert(alert_id="a-2", supplier_id="s-wald", severity=Severity.HIGH),
         alert(alert_id="a-3", supplier_id=None, sku="BOARD")],
        NOW, 2,
    )
    assert excluded_suppliers(found) == {"s-holz"}


# --- exposure and orders inside a critical scope ----------------------------------------------


HOLDINGS = [
    Holding("m-huber", "r-open", "BOARD", "DE"),
    Holding("m-huber", "r-nail", "NAIL", "DE"),
    Holding("m-maier", "r-placed", "BOARD", "DE", "s-holz", "ord-1"),
    Holding("m-maier", "r-wald", "BOARD", "DE", "s-wald", "ord-2"),
    Holding("m-berg", "r-confirmed", "BOARD", "AT", "s-holz", "ord-3", order_confirmed=True),
    Holding("m-kurz", "r-elsewhere", "BOARD", "PL"),
]


def catalog_supplier(supplier_id: str, *skus: str) -> Supplier:
    items = tuple(CatalogItem(sku, sku, "wood", "piece", 100, 1, (Tier(1, Decimal("1")),)) for sku in skus)
    return Supplier(supplier_id, supplier_id, ("DE", "AT"), 2, secret="s", catalog=items)


serves = serving([catalog_supplier("s-holz", "BOARD"), catalog_supplier("s-wald", "BOARD")])


def test_a_supplier_could_serve_an_open_request_of_a_sku_it_lists_to_a_country_it_ships_to() -> None:
    assert serves("s-holz", "BOARD", "DE") and serves("s-wald", "BOARD", "AT")
    assert not serves("s-holz", "NAIL", "DE")
    assert not serves("s-holz", "BOARD", "PL")
    assert not serves("s-ghost", "BOARD", "DE")


def test_exposed_members_are_those_with_live_requests_inside_the_scope_each_with_its_own_ids() -> None:
    assert exposure(alert(), HOLDINGS, serves) == {
        "m-berg": ("r-confirmed",),
        "m-huber": ("r-open",),  # open, and s-holz could be chosen for it
        "m-maier": ("r-placed",),
    }
    assert exposure(alert(supplier_id=None, region="AT"), HOLDINGS, serves) == {"m-berg": ("r-confirmed",)}
    assert exposure(alert(supplier_id=None, sku="NAIL"), HOLDINGS, serves) == {"m-huber": ("r-nail",)}


def test_the_reporter_is_never_among_the_exposed_of_its_own_alert() -> None:
    reported = member_alert("m-maier")
    assert "m-maier" not in exposure(reported, HOLDINGS, serves)
    assert "m-maier" in exposure(member_alert("m-huber"), HOLDINGS, serves)


def test_critical_scope_cancels_unconfirmed_orders_and_flags_confirmed_ones() -> None:
    critical = effects([alert()], NOW, 2)
    assert orders_at_risk(critical, HOLDINGS) == orders_at_risk(critical, reversed(HOLDINGS))
    at_risk = orders_at_risk(critical, HOLDINGS)
    assert (at_risk.to_cancel, at_risk.to_flag) == (("ord-1",), ("ord-3",))


def test_only_new_critical_effects_call_for_a_sweep() -> None:
    huber, maier = member_alert("m-huber"), member_alert("m-maier")
    before = effects([alert(), huber], NOW, 2)
    after = effects([alert(), huber, maier], NOW, 2)
    [new] = newly_critical(before, after)
    assert new.alert_keys == {huber.key, maier.key}
    assert newly_critical(after, after) == []
    assert newly_critical([], [Effect(Scope("s-holz"), Severity.HIGH, frozenset({"k"}))]) == []


def test_the_alert_key_is_stable_and_does_not_reveal_the_reporter() -> None:
    key = alert_key(AlertSource.MEMBER, "m-huber", "a-1")
    assert key == alert_key(AlertSource.MEMBER, "m-huber", "a-1")
    assert key != alert_key(AlertSource.MEMBER, "m-maier", "a-1")
    assert "huber" not in key and key.startswith("ra-")
