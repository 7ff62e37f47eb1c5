"""E-mail texts and webhook bodies: what a buyer reads, what a receiver parses."""

import json
from datetime import UTC, datetime

import pytest

from services.notifications.adapters.smtp import compose
from services.notifications.domain.messages import money, render, render_digest
from services.notifications.domain.notices import Notice, webhook_body
from shared.contract import NOTICE_DATA, EventType

AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
EXAMPLES = {
    EventType.PURCHASE_REQUEST_ACCEPTED: {"request_id": "r-1"},
    EventType.PURCHASE_REQUEST_REJECTED: {
        "request_id": "r-1",
        "reason": "unknown_sku",
        "detail": "sku 'X' is not in the catalog",
    },
    EventType.PURCHASE_REQUEST_ORDERED: {
        "request_id": "r-1",
        "order_id": "o-7",
        "supplier_id": "s-holz",
        "quantity": 1200,
        "unit_price": "9.00",
        "standalone_unit_price": "10.00",
        "savings": "1200.00",
    },
    EventType.PURCHASE_REQUEST_CONFIRMED: {
        "request_id": "r-1",
        "order_id": "o-7",
        "expected_delivery": "2026-11-25",
    },
    EventType.PURCHASE_REQUEST_RESOURCED: {
        "request_id": "r-1",
        "from_supplier_id": "s-holz",
        "to_supplier_id": "s-wood",
        "order_id": "o-8",
        "unit_price": "9.50",
        "reason": "supplier rejected the order",
        "standalone_unit_price": "10.00",
        "savings": "25.00",
    },
    EventType.PURCHASE_REQUEST_UNFULFILLABLE: {
        "request_id": "r-1",
        "reason": "no eligible supplier in time",
    },
    EventType.PURCHASE_REQUEST_CANCELLED: {"request_id": "r-1"},
    EventType.RISK_ALERT_NOTICE: {
        "alert_id": "a-1",
        "kind": "delay",
        "severity": "high",
        "supplier_id": "s-holz",
        "summary": "Strike at the mill",
        "affected_request_ids": ["r-1", "r-2"],
    },
    EventType.PURCHASE_REQUEST_DISPATCHED: {
        "request_id": "r-1",
        "order_id": "o-7",
        "quantity": 60,
        "shipped_on": "2026-11-23",
        "expected_arrival": "2026-11-25",
        "carrier": "DHL",
        "tracking_id": "JD0001",
    },
    EventType.PURCHASE_REQUEST_COMPLETED: {"request_id": "r-1", "quantity": 60},
    EventType.PURCHASE_REQUEST_SERVED_FROM_BUFFER: {
        "request_id": "r-1",
        "quantity": 40,
        "unit_price": "9.125",
        "warehouse": "Zentrallager Nord",
    },
    EventType.RISK_BUFFER_STATEMENT: {
        "sku": "BOARD-18MM",
        "period": "cycle-11/cycle-20",
        "cost_share": "12.34",
        "standalone_cost": "20.00",
        "savings": "7.66",
        "on_hand": 1250,
        "drawn": 40,
    },
}
NAMED = {EventType.RISK_ALERT_NOTICE: "r-2", EventType.RISK_BUFFER_STATEMENT: "BOARD-18MM"}
"""What each e-mail must name: the member's own request, or what else the notice is about."""


def notice(notice_type: str, data: dict | None = None) -> Notice:
    validated = (
        NOTICE_DATA[notice_type]
        .model_validate(data or EXAMPLES[notice_type])
        .model_dump(mode="json")
    )
    return Notice("n-1", "m-huber", notice_type, validated, AT)


def test_every_notice_type_has_an_example():
    assert set(EXAMPLES) == set(NOTICE_DATA)


@pytest.mark.parametrize("notice_type", list(EXAMPLES))
@pytest.mark.parametrize("locale", ["de", "en"])
def test_every_email_names_the_request_and_says_what_to_do(notice_type, locale):
    content = render(notice(notice_type), locale, "Schreinerei Huber")
    body = content.body
    assert content.subject and "\n" not in content.subject
    assert (
        "Guten Tag Schreinerei Huber," if locale == "de" else "Hello Schreinerei Huber,"
    ) in body
    assert ("Was ist zu tun?" if locale == "de" else "What to do:") in body
    assert NAMED.get(notice_type, "r-1") in body
    assert "Referenz: n-1" in body or "Reference: n-1" in body


def test_an_order_email_states_price_and_savings():
    german = render(notice(EventType.PURCHASE_REQUEST_ORDERED), "de", "Huber").body
    assert "Menge: 1.200, Stückpreis: 9,00 EUR." in german
    assert "10,00 EUR pro Stück" in german
    assert "Ihre Ersparnis durch den Verbund: 1.200,00 EUR." in german
    english = render(notice(EventType.PURCHASE_REQUEST_ORDERED), "en", "Huber")
    assert english.subject == "Ordered: r-1 at EUR 9.00 per unit"
    assert "Your savings through the alliance: EUR 1,200.00." in english.body


def test_a_resourcing_email_states_the_new_savings_and_an_older_notice_reads_without_them():
    german = render(notice(EventType.PURCHASE_REQUEST_RESOURCED), "de", "Huber").body
    assert "Neuer Stückpreis: 9,50 EUR." in german
    assert "Ihre Ersparnis durch den Verbund ist jetzt 25,00 EUR." in german
    english = render(notice(EventType.PURCHASE_REQUEST_RESOURCED), "en", "Huber").body
    assert "On your own you would now pay EUR 10.00 per unit." in english
    assert "Your savings through the alliance are now EUR 25.00." in english
    older = {**EXAMPLES[EventType.PURCHASE_REQUEST_RESOURCED]}
    del older["standalone_unit_price"], older["savings"]
    body = render(notice(EventType.PURCHASE_REQUEST_RESOURCED, older), "en", "Huber").body
    assert "New unit price: EUR 9.50." in body and "savings" not in body


@pytest.mark.parametrize("notice_type", [EventType.PURCHASE_REQUEST_CONFIRMED, EventType.PURCHASE_REQUEST_RESOURCED,
                                         EventType.PURCHASE_REQUEST_UNFULFILLABLE])
def test_a_notice_about_part_of_a_request_names_the_quantity(notice_type):
    part = notice(notice_type, {**EXAMPLES[notice_type], "quantity": 1200})
    assert "Dies betrifft 1.200 Stück Ihrer Anforderung." in render(part, "de", "Huber").body
    assert "This concerns 1,200 units of your request." in render(part, "en", "Huber").body
    assert "concerns" not in render(notice(notice_type), "en", "Huber").body


def test_a_buffer_draw_email_states_quantity_price_and_warehouse():
    german = render(notice(EventType.PURCHASE_REQUEST_SERVED_FROM_BUFFER), "de", "Huber")
    assert german.subject == "Aus dem Risikopuffer: 40 Stück für r-1"
    assert "Lager: Zentrallager Nord. Stückpreis (durchschnittliche Anschaffungskosten des Puffers): 9,125 EUR." \
        in german.body
    english = render(notice(EventType.PURCHASE_REQUEST_SERVED_FROM_BUFFER), "en", "Huber").body
    assert "the alliance's shared risk buffer covers 40 units of it." in english


def test_a_buffer_statement_email_states_share_standalone_cost_savings_and_stock():
    german = render(notice(EventType.RISK_BUFFER_STATEMENT), "de", "Huber")
    assert german.subject == "Risikopuffer BOARD-18MM: Abrechnung cycle-11/cycle-20"
    assert "Ihr Anteil an den Lagerkosten: 12,34 EUR. Ein eigener Puffer mit gleichem Servicegrad hätte " \
        "20,00 EUR gekostet." in german.body
    assert "Ihre Ersparnis durch den Verbund: 7,66 EUR." in german.body
    assert "Bestand im Puffer zum Ende des Zeitraums: 1.250 Stück. Ihre Entnahmen im Zeitraum: 40 Stück." \
        in german.body
    english = render(notice(EventType.RISK_BUFFER_STATEMENT), "en", "Huber").body
    assert "Your savings through the alliance: EUR 7.66." in english


def test_dates_and_amounts_follow_the_locale():
    assert (
        "Voraussichtliche Lieferung: 25.11.2026."
        in render(notice(EventType.PURCHASE_REQUEST_CONFIRMED), "de", "H").body
    )
    assert (
        "Expected delivery: 2026-11-25."
        in render(notice(EventType.PURCHASE_REQUEST_CONFIRMED), "en", "H").body
    )
    assert money("0.125", "de") == "0,125 EUR"
    assert money("1234567.5", "en") == "EUR 1,234,567.50"


def test_a_rejection_explains_the_reason():
    body = render(notice(EventType.PURCHASE_REQUEST_REJECTED), "en", "H").body
    assert "not in the alliance's catalog" in body and "sku 'X' is not in the catalog" in body


def test_a_resolved_alert_is_an_all_clear():
    data = {**EXAMPLES[EventType.RISK_ALERT_NOTICE], "status": "resolved"}
    content = render(notice(EventType.RISK_ALERT_NOTICE, data), "de", "H")
    assert content.subject.startswith("Entwarnung (hoch): Lieferverzögerung")


def test_a_digest_lists_each_notice():
    items = [
        notice(EventType.PURCHASE_REQUEST_ACCEPTED),
        notice(EventType.PURCHASE_REQUEST_CONFIRMED),
    ]
    content = render_digest(items, "en", "Huber", "d-1")
    assert content.subject == "Your daily summary: 2 notices"
    assert (
        "1. Purchase request r-1 accepted" in content.body
        and "2. Order for r-1 confirmed" in content.body
    )


def test_the_webhook_body_is_the_contracts_cloudevent_and_the_same_every_time():
    body = webhook_body(notice(EventType.PURCHASE_REQUEST_ACCEPTED))
    assert body == webhook_body(notice(EventType.PURCHASE_REQUEST_ACCEPTED))
    event = json.loads(body)
    assert event == {
        "specversion": "1.0",
        "id": "n-1",
        "source": "alliance",
        "type": "purchase_request.accepted",
        "time": "2026-11-21T10:00:00Z",
        "datacontenttype": "application/json",
        "data": {"request_id": "r-1"},
    }


def test_an_email_has_one_subject_line_and_the_delivery_id_as_message_id():
    rejected = notice(
        EventType.PURCHASE_REQUEST_REJECTED,
        {
            "request_id": "x\r\nBcc: someone@else.example",
            "reason": "invalid_payload",
            "detail": "d",
        },
    )
    message = compose(
        render(rejected, "en", "H"), "Alliance <noreply@alliance.example>", "a@b.example", "n-1"
    )
    assert "Bcc" not in message
    assert message["Subject"] == "Purchase request x Bcc: someone@else.example rejected"
    assert (
        message["Message-ID"] == "<n-1@alliance.example>"
        and message["alliance-delivery-id"] == "n-1"
    )
