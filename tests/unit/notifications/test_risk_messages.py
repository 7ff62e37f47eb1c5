"""A risk notice's e-mail: what the alert is, which of the member's requests it touches, what
to do, in German and English; an all-clear when it is resolved."""

from datetime import UTC, datetime

import pytest

from services.notifications.domain.messages import render
from services.notifications.domain.notices import Notice
from shared.contract import EventType, RiskAlertNotice

AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def risk_email(locale: str, affected: list[str], status: str = "raised"):
    data = RiskAlertNotice(
        alert_id="a-1",
        kind="insolvency",
        severity="critical",
        supplier_id="s-holz",
        summary="Holz AG has filed for insolvency",
        affected_request_ids=affected,
        status=status,  # type: ignore[arg-type]
    ).model_dump(mode="json")
    return render(Notice("n-1", "m-huber", EventType.RISK_ALERT_NOTICE, data, AT), locale, "Huber")


def test_an_exposed_member_reads_the_alert_its_requests_and_what_to_do():
    german = risk_email("de", ["r-1", "r-2"])
    assert german.subject == "Risikowarnung (kritisch): Insolvenz, Lieferant s-holz"
    assert "Art: Insolvenz, Schweregrad: kritisch, betrifft: Lieferant s-holz." in german.body
    assert "Beschreibung: Holz AG has filed for insolvency" in german.body
    assert "Ihre betroffenen Bestellanforderungen: r-1, r-2." in german.body
    assert "Was ist zu tun? Prüfen Sie, ob Sie diese Anforderungen absichern müssen" in german.body
    english = risk_email("en", ["r-1", "r-2"])
    assert english.subject == "Risk alert (critical): insolvency, supplier s-holz"
    assert "Your affected purchase requests: r-1, r-2." in english.body
    assert "What to do: check whether these requests need securing" in english.body


def test_an_interested_member_reads_that_none_of_its_requests_is_affected():
    german = risk_email("de", []).body
    assert "Warengruppe, für die Sie sich interessieren" in german
    assert "Keine Ihrer offenen Bestellanforderungen ist betroffen." in german
    assert "Was ist zu tun? Berücksichtigen Sie das Risiko" in german
    english = risk_email("en", []).body
    assert "None of your open purchase requests is affected." in english
    assert "What to do: keep the risk in mind" in english


@pytest.mark.parametrize("affected", [["r-1"], []])
def test_the_resolution_is_an_all_clear_for_the_same_alert(affected):
    german = risk_email("de", affected, "resolved")
    assert german.subject == "Entwarnung (kritisch): Insolvenz, Lieferant s-holz"
    assert "die folgende Risikowarnung ist aufgehoben." in german.body
    assert "Was ist zu tun? Nichts" in german.body
    assert ("Sie betraf Ihre Bestellanforderungen: r-1." in german.body) is bool(affected)
    english = risk_email("en", affected, "resolved")
    assert english.subject == "Resolved (critical): insolvency, supplier s-holz"
    assert "What to do: nothing" in english.body
