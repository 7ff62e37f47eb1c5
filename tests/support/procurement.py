"""Driving procurement as a running process, as the members service and the suppliers would: the
records it consumes, sending them, waiting for its open demand, closing a cycle, and reading what
it tells members, suppliers and its own metrics."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx

from shared import topics
from shared.events.members import PURCHASE_REQUEST_ADMITTED, PurchaseRequestAdmitted
from tests.support.erp import cloud_event, signed
from tests.support.events import encode, new_event
from tests.support.kafka import Event, events_until, kafka_producer, notices_told, wait_for_records
from tests.support.services import Platform, ServiceProcess

NEEDED_BY = (date.today() + timedelta(days=30)).isoformat()


def admitted(member_id: str, request_id: str, quantity: int, sku: str = "BOARD-18MM", **extra: Any) -> tuple[str, bytes]:
    data = PurchaseRequestAdmitted(
        request_id=request_id, member_id=member_id, sku=sku, quantity=quantity,
        needed_by=extra.pop("needed_by", NEEDED_BY), country=extra.pop("country", "DE"), **extra,
    )
    return sku, encode(new_event(PURCHASE_REQUEST_ADMITTED, "alliance/members", data))


def response_record(supplier_id: str, secret: str, event_type: str, data: dict[str, Any]) -> tuple[str, bytes, list]:
    value = cloud_event(event_type, f"supplier/{supplier_id}", data)
    return supplier_id, value, signed(secret, value)


async def send(running: Platform, topic: str, records: list[tuple[str, bytes]] | list[tuple[str, bytes, list]]) -> None:
    async with kafka_producer(running.kafka_bootstrap) as producer:
        for key, value, *headers in records:
            await producer.send_and_wait(running.topic(topic), value, key=key.encode(), headers=headers[0] if headers else [])


async def open_requests(service: ServiceProcess) -> int:
    async with service.admin() as admin:
        return sum(row["requests"] for row in (await admin.get("/demand")).json())


async def wait_until(predicate, timeout: float = 40.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout:.0f} s")
        await asyncio.sleep(0.2)


async def wait_for_open(service: ServiceProcess, count: int) -> None:
    async def reached() -> bool:
        return await open_requests(service) == count

    await wait_until(reached, what=f"{count} open requests")


async def close(service: ServiceProcess) -> dict[str, Any]:
    async with service.admin() as admin:
        response = await admin.post("/cycles/close", timeout=120)
    assert response.status_code == 200, response.text
    return response.json()


def notices_of(records, notice_type: str) -> list[tuple[str, dict[str, Any]]]:
    """(member_id, data) of the notices of one type."""
    return [(member_id, data) for member_id, kind, data in notices_told(records) if kind == notice_type]


async def notices_until(running: Platform, notice_type: str, count: int, timeout: float = 30.0):
    """Every notice so far, once at least `count` of `notice_type` are among them."""
    deadline = asyncio.get_running_loop().time() + timeout
    seen = 0
    while True:
        records = await wait_for_records(running.kafka_bootstrap, running.topic(topics.MEMBER_NOTICES), max(seen, 1), timeout)
        if len(notices_of(records, notice_type)) >= count:
            return records
        seen = len(records) + 1
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{count} {notice_type} notices not seen")


async def notices_of_type(running: Platform, notice_type: str, count: int) -> list[tuple[str, dict[str, Any]]]:
    """(member_id, data) of the notices of one type, once at least `count` were asked for."""
    return notices_of(await notices_until(running, notice_type, count), notice_type)


def of_type(events: list[Event], event_type: str) -> list[Event]:
    return [e for e in events if e["type"] == event_type]


def exposures(events: list[Event]) -> list[Event]:
    return of_type(events, "alliance.risk_alert.exposure_assessed")


async def supplier_events(bootstrap: str, topic: str, event_type: str, count: int) -> list[Event]:
    found = await events_until(bootstrap, topic, lambda events: len(of_type(events, event_type)) >= count)
    return of_type(found, event_type)


async def metrics_show(service: ServiceProcess, *lines: str) -> None:
    async def shown() -> bool:
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{service.url}/metrics")).text
        return all(line in text for line in lines)

    await wait_until(shown, timeout=20, what=f"metrics {lines}")
