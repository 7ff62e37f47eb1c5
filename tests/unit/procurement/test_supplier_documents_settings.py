"""A supplier's `documents` setting end to end in procurement: the seed's and the admin API's
supplier entry carries it with its ids, a bad value is refused naming the field, and an XML
supplier needs the alliance's own party (the buyer of its orders)."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from services.members.service_layer.registry import member_from_seed
from services.procurement.entrypoints.http import admin_router
from services.procurement.service_layer.catalog import alliance_from_seed, supplier_from_seed
from shared import seed
from shared.documents.standards import Standard
from shared.http import create_app
from tests.support.fake_procurement import FakeProcurementUnitOfWork

SUPPLIER = {"id": "s-holz", "name": "Holz AG", "secret": "s3cret-XYZ", "regions": ["DE"], "lead_time_days": 2}
XML = {"documents": "peppol-bis3", "peppol_id": "0088:4012345000009", "vat_id": "DE987654321"}
ALLIANCE = {"name": "Einkaufsverbund Nord eG", "peppol_id": "0088:4000001000005", "vat_id": "DE123456789",
            "address": {"street": "Hafenstraße 1", "city": "Hamburg", "postal_code": "20457", "country": "DE"}}


async def _healthy() -> dict[str, bool]:
    return {"ok": True}


def _admin(uow: FakeProcurementUnitOfWork) -> TestClient:
    async def ensure_topic(_: str) -> None:
        return None

    router = admin_router(lambda: uow, None, timedelta(days=1), ensure_topic, None)
    app = create_app("procurement", _healthy, SecretStr("t0ken"), [router])
    return TestClient(app, base_url="http://test/admin", headers={"Authorization": "Bearer t0ken"})


def test_the_seed_entry_carries_the_standard_and_the_ids():
    supplier = supplier_from_seed(seed.Supplier.model_validate(SUPPLIER | XML))
    assert (supplier.documents, supplier.peppol_id, supplier.vat_id) == (
        Standard.PEPPOL_BIS3, "0088:4012345000009", "DE987654321"
    )
    assert supplier.party.address.country == "DE" and supplier.party.party_id == "s-holz"
    assert supplier_from_seed(seed.Supplier.model_validate(SUPPLIER)).documents is Standard.CLOUDEVENTS
    alliance = alliance_from_seed(seed.AllianceParty.model_validate(ALLIANCE))
    assert (alliance.party_id, alliance.address.city, alliance.peppol_id) == ("alliance", "Hamburg", "0088:4000001000005")


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"documents": "ubl"}, "body.documents", "'cloudevents', 'peppol-bis3' or 'opentrans-2.1'"),
    ({"documents": "opentrans-2.1"}, "body", "documents: opentrans-2.1 needs the supplier's peppol_id and vat_id"),
    (XML | {"peppol_id": "0088:4012345000008"}, "body.peppol_id", "valid check digit"),
    (XML | {"vat_id": "987654321"}, "body.vat_id", "String should match pattern"),
    (XML | {"documents": "opentrans-2.1", "catalog": [{
        "sku": "BIRCH-PLYWOOD-18MM-2500X1250-GRADE-BB", "name": "Birch plywood", "category": "wood", "unit": "sheet",
        "capacity_per_cycle": 100, "tiers": [{"min_quantity": 1, "unit_price": "30.00"}]}]},
     "body", "SUPPLIER_PID, at most 32 characters"),
])
def test_a_bad_setting_is_refused_naming_the_field(change, field, says):
    answer = _admin(FakeProcurementUnitOfWork()).put("/suppliers/s-holz", json=SUPPLIER | change)
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == [field] and says in answer.text


def test_an_xml_supplier_needs_the_alliance_party_and_is_then_stored_with_its_ids():
    uow = FakeProcurementUnitOfWork()
    admin = _admin(uow)
    refused = admin.put("/suppliers/s-holz", json=SUPPLIER | XML)
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "body.documents"
    assert "alliance" in refused.json()["detail"] and not uow.tables.suppliers

    uow.parties.alliance_party = alliance_from_seed(seed.AllianceParty.model_validate(ALLIANCE))
    saved = admin.put("/suppliers/s-holz", json=SUPPLIER | XML)
    assert saved.status_code == 200, saved.text
    view = saved.json()["supplier"]
    assert (view["documents"], view["peppol_id"], view["vat_id"]) == ("peppol-bis3", "0088:4012345000009", "DE987654321")
    assert uow.tables.suppliers["s-holz"].documents is Standard.PEPPOL_BIS3


def test_a_members_document_ids_travel_from_its_entry_to_procurements_delivery_parties():
    entry = seed.Member.model_validate({"id": "m-huber", "name": "Schreinerei Huber GmbH", "erp_secret": "s3cret",
                                        "email": "einkauf@huber.example", "region": "DE",
                                        "peppol_id": "0088:4000001000012", "vat_id": "DE111111111"})
    profile = member_from_seed(entry).profile(None)
    assert (profile.peppol_id, profile.vat_id) == ("0088:4000001000012", "DE111111111")
