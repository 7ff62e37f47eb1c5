"""E-mail texts a buyer understands: what happened, which request, price and savings, what to do.

Pure: built only from the notice's own data (which its producer made from this member's data
alone) and the member's name, in German or English by the member's locale.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from services.notifications.domain.notices import Notice
from shared.contract import EventType


@dataclass(frozen=True, slots=True)
class EmailContent:
    subject: str
    body: str


_GREETING = {"de": "Guten Tag {name},", "en": "Hello {name},"}
_CLOSING = {
    "de": "Mit freundlichen Grüßen\nIhr Einkaufsverbund\n\n"
    "Diese Nachricht wurde automatisch erstellt. Referenz: {reference}",
    "en": "Kind regards\nYour purchasing alliance\n\n"
    "This message was sent automatically. Reference: {reference}",
}

_REJECTION_REASONS = {
    "unknown_sku": (
        "Der Artikel ist nicht im Katalog des Verbunds.",
        "The item is not in the alliance's catalog.",
        "Prüfen Sie die Artikelnummer (SKU) und senden Sie die Anforderung mit einer gültigen erneut.",
        "check the item number (SKU) and send the request again with a valid one.",
    ),
    "invalid_payload": (
        "Die Anforderung war unvollständig oder fehlerhaft.",
        "The request was incomplete or malformed.",
        "Korrigieren Sie die Angaben (siehe Details) und senden Sie die Anforderung erneut.",
        "correct the request (see the details) and send it again.",
    ),
    "member_suspended": (
        "Ihre Mitgliedschaft ist derzeit gesperrt; der Verbund nimmt keine Anforderungen an.",
        "Your membership is currently suspended; the alliance accepts no requests.",
        "Bitte wenden Sie sich an die Verwaltung des Verbunds.",
        "please contact the alliance's administration.",
    ),
    "duplicate_request": (
        "Die Anforderungsnummer wurde bereits mit anderem Inhalt verwendet.",
        "The request id was already used with different content.",
        "Verwenden Sie für eine neue Anforderung eine neue Anforderungsnummer.",
        "use a new request id for a new request.",
    ),
    "already_ordered": (
        "Die Anforderung ist bereits bestellt und kann nicht mehr storniert werden.",
        "The request is already on a placed order and can no longer be cancelled.",
        "Die Ware wird wie bestellt geliefert. Bei Fragen wenden Sie sich an die Verwaltung des Verbunds.",
        "the goods will be delivered as ordered; for questions, contact the alliance's administration.",
    ),
    "unknown_request": (
        "Eine Anforderung mit dieser Nummer ist nicht bekannt.",
        "No request with this id is known.",
        "Prüfen Sie die Anforderungsnummer.",
        "check the request id.",
    ),
    "not_dispatched": (
        "Für diese Anforderung wurde noch keine Ware versandt.",
        "No goods have been dispatched for this request yet.",
        "Melden Sie den Wareneingang, nachdem Sie die Versandmeldung erhalten haben.",
        "report the receipt after you have been told the goods were dispatched.",
    ),
    "receipt_exceeds_dispatch": (
        "Die gemeldeten Wareneingänge übersteigen die versandte Menge.",
        "The receipts reported exceed the quantity dispatched.",
        "Prüfen Sie die Mengen; melden Sie nur, was zusätzlich eingegangen ist.",
        "check the quantities; report only what arrived in addition.",
    ),
    "receipt_id_reused": (
        "Die Wareneingangsnummer wurde bereits mit anderem Inhalt verwendet.",
        "The receipt id was already used with different content.",
        "Verwenden Sie für einen neuen Wareneingang eine neue Nummer.",
        "use a new receipt id for a new receipt.",
    ),
}

_RISK_KINDS = {
    "delay": ("Lieferverzögerung", "delivery delay"),
    "shortage": ("Lieferengpass", "shortage"),
    "insolvency": ("Insolvenz", "insolvency"),
    "quality": ("Qualitätsproblem", "quality problem"),
    "price": ("Preisänderung", "price change"),
    "logistics": ("Logistikstörung", "logistics disruption"),
    "geopolitical": ("geopolitisches Risiko", "geopolitical risk"),
    "other": ("sonstiges Risiko", "other risk"),
}
_SEVERITIES = {
    "low": ("niedrig", "low"),
    "medium": ("mittel", "medium"),
    "high": ("hoch", "high"),
    "critical": ("kritisch", "critical"),
}


def _lang(locale: str) -> str:
    return "en" if locale.lower().startswith("en") else "de"


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "de" else pair[1]


def money(amount: object, lang: str) -> str:
    """`1234.5` -> "1.234,50 EUR" (de) or "EUR 1,234.50" (en); keeps sub-cent unit prices."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    exponent = value.as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    text = f"{value:,.{places}f}"
    if lang == "de":
        return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".") + " EUR"
    return f"EUR {text}"


def number(value: object, lang: str) -> str:
    if not isinstance(value, int):
        return str(value)
    text = f"{value:,}"
    return text.replace(",", ".") if lang == "de" else text


def day(value: object, lang: str) -> str:
    try:
        parsed = date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return parsed.strftime("%d.%m.%Y") if lang == "de" else parsed.isoformat()


def _accepted(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    if lang == "de":
        return f"Bestellanforderung {d['request_id']} angenommen", [
            f"der Einkaufsverbund hat Ihre Bestellanforderung {d['request_id']} angenommen.",
            "Sie wird im nächsten Bestellzyklus mit den Anforderungen anderer Mitglieder gebündelt.",
            "Was ist zu tun? Nichts. Wir informieren Sie, sobald bestellt ist, mit Preis und Ersparnis.",
        ]
    return f"Purchase request {d['request_id']} accepted", [
        f"the purchasing alliance has accepted your purchase request {d['request_id']}.",
        "It will be bundled with other members' requests in the next order cycle.",
        "What to do: nothing. We will tell you when it is ordered, with the price and your savings.",
    ]


def _rejected(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    de_reason, en_reason, de_todo, en_todo = _REJECTION_REASONS.get(
        d["reason"],
        (
            f"Grund: {d['reason']}.",
            f"Reason: {d['reason']}.",
            "Prüfen Sie die Anforderung in Ihrem ERP-System.",
            "check the request in your ERP system.",
        ),
    )
    if lang == "de":
        return f"Bestellanforderung {d['request_id']} abgelehnt", [
            f"Ihre Bestellanforderung {d['request_id']} wurde abgelehnt. {de_reason}",
            f"Details: {d['detail']}",
            f"Was ist zu tun? {de_todo}",
        ]
    return f"Purchase request {d['request_id']} rejected", [
        f"your purchase request {d['request_id']} was rejected. {en_reason}",
        f"Details: {d['detail']}",
        f"What to do: {en_todo}",
    ]


def _ordered(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    quantity, price = number(d["quantity"], lang), money(d["unit_price"], lang)
    standalone = d.get("standalone_unit_price")
    if lang == "de":
        lines = [
            f"Ihre Bestellanforderung {d['request_id']} ist bestellt: gemeinsame Bestellung {d['order_id']} "
            f"beim Lieferanten {d['supplier_id']}.",
            f"Menge: {quantity}, Stückpreis: {price}.",
        ]
        if standalone is not None:
            lines.append(f"Allein hätten Sie {money(standalone, lang)} pro Stück bezahlt.")
        lines += [
            f"Ihre Ersparnis durch den Verbund: {money(d['savings'], lang)}.",
            "Was ist zu tun? Nichts. Wir melden uns, sobald der Lieferant die Bestellung bestätigt.",
        ]
        return f"Bestellt: {d['request_id']} zu {price} pro Stück", lines
    lines = [
        f"your purchase request {d['request_id']} has been ordered: joint order {d['order_id']} "
        f"with supplier {d['supplier_id']}.",
        f"Quantity: {quantity}, unit price: {price}.",
    ]
    if standalone is not None:
        lines.append(f"On your own you would have paid {money(standalone, lang)} per unit.")
    lines += [
        f"Your savings through the alliance: {money(d['savings'], lang)}.",
        "What to do: nothing. We will tell you when the supplier confirms the order.",
    ]
    return f"Ordered: {d['request_id']} at {price} per unit", lines


def _part(d: dict[str, Any], lang: str) -> list[str]:
    """The line naming the quantity a notice concerns, where it is only part of the request."""
    if d.get("quantity") is None:
        return []
    quantity = number(d["quantity"], lang)
    return [f"Dies betrifft {quantity} Stück Ihrer Anforderung." if lang == "de"
            else f"This concerns {quantity} units of your request."]


def _confirmed(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    expected = d.get("expected_delivery")
    if lang == "de":
        when = (
            f"Voraussichtliche Lieferung: {day(expected, lang)}."
            if expected
            else "Ein Liefertermin folgt."
        )
        return f"Bestellung für {d['request_id']} bestätigt", [
            f"der Lieferant hat die gemeinsame Bestellung {d['order_id']} mit Ihrer Bestellanforderung "
            f"{d['request_id']} bestätigt.",
            *_part(d, lang),
            when,
            "Was ist zu tun? Planen Sie den Wareneingang ein.",
        ]
    when = (
        f"Expected delivery: {day(expected, lang)}." if expected else "A delivery date will follow."
    )
    return f"Order for {d['request_id']} confirmed", [
        f"the supplier has confirmed joint order {d['order_id']}, which includes your purchase request "
        f"{d['request_id']}.",
        *_part(d, lang),
        when,
        "What to do: plan for the goods to arrive.",
    ]


def _resourced(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    price = money(d["unit_price"], lang)
    standalone, savings = d.get("standalone_unit_price"), d.get("savings")
    if lang == "de":
        lines = [
            f"Ihre Bestellanforderung {d['request_id']} wird nicht mehr bei {d['from_supplier_id']}, "
            f"sondern bei {d['to_supplier_id']} bestellt (Bestellung {d['order_id']}).",
            *_part(d, lang),
            f"Grund: {d['reason']}.",
            f"Neuer Stückpreis: {price}.",
        ]
        if standalone is not None:
            lines.append(f"Allein würden Sie jetzt {money(standalone, lang)} pro Stück zahlen.")
        if savings is not None:
            lines.append(f"Ihre Ersparnis durch den Verbund ist jetzt {money(savings, lang)}.")
        lines.append("Was ist zu tun? Prüfen Sie den neuen Preis; wenn er nicht passt, wenden Sie sich an die "
                     "Verwaltung des Verbunds.")
        return f"Neuer Lieferant für {d['request_id']}", lines
    lines = [
        f"your purchase request {d['request_id']} is now ordered from {d['to_supplier_id']} instead of "
        f"{d['from_supplier_id']} (order {d['order_id']}).",
        *_part(d, lang),
        f"Reason: {d['reason']}.",
        f"New unit price: {price}.",
    ]
    if standalone is not None:
        lines.append(f"On your own you would now pay {money(standalone, lang)} per unit.")
    if savings is not None:
        lines.append(f"Your savings through the alliance are now {money(savings, lang)}.")
    lines.append("What to do: check the new price; if it does not suit you, contact the alliance's administration.")
    return f"New supplier for {d['request_id']}", lines


def _unfulfillable(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    if lang == "de":
        return f"Bestellanforderung {d['request_id']} nicht erfüllbar", [
            f"der Verbund kann Ihre Bestellanforderung {d['request_id']} nicht erfüllen.",
            *_part(d, lang),
            f"Grund: {d['reason']}.",
            "Was ist zu tun? Reichen Sie die Anforderung mit einem späteren Liefertermin oder einem höheren "
            "Höchstpreis neu ein, oder beschaffen Sie die Ware anderweitig.",
        ]
    return f"Purchase request {d['request_id']} cannot be fulfilled", [
        f"the alliance cannot fulfil your purchase request {d['request_id']}.",
        *_part(d, lang),
        f"Reason: {d['reason']}.",
        "What to do: submit it again with a later needed-by date or a higher maximum price, or buy the "
        "goods elsewhere.",
    ]


def _withdrawn(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    if lang == "de":
        return f"Bestellanforderung {d['request_id']} storniert", [
            f"Ihre Stornierung der Bestellanforderung {d['request_id']} ist wirksam.",
            "Für diese Anforderung wird nichts bestellt. Was ist zu tun? Nichts.",
        ]
    return f"Purchase request {d['request_id']} cancelled", [
        f"your cancellation of purchase request {d['request_id']} has taken effect.",
        "Nothing will be ordered for it. What to do: nothing.",
    ]


def _dispatched(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    quantity = number(d["quantity"], lang)
    shipment = [value for value in (d.get("carrier"), d.get("tracking_id")) if value]
    if lang == "de":
        lines = [
            (f"für Ihre Bestellanforderung {d['request_id']} (Bestellung {d['order_id']}) wurden {quantity} "
             f"Stück am {day(d['shipped_on'], lang)} versandt."),
            f"Voraussichtliche Ankunft: {day(d['expected_arrival'], lang)}.",
        ]
        if shipment:
            lines.append(f"Sendung: {', '.join(shipment)}.")
        lines.append("Was ist zu tun? Melden Sie den Wareneingang aus Ihrem ERP-System, sobald die Ware da ist.")
        return f"Versandt: {quantity} Stück für {d['request_id']}", lines
    lines = [
        (f"{quantity} units for your purchase request {d['request_id']} (order {d['order_id']}) were shipped "
         f"on {day(d['shipped_on'], lang)}."),
        f"Expected arrival: {day(d['expected_arrival'], lang)}.",
    ]
    if shipment:
        lines.append(f"Shipment: {', '.join(shipment)}.")
    lines.append("What to do: report the receipt from your ERP system once the goods are in.")
    return f"Dispatched: {quantity} units for {d['request_id']}", lines


def _completed(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    quantity = number(d["quantity"], lang)
    if lang == "de":
        return f"Bestellanforderung {d['request_id']} erledigt", [
            f"alle {quantity} Stück Ihrer Bestellanforderung {d['request_id']} sind eingegangen und angenommen.",
            "Was ist zu tun? Nichts; die Anforderung ist abgeschlossen.",
        ]
    return f"Purchase request {d['request_id']} completed", [
        f"all {quantity} units of your purchase request {d['request_id']} were received and accepted.",
        "What to do: nothing; the request is complete.",
    ]


def _served_from_buffer(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    quantity, price = number(d["quantity"], lang), money(d["unit_price"], lang)
    if lang == "de":
        return f"Aus dem Risikopuffer: {quantity} Stück für {d['request_id']}", [
            (f"kein Lieferant konnte Ihre Bestellanforderung {d['request_id']} rechtzeitig bedienen; der "
             f"gemeinsame Risikopuffer des Verbunds deckt {quantity} Stück davon."),
            f"Lager: {d['warehouse']}. Stückpreis (durchschnittliche Anschaffungskosten des Puffers): {price}.",
            ("Was ist zu tun? Stimmen Sie die Abholung oder Auslieferung aus dem Lager mit der Verwaltung des "
             "Verbunds ab. Was der Puffer nicht deckt, melden wir Ihnen gesondert."),
        ]
    return f"From the risk buffer: {quantity} units for {d['request_id']}", [
        (f"no supplier could serve your purchase request {d['request_id']} in time; the alliance's shared "
         f"risk buffer covers {quantity} units of it."),
        f"Warehouse: {d['warehouse']}. Unit price (the buffer's average acquisition cost): {price}.",
        ("What to do: arrange the pick-up or delivery from the warehouse with the alliance's administration. "
         "Anything the buffer does not cover is reported to you separately."),
    ]


def _buffer_statement(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    share, standalone, saved = (money(d[key], lang) for key in ("cost_share", "standalone_cost", "savings"))
    on_hand, drawn = number(d["on_hand"], lang), number(d["drawn"], lang)
    if lang == "de":
        return f"Risikopuffer {d['sku']}: Abrechnung {d['period']}", [
            f"hier ist Ihre Abrechnung des gemeinsamen Risikopuffers für Artikel {d['sku']}, Zeitraum {d['period']}.",
            (f"Ihr Anteil an den Lagerkosten: {share}. Ein eigener Puffer mit gleichem Servicegrad hätte "
             f"{standalone} gekostet."),
            f"Ihre Ersparnis durch den Verbund: {saved}.",
            f"Bestand im Puffer zum Ende des Zeitraums: {on_hand} Stück. Ihre Entnahmen im Zeitraum: {drawn} Stück.",
            "Was ist zu tun? Nichts. Fragen zur Abrechnung beantwortet die Verwaltung des Verbunds.",
        ]
    return f"Risk buffer {d['sku']}: statement {d['period']}", [
        f"here is your statement of the alliance's shared risk buffer for item {d['sku']}, period {d['period']}.",
        (f"Your share of the holding cost: {share}. A buffer of your own at the same service level would have "
         f"cost {standalone}."),
        f"Your savings through the alliance: {saved}.",
        f"Stock in the buffer at the end of the period: {on_hand} units. Your draws in the period: {drawn} units.",
        "What to do: nothing. The alliance's administration answers questions about the statement.",
    ]


_RISK_SCOPES = {
    "supplier_id": ("Lieferant", "supplier"),
    "sku": ("Artikel", "item"),
    "region": ("Region", "region"),
}


def _risk(d: dict[str, Any], lang: str) -> tuple[str, list[str]]:
    """Raised: what the alert is, which own requests it touches (none: told out of interest),
    what to do. Resolved: the all-clear for the same alert."""
    kind = _pick(_RISK_KINDS.get(d["kind"], (d["kind"], d["kind"])), lang)
    severity = _pick(_SEVERITIES.get(d["severity"], (d["severity"], d["severity"])), lang)
    resolved = d.get("status") == "resolved"
    scope = ", ".join(
        f"{_pick(label, lang)} {d[key]}" for key, label in _RISK_SCOPES.items() if d.get(key)
    )
    requests = ", ".join(d["affected_request_ids"])
    if lang == "de":
        subject = f"{'Entwarnung' if resolved else 'Risikowarnung'} ({severity}): {kind}, {scope}"
        if resolved:
            return subject, [
                "die folgende Risikowarnung ist aufgehoben.",
                f"Art: {kind}, Schweregrad: {severity}, betrifft: {scope}.",
                f"Beschreibung: {d['summary']}",
                *([f"Sie betraf Ihre Bestellanforderungen: {requests}."] if requests else []),
                "Was ist zu tun? Nichts; Ihre Planung kann wie vorgesehen weiterlaufen.",
            ]
        if requests:
            return subject, [
                "eine Risikowarnung betrifft Bestellanforderungen von Ihnen.",
                f"Art: {kind}, Schweregrad: {severity}, betrifft: {scope}.",
                f"Beschreibung: {d['summary']}",
                f"Ihre betroffenen Bestellanforderungen: {requests}.",
                "Was ist zu tun? Prüfen Sie, ob Sie diese Anforderungen absichern müssen, und halten "
                "Sie Alternativen bereit. Der Verbund berücksichtigt die Warnung bei seinen "
                "Bestellungen; ändert sich dadurch etwas an einer Ihrer Anforderungen, erhalten Sie "
                "dazu eine eigene Nachricht.",
            ]
        return subject, [
            "es gibt eine Risikowarnung in einer Warengruppe, für die Sie sich interessieren.",
            f"Art: {kind}, Schweregrad: {severity}, betrifft: {scope}.",
            f"Beschreibung: {d['summary']}",
            "Keine Ihrer offenen Bestellanforderungen ist betroffen.",
            "Was ist zu tun? Berücksichtigen Sie das Risiko bei Ihren nächsten Bestellanforderungen.",
        ]
    subject = f"{'Resolved' if resolved else 'Risk alert'} ({severity}): {kind}, {scope}"
    if resolved:
        return subject, [
            "the following risk alert is resolved.",
            f"Kind: {kind}, severity: {severity}, concerns: {scope}.",
            f"Summary: {d['summary']}",
            *([f"It concerned your purchase requests: {requests}."] if requests else []),
            "What to do: nothing; your planning can go ahead as intended.",
        ]
    if requests:
        return subject, [
            "a risk alert concerns purchase requests of yours.",
            f"Kind: {kind}, severity: {severity}, concerns: {scope}.",
            f"Summary: {d['summary']}",
            f"Your affected purchase requests: {requests}.",
            "What to do: check whether these requests need securing, and have alternatives ready. "
            "The alliance takes the alert into account when it orders; if that changes anything "
            "about one of your requests, you will get a message about it.",
        ]
    return subject, [
        "there is a risk alert in a category you follow.",
        f"Kind: {kind}, severity: {severity}, concerns: {scope}.",
        f"Summary: {d['summary']}",
        "None of your open purchase requests is affected.",
        "What to do: keep the risk in mind for your next purchase requests.",
    ]


_RENDERERS: dict[str, Callable[[dict[str, Any], str], tuple[str, list[str]]]] = {
    EventType.PURCHASE_REQUEST_ACCEPTED: _accepted,
    EventType.PURCHASE_REQUEST_REJECTED: _rejected,
    EventType.PURCHASE_REQUEST_ORDERED: _ordered,
    EventType.PURCHASE_REQUEST_CONFIRMED: _confirmed,
    EventType.PURCHASE_REQUEST_RESOURCED: _resourced,
    EventType.PURCHASE_REQUEST_UNFULFILLABLE: _unfulfillable,
    EventType.PURCHASE_REQUEST_CANCELLED: _withdrawn,
    EventType.RISK_ALERT_NOTICE: _risk,
    EventType.PURCHASE_REQUEST_DISPATCHED: _dispatched,
    EventType.PURCHASE_REQUEST_COMPLETED: _completed,
    EventType.PURCHASE_REQUEST_SERVED_FROM_BUFFER: _served_from_buffer,
    EventType.RISK_BUFFER_STATEMENT: _buffer_statement,
}


def _compose(lang: str, name: str, paragraphs: Sequence[str], reference: str) -> str:
    """German letters go on in lower case after the greeting's comma, English ones capitalise."""
    first, *rest = paragraphs
    if lang == "en":
        first = first[:1].upper() + first[1:]
    text = [
        _GREETING[lang].format(name=name),
        "",
        first,
        *rest,
        "",
        _CLOSING[lang].format(reference=reference),
    ]
    return "\n".join(text) + "\n"


def render(notice: Notice, locale: str, member_name: str) -> EmailContent:
    """The e-mail for one notice."""
    lang = _lang(locale)
    subject, lines = _RENDERERS[notice.notice_type](notice.data, lang)
    return EmailContent(subject=subject, body=_compose(lang, member_name, lines, notice.notice_id))


def render_digest(
    notices: Sequence[Notice], locale: str, member_name: str, reference: str
) -> EmailContent:
    """One e-mail summing up the informational notices held for the member's daily digest."""
    lang = _lang(locale)
    sections: list[str] = []
    if lang == "de":
        subject = (
            f"Ihre tägliche Übersicht: {len(notices)} Mitteilung{'en' if len(notices) != 1 else ''}"
        )
        intro = (
            "hier ist Ihre tägliche Übersicht. Keine dieser Mitteilungen verlangt etwas von Ihnen."
        )
    else:
        subject = f"Your daily summary: {len(notices)} notice{'s' if len(notices) != 1 else ''}"
        intro = "here is your daily summary. None of these notices needs anything from you."
    for index, notice in enumerate(notices, start=1):
        title, lines = _RENDERERS[notice.notice_type](notice.data, lang)
        first = lines[0][:1].upper() + lines[0][1:]
        sections.append("\n".join([f"{index}. {title}", first, *lines[1:]]))
    return EmailContent(
        subject=subject,
        body=_compose(lang, member_name, [intro, "", "\n\n".join(sections)], reference),
    )
