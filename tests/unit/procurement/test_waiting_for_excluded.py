"""A request only excluded suppliers could serve cannot wait for the next close (docs/contract.md
extension 25): it is decided now, told unfulfillable or served from a risk buffer."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from services.procurement.domain.bundling import Offer, RiskLevel, Tier
from services.procurement.domain.demand import OpenRequest, can_wait_for

TODAY = date(2026, 12, 6)
OFFER = Offer("s-holz", frozenset({"DE", "AT"}), 3, 1000, 1, (Tier(1, Decimal("10.00")),))
REQUEST = OpenRequest("m-huber", "r-1", "BOARD-18MM", 10, TODAY + timedelta(days=30), "DE")


def test_a_request_can_wait_while_a_supplier_that_is_not_excluded_serves_its_country():
    assert can_wait_for(REQUEST, [OFFER], TODAY + timedelta(days=1))
    assert can_wait_for(REQUEST, [OFFER, replace(OFFER, supplier_id="s-wald", risk=RiskLevel.EXCLUDED)], TODAY)
    assert can_wait_for(REQUEST, [replace(OFFER, risk=RiskLevel.HIGH)], TODAY)  # a last resort still serves


def test_a_request_only_excluded_suppliers_serve_cannot_wait():
    assert not can_wait_for(REQUEST, [replace(OFFER, risk=RiskLevel.EXCLUDED)], TODAY)
    excluded_in_germany = replace(OFFER, regional_risk=(("DE", RiskLevel.EXCLUDED),))
    assert not can_wait_for(REQUEST, [excluded_in_germany], TODAY)
    assert can_wait_for(replace(REQUEST, country="AT"), [excluded_in_germany], TODAY)
