"""Fuzzing the contract's models (shared/contract.py): whatever the data of an event, validating
it gives the model or raises pydantic's `ValidationError` (which the consumers turn into a
rejection or a dead letter). Inputs are arbitrary JSON and valid documents with a few fields
replaced or dropped, so the validators deep inside are reached too."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from shared.contract import INBOUND_DATA, NOTICE_DATA, SUPPLIER_ORDER_DATA, CloudEvent, JointOrderPlaced

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=15,
)
field_values = (
    json_values
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.from_regex(r"\d{1,12}(\.\d{1,4})?", fullmatch=True)
    | st.dates().map(str)
    | st.text(alphabet="0123456789-T:.Z+", max_size=30)
)
SHIP_TO = {"site": "Werkstatt", "postal_code": "80939", "country": "DE"}
LINE = {"line_id": "ord-1-1", "sku": "BOARD-18MM", "quantity": 110, "unit_price": "9.00",
        "deliveries": [{"member_id": "m-huber", "ship_to": SHIP_TO, "quantity": 110, "needed_by": "2027-01-15"}]}
VALID: dict[str, dict[str, Any]] = {
    "PurchaseRequestSubmitted": {"request_id": "r-1", "member_id": "m-huber", "sku": "BOARD-18MM", "quantity": 60,
                                 "needed_by": "2027-01-15", "max_unit_price": "9.50", "ship_to": SHIP_TO},
    "PurchaseRequestCancelled": {"request_id": "r-1", "member_id": "m-huber"},
    "JointOrderConfirmed": {"order_id": "ord-1", "supplier_id": "s-holz", "expected_delivery": "2027-01-10"},
    "JointOrderRejected": {"order_id": "ord-1", "supplier_id": "s-holz", "reason": "sold out"},
    "RiskAlertRaised": {"alert_id": "a-1", "supplier_id": "s-holz", "sku": "BOARD-18MM", "region": "DE",
                        "kind": "insolvency", "severity": "critical", "summary": "filed for insolvency",
                        "valid_until": "2027-01-01T00:00:00Z"},
    "RiskAlertResolved": {"alert_id": "a-1"},
    "JointOrderPlaced": {"order_id": "ord-1", "supplier_id": "s-holz", "cycle_id": "cycle-1", "currency": "EUR",
                         "total": "990.00", "lines": [LINE]},
    "JointOrderCancelled": {"order_id": "ord-1", "supplier_id": "s-holz", "reason": "critical alert"},
    "PurchaseRequestAccepted": {"request_id": "r-1"},
    "PurchaseRequestRejected": {"request_id": "r-1", "reason": "unknown_sku", "detail": "not sold"},
    "PurchaseRequestOrdered": {"request_id": "r-1", "order_id": "ord-1", "supplier_id": "s-holz", "quantity": 60,
                               "unit_price": "9.00", "standalone_unit_price": "10.00", "savings": "60.00"},
    "PurchaseRequestConfirmed": {"request_id": "r-1", "order_id": "ord-1", "expected_delivery": "2027-01-10"},
    "PurchaseRequestResourced": {"request_id": "r-1", "from_supplier_id": "s-holz", "to_supplier_id": "s-wald",
                                 "order_id": "ord-2", "unit_price": "9.50", "reason": "supplier_rejected_order"},
    "PurchaseRequestUnfulfillable": {"request_id": "r-1", "reason": "capacity"},
    "PurchaseRequestWithdrawn": {"request_id": "r-1"},
    "RiskAlertNotice": {"alert_id": "ra-1", "kind": "insolvency", "severity": "critical", "supplier_id": "s-holz",
                        "summary": "filed", "affected_request_ids": ["r-1"], "status": "raised"},
    "JointOrderAnswered": {"order_id": "ord-1", "supplier_id": "s-holz", "lines": [
        {"line_id": "ord-1-1", "status": "partial", "quantity": 80, "expected_delivery": "2027-01-10",
         "reason": "short of stock"}]},
    "JointOrderDispatched": {"order_id": "ord-1", "supplier_id": "s-holz", "dispatch_id": "dsp-1",
                             "shipped_on": "2027-01-08", "expected_arrival": "2027-01-10", "carrier": "DHL",
                             "tracking_id": "JD0001", "deliveries": [{"delivery_id": "ord-1-1-a1", "quantity": 60}]},
    "PurchaseRequestReceived": {"request_id": "r-1", "member_id": "m-huber", "receipt_id": "gr-1",
                                "received_on": "2027-01-10", "quantity_accepted": 55, "quantity_rejected": 5,
                                "reason": "damaged", "note": "two pallets crushed"},
    "JointOrderDiscrepancy": {"order_id": "ord-1", "supplier_id": "s-holz", "delivery_id": "ord-1-1-a1",
                              "quantity_rejected": 0, "quantity_missing": 5, "reason": "missing"},
    "PurchaseRequestDispatched": {"request_id": "r-1", "order_id": "ord-1", "quantity": 60,
                                  "shipped_on": "2027-01-08", "expected_arrival": "2027-01-10"},
    "PurchaseRequestCompleted": {"request_id": "r-1", "quantity": 60},
    "PurchaseRequestServedFromBuffer": {"request_id": "r-1", "quantity": 40, "unit_price": "9.125",
                                        "warehouse": "Zentrallager Nord"},
    "RiskBufferStatement": {"sku": "BOARD-18MM", "period": "cycle-11/cycle-20", "cost_share": "12.34",
                            "standalone_cost": "20.00", "savings": "7.66", "on_hand": 1250, "drawn": 40},
    "CloudEvent": {"specversion": "1.0", "id": "e-1", "source": "erp", "type": "purchase_request.submitted",
                   "time": "2026-11-21T10:00:00Z", "datacontenttype": "application/json", "data": {}},
}
MODELS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in [*INBOUND_DATA.values(), *SUPPLIER_ORDER_DATA.values(), *NOTICE_DATA.values(), CloudEvent]
}


def validates_or_refuses(model: type[BaseModel], data: Any) -> None:
    """The model, or ValidationError: nothing else may come out of a consumer's validation."""
    try:
        model.model_validate(data)
    except ValidationError:
        pass


@st.composite
def mutations(draw: st.DrawFn, valid: dict[str, Any]) -> dict[str, Any]:
    document = dict(valid)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from([*sorted(document), "unknown_field"]))
        if draw(st.booleans()):
            document.pop(name, None)
        elif name == "lines":
            document[name] = draw(st.lists(mutations(LINE), max_size=3))
        else:
            document[name] = draw(field_values)
    return document


def test_every_contract_model_has_a_valid_example() -> None:
    assert set(MODELS) == set(VALID)
    for name, model in MODELS.items():
        model.model_validate(VALID[name])


@pytest.mark.parametrize("name", sorted(VALID))
@given(data=st.data())
def test_mutated_documents_validate_or_are_refused(name: str, data: st.DataObject) -> None:
    validates_or_refuses(MODELS[name], data.draw(mutations(VALID[name])))


@pytest.mark.parametrize("name", sorted(VALID))
@given(document=json_values)
def test_arbitrary_json_validates_or_is_refused(name: str, document: Any) -> None:
    validates_or_refuses(MODELS[name], document)


@given(st.integers(1, 10**40), st.from_regex(r"\d{1,12}(\.\d{1,4})?", fullmatch=True))
@example(quantity=10**30, unit_price="999999999999.9999")
def test_an_order_line_of_any_size_validates_or_is_refused(quantity: int, unit_price: str) -> None:
    """An order's total is checked against its lines in Decimal arithmetic; a line too large for
    the Decimal context must be a validation error, not `decimal.InvalidOperation`."""
    line = {**LINE, "quantity": quantity, "unit_price": unit_price}
    validates_or_refuses(JointOrderPlaced, {**VALID["JointOrderPlaced"], "lines": [line]})
