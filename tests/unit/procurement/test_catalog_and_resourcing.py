"""Suppliers' secrets and catalogs, and the choice of supplier when an order is re-sourced."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.procurement.adapters.highs import HIGHS
from services.procurement.domain.bundling import Tier, UnplacedReason, optimize_bundle
from services.procurement.domain.catalog import (
    CatalogConflict,
    CatalogItem,
    Supplier,
    check_consistent,
    offers_by_sku,
)
from services.procurement.domain.demand import OpenRequest
from services.procurement.domain.resourcing import resourcing_offers

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def item(sku: str = "BOARD-18MM", price: str = "10.00", capacity: int = 1000, category: str = "wood") -> CatalogItem:
    return CatalogItem(sku, f"Item {sku}", category, "piece", capacity, 1, (Tier(1, Decimal(price)),))


def supplier(supplier_id: str, *items: CatalogItem, lead_time_days: int = 3) -> Supplier:
    return Supplier(supplier_id, f"{supplier_id} AG", ("DE",), lead_time_days, f"{supplier_id}-secret",
                    catalog=items or (item(),))


def test_a_rotated_secret_keeps_verifying_during_the_grace_period_only():
    rotated = supplier("s-1").rotated("new-secret", NOW, timedelta(hours=1))
    assert rotated.verification_secrets(NOW) == ["new-secret", "s-1-secret"]
    assert rotated.verification_secrets(NOW + timedelta(hours=2)) == ["new-secret"]
    assert supplier("s-1").rotated("s-1-secret", NOW, timedelta(hours=1)) == supplier("s-1")


def test_the_secret_never_shows_in_a_repr():
    assert "s-1-secret" not in repr(supplier("s-1").rotated("new-secret", NOW, timedelta(hours=1)))


def test_a_sku_keeps_one_category_across_suppliers():
    check_consistent(supplier("s-2", item(category="wood")), [supplier("s-1")])
    with pytest.raises(CatalogConflict, match="category 'metal' differs from 'wood'"):
        check_consistent(supplier("s-2", item(category="metal")), [supplier("s-1")])
    check_consistent(supplier("s-1", item(category="metal")), [supplier("s-1")])  # its own old listing


def test_offers_by_sku_lists_every_supplier_of_a_sku():
    offers = offers_by_sku([supplier("s-2", item("A"), item("B")), supplier("s-1", item("A"))])
    assert [o.supplier_id for o in offers["A"]] == ["s-1", "s-2"]
    assert [o.supplier_id for o in offers["B"]] == ["s-2"]


def test_resourcing_excludes_the_rejecting_supplier_and_counts_capacity_already_ordered():
    suppliers = [
        supplier("s-reject", item(price="8.00")),
        supplier("s-full", item(price="8.50", capacity=100)),
        supplier("s-next", item(price="9.00", capacity=500)),
    ]
    offers = resourcing_offers(suppliers, "BOARD-18MM", {"s-reject"}, {"s-full": 100, "s-next": 200})
    assert [(o.supplier_id, o.capacity_per_cycle) for o in offers] == [("s-next", 300)]
    assert resourcing_offers(suppliers, "OTHER-SKU", set(), {}) == []


def test_a_rejected_request_goes_to_the_cheapest_remaining_supplier():
    suppliers = [
        supplier("s-reject", item(price="8.00")),
        supplier("s-dear", item(price="9.50")),
        supplier("s-next", item(price="9.00")),
    ]
    request = OpenRequest("m-huber", "r-1", "BOARD-18MM", 40, date(2026, 12, 31), "DE")
    offers = resourcing_offers(suppliers, "BOARD-18MM", {"s-reject"}, {})
    decision = optimize_bundle(offers, [request.demand()], order_date=NOW.date(), max_supplier_share=0.7,
                               milp_solver=HIGHS)
    assert decision.placements[request.key].supplier_id == "s-next"
    assert decision.placements[request.key].unit_price == Decimal("9.00")


def test_a_rejected_request_nobody_else_can_deliver_in_time_is_unplaced():
    suppliers = [supplier("s-reject"), supplier("s-slow", lead_time_days=30)]
    request = OpenRequest("m-huber", "r-1", "BOARD-18MM", 40, NOW.date() + timedelta(days=5), "DE")
    offers = resourcing_offers(suppliers, "BOARD-18MM", {"s-reject"}, {})
    decision = optimize_bundle(offers, [request.demand()], order_date=NOW.date(), max_supplier_share=0.7,
                               milp_solver=HIGHS)
    assert decision.unplaced == {request.key: UnplacedReason.NO_ELIGIBLE_SUPPLIER}
