"""Members are often competitors: no notice to one member may carry another's id, request ids,
quantities or prices. 20 members, 200 requests, every webhook body and every e-mail checked.

Quantities (30xxxx), unit prices (7mmr.rm: member and request in the integer part), standalone
prices (8mmr.rm) and savings (30xx.xx) are chosen so that each is unique and none can hide
inside another number, so a plain substring search over what each member received is sound.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from shared.contract import (
    EventType,
    PurchaseRequestAccepted,
    PurchaseRequestOrdered,
    RiskAlertNotice,
)
from tests.support.notifications import (
    FAST,
    notice,
    notice_id_of,
    profile,
    publish,
    secret_of,
    verified_event,
    wait_for_members,
)
from tests.support.receivers import SmtpSink, eventually
from tests.support.services import Platform, platform
from tools.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

MEMBERS = [f"m-conf-{m:02d}" for m in range(20)]
REQUESTS_PER_MEMBER = 10


def request_id(m: int, r: int) -> str:
    return f"pr-{m:02d}-{r:02d}-x"


def quantity(m: int, r: int) -> int:
    return 300_000 + m * 100 + r * 3


def unit_price(m: int, r: int) -> Decimal:
    return Decimal(f"7{m:02d}{r}.{r}{m % 10}")


def standalone_price(m: int, r: int) -> Decimal:
    return unit_price(m, r) + 1000


def savings(m: int, r: int) -> Decimal:
    return Decimal(quantity(m, r)) / 100


def spellings(value: int | Decimal) -> set[str]:
    """The ways a number can be written in a body or an e-mail (JSON, English, German)."""
    if isinstance(value, int):
        english = f"{value:,}"
        return {str(value), english, english.replace(",", ".")}
    english = f"{value:,.2f}"
    german = english.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return {str(value), english, german}


def secrets_of_member(m: int) -> set[str]:
    """Everything of member m that no other member may see."""
    tokens = {MEMBERS[m]}
    for r in range(REQUESTS_PER_MEMBER):
        tokens |= {request_id(m, r)} | spellings(quantity(m, r)) | spellings(unit_price(m, r))
        tokens |= spellings(standalone_price(m, r)) | spellings(savings(m, r))
    return tokens


@pytest.fixture
async def running(
    kafka_bootstrap: str, postgres_server_url: str, tmp_path: Path
) -> AsyncIterator[Platform]:
    async with platform(kafka_bootstrap, postgres_server_url, tmp_path) as started:
        yield started


async def test_no_member_is_told_anything_of_another(running: Platform) -> None:
    receiver = WebhookReceiver()
    await receiver.start()
    sink = SmtpSink()
    sink.start()
    try:
        service = await running.start(
            "notifications",
            ALLIANCE_SMTP_HOST="127.0.0.1",
            ALLIANCE_SMTP_PORT=str(sink.port),
            ALLIANCE_SMTP_SECURITY="none",
            **FAST,
        )
        profiles = [
            profile(
                running,
                member,
                receiver.url(f"/{member}"),
                email=f"buyer@{member}.example",
                locale="en" if m % 2 else "de",
            )
            for m, member in enumerate(MEMBERS)
        ]
        notices = []
        expected: dict[str, set[str]] = defaultdict(set)
        for m, member in enumerate(MEMBERS):
            for r in range(REQUESTS_PER_MEMBER):
                q, price = quantity(m, r), unit_price(m, r)
                notices.append(
                    notice(
                        running,
                        member,
                        EventType.PURCHASE_REQUEST_ACCEPTED,
                        PurchaseRequestAccepted(request_id=request_id(m, r)),
                        f"submit-{m}-{r}",
                    )
                )
                notices.append(
                    notice(
                        running,
                        member,
                        EventType.PURCHASE_REQUEST_ORDERED,
                        PurchaseRequestOrdered(
                            request_id=request_id(m, r),
                            order_id="o-joint",
                            supplier_id="s-holz",
                            quantity=q,
                            unit_price=price,
                            standalone_unit_price=standalone_price(m, r),
                            savings=savings(m, r),
                        ),
                        f"order-{m}-{r}",
                    )
                )
            notices.append(
                notice(
                    running,
                    member,
                    EventType.RISK_ALERT_NOTICE,
                    RiskAlertNotice(
                        alert_id="a-1",
                        kind="shortage",
                        severity="high",
                        sku="BOARD",
                        summary="Mill on fire",
                        affected_request_ids=[request_id(m, r) for r in range(REQUESTS_PER_MEMBER)],
                    ),
                    "alert-a-1",
                )
            )
        for message in notices:
            expected[message.key.decode()].add(notice_id_of(message))  # type: ignore[union-attr]

        # Half the members' profiles arrive after their notices: those wait, then go out.
        await publish(running, profiles[:10])
        await wait_for_members(service, set(MEMBERS[:10]))
        await publish(running, notices)
        await publish(running, profiles[10:])
        total = len(notices)
        await eventually(
            lambda: len(receiver.received) >= total and len(sink.messages) >= total,
            120,
            f"{total} webhooks and {total} e-mails",
        )
    finally:
        sink.stop()
        await receiver.stop()

    assert len(receiver.received) == total and len(sink.messages) == total
    for m, member in enumerate(MEMBERS):
        foreign = set().union(
            *(secrets_of_member(other) for other in range(len(MEMBERS)) if other != m)
        )

        webhooks = receiver.at(f"/{member}")
        assert {w.headers["alliance-delivery-id"] for w in webhooks} == expected[member]
        seen = ""
        for webhook in webhooks:
            event = verified_event(webhook, secret_of(member))
            visible = json.dumps({k: v for k, v in event.items() if k not in ("id", "time")})
            leaked = {token for token in foreign if token in visible}
            assert not leaked, f"a webhook to {member} carries {sorted(leaked)}"
            seen += visible

        emails = sink.to(f"buyer@{member}.example")
        assert {e["alliance-delivery-id"] for e in emails} == expected[member]
        for message in emails:
            headers = "\n".join(
                f"{name}: {value}" for name, value in message.items() if name != "Date"
            )
            visible = (headers + "\n" + message.get_content()).replace(
                message["alliance-delivery-id"], ""
            )
            leaked = {token for token in foreign if token in visible}
            assert not leaked, f"an e-mail to {member} carries {sorted(leaked)}"
            seen += visible

        # The search finds what is there: the member's own requests, quantities and prices are.
        for r in range(REQUESTS_PER_MEMBER):
            assert request_id(m, r) in seen
            for number in (quantity(m, r), unit_price(m, r), savings(m, r)):
                assert any(spelling in seen for spelling in spellings(number)), number
