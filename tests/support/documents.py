"""What the document tests share: the standards kit (read where it lies, beside the project),
the parties of an order, random joint orders, PEPPOL's Order rules as the alliance implements
them, and documents written as a PEPPOL supplier would write them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from lxml import etree

from shared.contract import JointOrderPlaced, to_cents
from shared.documents.parties import ALLIANCE_MEMBER_ID, Address, OrderParties, Party
from shared.documents.schemas import SchemaKit

STANDARDS = Path(__file__).resolve().parents[2].parent / "shared" / "standards"
"""The conformance kit (OASIS UBL 2.1 and openTRANS 2.1 schemas and samples), never copied in."""
ISSUED = date(2026, 11, 21)


def standards_kit() -> SchemaKit:
    if not STANDARDS.is_dir():
        pytest.skip(f"{STANDARDS} is absent: the UBL 2.1 and openTRANS 2.1 schemas and samples live there")
    return SchemaKit(STANDARDS)


ALLIANCE = Party(
    "alliance", "Einkaufsverbund Nord eG", Address("DE", "Hafenstraße 1", "Hamburg", "20457"),
    "0088:4000001000005", "DE123456789",
)
SUPPLIER = Party("s-holz", "Holz AG", Address("DE"), "0088:4012345000009", "DE987654321")
MEMBERS = {
    "m-huber": Party("m-huber", "Schreinerei Huber GmbH", Address("DE"), "0088:4000001000012", "DE111111111"),
    "m-vogel": Party("m-vogel", "Metallbau Vogel & Söhne <KG>", Address("AT"), "9914:ATU12345678"),
    "m-kern": Party("m-kern", "Tischlerei Kern", Address("DE")),
}
PARTIES = OrderParties(ALLIANCE, SUPPLIER, MEMBERS)


# --- random joint orders ----------------------------------------------------------------------

_prices = st.integers(min_value=1, max_value=50_000_000).map(
    lambda units: Decimal(format(Decimal(units).scaleb(-4).normalize(), "f"))
)
"""0.0001 to 5000.0000, written with as many decimals as they need (9.5, 0.125, 12)."""
_sites = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40
).filter(lambda s: s.strip())
_ship_to = st.none() | st.fixed_dictionaries({
    "site": _sites, "postal_code": st.from_regex(r"[0-9]{5}", fullmatch=True), "country": st.sampled_from(["DE", "AT"]),
})


@st.composite
def joint_orders(draw: st.DrawFn, max_lines: int = 8, max_deliveries: int = 8) -> JointOrderPlaced:
    """Many lines, many deliveries, odd quantities, unit prices down to 1/100 of a cent."""
    order_id = f"ord-{draw(st.integers(min_value=1, max_value=10**6))}"
    lines = []
    for number in range(1, draw(st.integers(min_value=1, max_value=max_lines)) + 1):
        line_id = f"{order_id}-{number}"
        deliveries = [
            {
                "member_id": draw(st.sampled_from([*MEMBERS, ALLIANCE_MEMBER_ID])),
                "ship_to": draw(_ship_to),
                "quantity": draw(st.integers(min_value=1, max_value=1_000_000)),
                "needed_by": (ISSUED + timedelta(days=draw(st.integers(min_value=1, max_value=90)))).isoformat(),
                "delivery_id": f"{line_id}-{index:012x}",
            }
            for index in range(draw(st.integers(min_value=1, max_value=max_deliveries)))
        ]
        price = draw(_prices)
        lines.append({
            "line_id": line_id, "sku": draw(st.sampled_from(["BOARD-18MM", "SCREW-4x40", "GLUE&CO"])),
            "quantity": sum(d["quantity"] for d in deliveries), "unit_price": str(price), "deliveries": deliveries,
        })
    total = sum((Decimal(line["unit_price"]) * line["quantity"] for line in lines), Decimal(0))
    return JointOrderPlaced.model_validate({
        "order_id": order_id, "supplier_id": SUPPLIER.party_id, "cycle_id": "cycle-42",
        "total": str(to_cents(total)), "lines": lines,
    })


def order_of(*lines: tuple[str, Iterable[int]], price: str = "9.125") -> JointOrderPlaced:
    """An order whose lines (line number suffix, delivery quantities) have deliveries `d1`, `d2`, ..."""
    built = []
    for suffix, quantities in lines:
        line_id = f"ord-7-{suffix}"
        deliveries = [
            {"member_id": member, "ship_to": None, "quantity": quantity, "needed_by": "2026-12-20",
             "delivery_id": f"{line_id}-d{index + 1}"}
            for index, (member, quantity) in enumerate(zip(MEMBERS, quantities, strict=False))
        ]
        built.append({"line_id": line_id, "sku": "BOARD-18MM", "quantity": sum(quantities), "unit_price": price,
                      "deliveries": deliveries})
    total = sum((Decimal(price) * line["quantity"] for line in built), Decimal(0))
    return JointOrderPlaced.model_validate({
        "order_id": "ord-7", "supplier_id": "s-holz", "cycle_id": "cycle-42", "total": str(to_cents(total)),
        "lines": built,
    })


# --- PEPPOL BIS 3 Order rules (T01), as docs/suppliers.md lists them ------------------------

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
_PREFIX = {CBC: "cbc", CAC: "cac"}
EAS = {
    "0002", "0007", "0009", "0037", "0060", "0088", "0096", "0097", "0106", "0130", "0135", "0142", "0151",
    "0183", "0184", "0188", "0190", "0191", "0192", "0193", "0195", "0196", "0198", "0199", "0200", "0201",
    "0202", "0204", "0208", "0209", "0210", "0211", "0212", "0213", "0215", "0216", "0221", "0230", "9901",
    "9910", "9913", "9914", "9915", "9918", "9919", "9920", "9922", "9923", "9924", "9925", "9926", "9927",
    "9928", "9929", "9930", "9931", "9932", "9933", "9934", "9935", "9936", "9937", "9938", "9939", "9940",
    "9941", "9942", "9943", "9944", "9945", "9946", "9947", "9948", "9949", "9950", "9951", "9952", "9953",
    "9957", "9959"
}
_PARTY = {"cbc:EndpointID", "cac:PartyIdentification", "cac:PartyIdentification/cbc:ID", "cac:PartyName",
          "cac:PartyName/cbc:Name", "cac:PostalAddress", "cac:PartyTaxScheme", "cac:PartyTaxScheme/cbc:CompanyID",
          "cac:PartyTaxScheme/cac:TaxScheme", "cac:PartyTaxScheme/cac:TaxScheme/cbc:ID", "cac:PartyLegalEntity",
          "cac:PartyLegalEntity/cbc:RegistrationName"}
_ADDRESS = {"cbc:StreetName", "cbc:CityName", "cbc:PostalZone", "cac:Country", "cac:Country/cbc:IdentificationCode"}
_ALLOWED = {
    "cbc:CustomizationID", "cbc:ProfileID", "cbc:ID", "cbc:IssueDate", "cbc:DocumentCurrencyCode",
    "cbc:CustomerReference", "cac:BuyerCustomerParty", "cac:BuyerCustomerParty/cac:Party", "cac:SellerSupplierParty",
    "cac:SellerSupplierParty/cac:Party", "cac:Delivery", "cac:Delivery/cac:DeliveryLocation",
    "cac:Delivery/cac:DeliveryLocation/cac:Address", "cac:Delivery/cac:DeliveryParty",
    "cac:Delivery/cac:DeliveryParty/cac:PartyIdentification", "cac:Delivery/cac:DeliveryParty/cac:PartyIdentification/cbc:ID",
    "cac:Delivery/cac:DeliveryParty/cac:PartyName", "cac:Delivery/cac:DeliveryParty/cac:PartyName/cbc:Name",
    "cac:AnticipatedMonetaryTotal", "cac:OrderLine", "cac:OrderLine/cbc:Note", "cac:OrderLine/cac:LineItem",
    *(f"cac:{role}/cac:Party/{path}" for role in ("BuyerCustomerParty", "SellerSupplierParty") for path in _PARTY),
    *(f"cac:{role}/cac:Party/cac:PostalAddress/{path}" for role in ("BuyerCustomerParty", "SellerSupplierParty")
      for path in _ADDRESS),
    *(f"cac:Delivery/cac:DeliveryLocation/cac:Address/{path}" for path in _ADDRESS),
    *(f"cac:AnticipatedMonetaryTotal/cbc:{name}Amount" for name in (
        "LineExtension", "TaxExclusive", "TaxInclusive", "PayableRounding", "Payable")),
    *(f"cac:OrderLine/cac:LineItem/{path}" for path in (
        "cbc:ID", "cbc:Quantity", "cbc:LineExtensionAmount", "cbc:AccountingCost", "cac:Delivery",
        "cac:Delivery/cac:RequestedDeliveryPeriod", "cac:Delivery/cac:RequestedDeliveryPeriod/cbc:EndDate",
        "cac:OriginatorParty", "cac:OriginatorParty/cac:PartyIdentification",
        "cac:OriginatorParty/cac:PartyIdentification/cbc:ID", "cac:OriginatorParty/cac:PartyName",
        "cac:OriginatorParty/cac:PartyName/cbc:Name", "cac:Price", "cac:Price/cbc:PriceAmount", "cac:Item",
        "cac:Item/cbc:Name", "cac:Item/cac:SellersItemIdentification", "cac:Item/cac:SellersItemIdentification/cbc:ID",
    )),
}
"""The T01 data model's paths among those the alliance writes (PEPPOL-T01-B...: "Document MUST
NOT contain elements not part of the data model")."""
_COUNTRIES = {
    "AD", "AE", "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "GB", "HR", "HU",
    "IE", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK"
}


def _gln_ok(value: str) -> bool:
    digits = [int(d) for d in value]
    weighted = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - weighted % 10) % 10 == digits[-1]


def _path(element: etree._Element, root: etree._Element) -> str:
    parts = []
    while element is not root:
        qname = etree.QName(element)
        parts.append(f"{_PREFIX[qname.namespace]}:{qname.localname}")
        element = element.getparent()
    return "/".join(reversed(parts))


def peppol_order_violations(root: etree._Element) -> list[str]:
    """Which of PEPPOL BIS 3's Order (T01) rules the document breaks, by rule id."""
    found: list[str] = []

    def check(rule: str, ok: Any, what: object = "") -> None:
        if not ok:
            found.append(f"{rule} {what}".strip())

    ns = {"cbc": CBC, "cac": CAC}
    text = lambda path, at=root: at.findtext(path, namespaces=ns)
    for number, required in enumerate(("cbc:CustomizationID", "cbc:ProfileID", "cbc:ID", "cbc:IssueDate",
                                       "cbc:DocumentCurrencyCode", "cac:BuyerCustomerParty",
                                       "cac:SellerSupplierParty", "cac:OrderLine"), start=1):
        check(f"PEPPOL-T01-B0010{number}", root.find(required, ns) is not None)
    check("PEPPOL-T01-B00201", text("cbc:CustomizationID") == "urn:fdc:peppol.eu:poacc:trns:order:3")
    check("PEPPOL-T01-R031", text("cbc:ProfileID") in (
        "urn:fdc:peppol.eu:poacc:bis:order_only:3", "urn:fdc:peppol.eu:poacc:bis:ordering:3"))
    currency = text("cbc:DocumentCurrencyCode")
    for element in root.iter():
        path = _path(element, root) if element is not root else ""
        if element is root:
            continue
        check("PEPPOL-T01-B*(data model)", path in _ALLOWED, path)
        if len(element):
            continue
        check("PEPPOL-COMMON-R001", (element.text or "").strip(), path)
        local = etree.QName(element).localname
        if local in ("IssueDate", "StartDate", "EndDate"):
            check("PEPPOL-COMMON-R030", len(element.text) == 10 and date.fromisoformat(element.text), path)
        if element.get("currencyID") is not None:
            check("PEPPOL-T01-R003", element.get("currencyID") == currency, path)
            if "cac:Price" not in path:
                check("PEPPOL-T01-R028", len(element.text.partition(".")[2]) <= 2, f"{path}={element.text}")
        if local in ("EndpointID",) or path.endswith("PartyIdentification/cbc:ID"):
            scheme = element.get("schemeID")
            if local != "EndpointID":
                check("PEPPOL-T01-B03701/B16301/B22801", scheme is None or scheme.startswith("0"), f"{path}: {scheme}")
            if local == "EndpointID":
                check("PEPPOL-T01-B03401/B06901", scheme, path)
                check("PEPPOL-T01-B03402/B06902", scheme in EAS, f"{path} schemeID={scheme}")
            if scheme == "0088":
                check("PEPPOL-COMMON-R040", element.text.isdigit() and _gln_ok(element.text), f"{path}={element.text}")
    for party in ("cac:BuyerCustomerParty/cac:Party", "cac:SellerSupplierParty/cac:Party"):
        check("PEPPOL-T01-B03301/B06801", root.find(f"{party}/cbc:EndpointID", ns) is not None, party)
        check("PEPPOL-T01-B03302/B06803", text(f"{party}/cac:PartyLegalEntity/cbc:RegistrationName"), party)
        check("PEPPOL-T01-B06802/B04101", text(f"{party}/cac:PostalAddress/cac:Country/cbc:IdentificationCode"), party)
        for scheme in root.iterfind(f"{party}/cac:PartyTaxScheme", ns):
            check("PEPPOL-T01-B05401", text("cac:TaxScheme/cbc:ID", scheme) == "VAT", party)
            check("PEPPOL-T01-R026", (text("cbc:CompanyID", scheme) or "")[:2] in _COUNTRIES, party)
    if root.find("cac:Delivery/cac:DeliveryParty", ns) is not None:
        check("PEPPOL-T01-B16101", text("cac:Delivery/cac:DeliveryParty/cac:PartyName/cbc:Name"))
    line_ids: list[str] = []
    line_sum = Decimal(0)
    for item in root.iterfind("cac:OrderLine/cac:LineItem", ns):
        line_ids.append(text("cbc:ID", item))
        check("PEPPOL-T01-B21402", item.find("cbc:Quantity", ns) is not None, line_ids[-1])
        check("PEPPOL-T01-B21601", item.find("cbc:Quantity", ns).get("unitCode"), line_ids[-1])
        check("PEPPOL-T01-B21403/B25201", text("cac:Item/cbc:Name", item), line_ids[-1])
        check("PEPPOL-T01-B22201", item.find("cac:Delivery/cac:RequestedDeliveryPeriod", ns) is not None, line_ids[-1])
        quantity = Decimal(text("cbc:Quantity", item))
        price = Decimal(text("cac:Price/cbc:PriceAmount", item))
        amount = Decimal(text("cbc:LineExtensionAmount", item))
        check("PEPPOL-T01-R004", quantity >= 0, line_ids[-1])
        check("PEPPOL-T01-R005", price >= 0, line_ids[-1])
        check("PEPPOL-T01-R024", abs(amount - quantity * price) <= Decimal("0.02"), f"{line_ids[-1]}: {amount}")
        line_sum += amount
    check("PEPPOL-T01-R001", len(line_ids) == len(set(line_ids)))
    totals = "cac:AnticipatedMonetaryTotal/cbc:"
    line_total = Decimal(text(totals + "LineExtensionAmount"))
    payable = Decimal(text(totals + "PayableAmount"))
    rounding = Decimal(text(totals + "PayableRoundingAmount") or 0)
    check("PEPPOL-T01-B19501/B19502", line_total is not None and payable is not None)
    check("PEPPOL-T01-R006", payable >= 0)
    check("PEPPOL-T01-R007", line_total >= 0)
    check("PEPPOL-T01-R008", line_total == line_sum.quantize(Decimal("0.01")), f"{line_total} != {line_sum}")
    check("PEPPOL-T01-R011", Decimal(text(totals + "TaxExclusiveAmount")) == line_total)
    check("PEPPOL-T01-R016", payable == Decimal(text(totals + "TaxInclusiveAmount")) + rounding)
    return found


# --- documents as a PEPPOL supplier writes them (in the shape of OpenPeppol's examples) --------

_UBL_HEAD = (
    'xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2" '
    'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"'
)
SELLER_PARTY = """<cac:Party>
      <cbc:EndpointID schemeID="0088">4012345000009</cbc:EndpointID>
      <cac:PartyIdentification><cbc:ID schemeID="0088">4012345000009</cbc:ID></cac:PartyIdentification>
      <cac:PartyLegalEntity><cbc:RegistrationName>Holz AG</cbc:RegistrationName></cac:PartyLegalEntity>
    </cac:Party>"""
BUYER_PARTY = """<cac:Party>
      <cbc:EndpointID schemeID="0088">4000001000005</cbc:EndpointID>
      <cac:PartyIdentification><cbc:ID schemeID="0088">4000001000005</cbc:ID></cac:PartyIdentification>
      <cac:PartyLegalEntity><cbc:RegistrationName>Einkaufsverbund Nord eG</cbc:RegistrationName></cac:PartyLegalEntity>
    </cac:Party>"""


def peppol_order_response(
    order_id: str, code: str, lines: Iterable[str] = (), *, note: str | None = None, promised: str | None = None,
    seller: str = SELLER_PARTY,
) -> str:
    """A T76 Order Response; `lines` are `peppol_response_line(...)`s."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<OrderResponse xmlns="urn:oasis:names:specification:ubl:schema:xsd:OrderResponse-2" {_UBL_HEAD}>
  <cbc:CustomizationID>urn:fdc:peppol.eu:poacc:trns:order_response:3</cbc:CustomizationID>
  <cbc:ProfileID>urn:fdc:peppol.eu:poacc:bis:ordering:3</cbc:ProfileID>
  <cbc:ID>resp-{order_id}</cbc:ID>
  <cbc:IssueDate>2026-11-22</cbc:IssueDate>
  <cbc:IssueTime>09:15:00</cbc:IssueTime>
  <cbc:OrderResponseCode>{code}</cbc:OrderResponseCode>
  {f"<cbc:Note>{note}</cbc:Note>" if note else ""}
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cac:OrderReference><cbc:ID>{order_id}</cbc:ID></cac:OrderReference>
  <cac:SellerSupplierParty>{seller}</cac:SellerSupplierParty>
  <cac:BuyerCustomerParty>{BUYER_PARTY}</cac:BuyerCustomerParty>
  {f"<cac:Delivery><cac:PromisedDeliveryPeriod><cbc:EndDate>{promised}</cbc:EndDate></cac:PromisedDeliveryPeriod></cac:Delivery>" if promised else ""}
  {"".join(lines)}
</OrderResponse>"""


def peppol_response_line(
    delivery_id: str, status: str, quantity: int | None = None, *, promised: str | None = None, note: str | None = None
) -> str:
    return f"""
  <cac:OrderLine>
    <cac:LineItem>
      <cbc:ID>{delivery_id}</cbc:ID>
      {f"<cbc:Note>{note}</cbc:Note>" if note else ""}
      <cbc:LineStatusCode>{status}</cbc:LineStatusCode>
      {f'<cbc:Quantity unitCode="C62">{quantity}</cbc:Quantity>' if quantity is not None else ""}
      {f"<cac:Delivery><cac:PromisedDeliveryPeriod><cbc:StartDate>{promised}</cbc:StartDate><cbc:EndDate>{promised}</cbc:EndDate></cac:PromisedDeliveryPeriod></cac:Delivery>" if promised else ""}
      <cac:Item><cbc:Name>Birch plywood 18 mm</cbc:Name></cac:Item>
    </cac:LineItem>
    <cac:OrderLineReference><cbc:LineID>{delivery_id}</cbc:LineID></cac:OrderLineReference>
  </cac:OrderLine>"""


def peppol_despatch_advice(order_id: str, dispatch_id: str, lines: Iterable[tuple[str, int]], *,
                           arrival: str | None = "2026-12-04", seller: str = SELLER_PARTY) -> str:
    """A T16 Despatch Advice shipping (delivery_id, quantity) lines of one order."""
    despatch_lines = "".join(f"""
  <cac:DespatchLine>
    <cbc:ID>{number}</cbc:ID>
    <cbc:DeliveredQuantity unitCode="C62">{quantity}</cbc:DeliveredQuantity>
    <cac:OrderLineReference>
      <cbc:LineID>{delivery_id}</cbc:LineID>
      <cac:OrderReference><cbc:ID>{order_id}</cbc:ID></cac:OrderReference>
    </cac:OrderLineReference>
    <cac:Item>
      <cbc:Name>Birch plywood 18 mm</cbc:Name>
      <cac:SellersItemIdentification><cbc:ID>BOARD-18MM</cbc:ID></cac:SellersItemIdentification>
    </cac:Item>
  </cac:DespatchLine>""" for number, (delivery_id, quantity) in enumerate(lines, start=1))
    estimated = (
        f"<cac:EstimatedDeliveryPeriod><cbc:StartDate>2026-12-03</cbc:StartDate><cbc:EndDate>{arrival}</cbc:EndDate>"
        "</cac:EstimatedDeliveryPeriod>" if arrival else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<DespatchAdvice xmlns="urn:oasis:names:specification:ubl:schema:xsd:DespatchAdvice-2" {_UBL_HEAD}>
  <cbc:CustomizationID>urn:fdc:peppol.eu:poacc:trns:despatch_advice:3</cbc:CustomizationID>
  <cbc:ProfileID>urn:fdc:peppol.eu:poacc:bis:despatch_advice:3</cbc:ProfileID>
  <cbc:ID>{dispatch_id}</cbc:ID>
  <cbc:IssueDate>2026-12-01</cbc:IssueDate>
  <cac:OrderReference><cbc:ID>{order_id}</cbc:ID></cac:OrderReference>
  <cac:DespatchSupplierParty>{seller}</cac:DespatchSupplierParty>
  <cac:DeliveryCustomerParty>{BUYER_PARTY}</cac:DeliveryCustomerParty>
  <cac:Shipment>
    <cbc:ID>1</cbc:ID>
    <cac:Consignment>
      <cbc:ID>1</cbc:ID>
      <cac:CarrierParty><cac:PartyName><cbc:Name>Spedition Nord</cbc:Name></cac:PartyName></cac:CarrierParty>
    </cac:Consignment>
    <cac:Delivery>
      <cbc:TrackingID>JJD000390007</cbc:TrackingID>
      {estimated}
      <cac:Despatch><cbc:ActualDespatchDate>2026-12-02</cbc:ActualDespatchDate></cac:Despatch>
    </cac:Delivery>
  </cac:Shipment>{despatch_lines}
</DespatchAdvice>"""


# --- documents as an openTRANS supplier writes them ---------------------------------------------

_OT_HEAD = 'xmlns="http://www.opentrans.org/XMLSchema/2.1" xmlns:bme="http://www.bmecat.org/bmecat/2005" version="2.1"'
_OT_PARTIES = """<PARTIES>
      <PARTY><bme:PARTY_ID type="buyer_specific">alliance</bme:PARTY_ID><PARTY_ROLE>buyer</PARTY_ROLE></PARTY>
      <PARTY><bme:PARTY_ID type="buyer_specific">s-holz</bme:PARTY_ID><PARTY_ROLE>supplier</PARTY_ROLE>
        <ADDRESS><bme:NAME>Holz AG</bme:NAME></ADDRESS></PARTY>
      <PARTY><bme:PARTY_ID type="supplier_specific">dhl</bme:PARTY_ID><PARTY_ROLE>deliverer</PARTY_ROLE>
        <ADDRESS><bme:NAME>DHL Freight</bme:NAME></ADDRESS></PARTY>
    </PARTIES>"""


def opentrans_orderresponse(order_id: str, items: Iterable[tuple[str, int]], *, delivery_end: str = "2026-12-10") -> str:
    """An ORDERRESPONSE confirming (item id, quantity) of each ORDER_ITEM."""
    listed = "".join(f"""
    <ORDERRESPONSE_ITEM><LINE_ITEM_ID>{item_id}</LINE_ITEM_ID>
      <PRODUCT_ID><bme:SUPPLIER_PID>BOARD-18MM</bme:SUPPLIER_PID></PRODUCT_ID>
      <QUANTITY>{quantity}</QUANTITY><bme:ORDER_UNIT>C62</bme:ORDER_UNIT>
    </ORDERRESPONSE_ITEM>""" for item_id, quantity in items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ORDERRESPONSE {_OT_HEAD}>
  <ORDERRESPONSE_HEADER><ORDERRESPONSE_INFO>
    <ORDER_ID>{order_id}</ORDER_ID><ORDERRESPONSE_DATE>2026-11-22T08:00:00</ORDERRESPONSE_DATE>
    <DELIVERY_DATE><DELIVERY_START_DATE>2026-12-01</DELIVERY_START_DATE><DELIVERY_END_DATE>{delivery_end}</DELIVERY_END_DATE></DELIVERY_DATE>
    {_OT_PARTIES}
    <ORDER_PARTIES_REFERENCE><bme:BUYER_IDREF type="buyer_specific">alliance</bme:BUYER_IDREF>
      <bme:SUPPLIER_IDREF type="buyer_specific">s-holz</bme:SUPPLIER_IDREF></ORDER_PARTIES_REFERENCE>
  </ORDERRESPONSE_INFO></ORDERRESPONSE_HEADER>
  <ORDERRESPONSE_ITEM_LIST>{listed}</ORDERRESPONSE_ITEM_LIST>
  <ORDERRESPONSE_SUMMARY><TOTAL_ITEM_NUM>{listed.count("<ORDERRESPONSE_ITEM>")}</TOTAL_ITEM_NUM></ORDERRESPONSE_SUMMARY>
</ORDERRESPONSE>"""


def opentrans_dispatchnotification(order_id: str, dispatch_id: str, items: Iterable[tuple[str, int]]) -> str:
    """A DISPATCHNOTIFICATION shipping (item id, quantity) of the ORDER's items, by DHL."""
    listed = "".join(f"""
    <DISPATCHNOTIFICATION_ITEM><LINE_ITEM_ID>{number}</LINE_ITEM_ID>
      <PRODUCT_ID><bme:SUPPLIER_PID>BOARD-18MM</bme:SUPPLIER_PID></PRODUCT_ID>
      <QUANTITY>{quantity}</QUANTITY><bme:ORDER_UNIT>C62</bme:ORDER_UNIT>
      <ORDER_REFERENCE><ORDER_ID>{order_id}</ORDER_ID><LINE_ITEM_ID>{item_id}</LINE_ITEM_ID></ORDER_REFERENCE>
      <SHIPMENT_PARTIES_REFERENCE><DELIVERY_IDREF type="buyer_specific">{item_id}</DELIVERY_IDREF></SHIPMENT_PARTIES_REFERENCE>
    </DISPATCHNOTIFICATION_ITEM>""" for number, (item_id, quantity) in enumerate(items, start=1))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<DISPATCHNOTIFICATION {_OT_HEAD}>
  <DISPATCHNOTIFICATION_HEADER><DISPATCHNOTIFICATION_INFO>
    <DISPATCHNOTIFICATION_ID>{dispatch_id}</DISPATCHNOTIFICATION_ID>
    <DISPATCHNOTIFICATION_DATE>2026-12-02T16:30:00</DISPATCHNOTIFICATION_DATE>
    <DELIVERY_DATE><DELIVERY_START_DATE>2026-12-03</DELIVERY_START_DATE><DELIVERY_END_DATE>2026-12-04</DELIVERY_END_DATE></DELIVERY_DATE>
    {_OT_PARTIES}
    <bme:SUPPLIER_IDREF type="buyer_specific">s-holz</bme:SUPPLIER_IDREF>
    <SHIPMENT_PARTIES_REFERENCE><DELIVERY_IDREF type="buyer_specific">alliance</DELIVERY_IDREF>
      <DELIVERER_IDREF type="supplier_specific">dhl</DELIVERER_IDREF></SHIPMENT_PARTIES_REFERENCE>
    <SHIPMENT_ID>JJD000390007</SHIPMENT_ID>
  </DISPATCHNOTIFICATION_INFO></DISPATCHNOTIFICATION_HEADER>
  <DISPATCHNOTIFICATION_ITEM_LIST>{listed}</DISPATCHNOTIFICATION_ITEM_LIST>
  <DISPATCHNOTIFICATION_SUMMARY><TOTAL_ITEM_NUM>{listed.count("<DISPATCHNOTIFICATION_ITEM>")}</TOTAL_ITEM_NUM></DISPATCHNOTIFICATION_SUMMARY>
</DISPATCHNOTIFICATION>"""
