"""The ACLs `alliance kafka provision` asks for, computed from the seed and shared/topics.py."""

from __future__ import annotations

import pytest

from shared import topics
from shared.kafka_provision import ProvisionError, desired_acls, password_variable, principals, service_principal
from shared.settings import SERVICES

ACLS = desired_acls("p.", ["m-a", "m-b"], ["s-a", "s-b"])


def allowed(principal: str) -> set[tuple[str, str, str, bool]]:
    return {(a.resource, a.name, a.operation, a.prefixed) for a in ACLS if a.principal == principal}


def test_a_member_writes_requests_and_risk_alerts_and_reads_nothing() -> None:
    assert {(name, op) for _, name, op, _ in allowed("m-a")} == {
        ("p." + topics.PURCHASE_REQUESTS, "WRITE"), ("p." + topics.PURCHASE_REQUESTS, "DESCRIBE"),
        ("p." + topics.RISK_ALERTS, "WRITE"), ("p." + topics.RISK_ALERTS, "DESCRIBE"),
    }


def test_a_supplier_reads_only_its_own_orders() -> None:
    reads = {name for resource, name, op, _ in allowed("s-b") if op == "READ" and resource == "topic"}
    assert reads == {"p." + topics.supplier_orders("s-b")}
    writes = {name for _, name, op, _ in allowed("s-b") if op == "WRITE"}
    assert writes == {"p." + topics.SUPPLIER_RESPONSES, "p." + topics.RISK_ALERTS}


def topics_allowed(service: str, operation: str) -> set[tuple[str, bool]]:
    return {(name, prefixed) for resource, name, op, prefixed in allowed(service_principal(service))
            if resource == "topic" and op == operation}


def test_each_service_reads_what_it_consumes_and_writes_what_it_publishes_and_sets_aside() -> None:
    set_aside = {("p." + topics.DEAD_LETTERS, False), ("p." + topics.QUARANTINE, False)}
    assert topics_allowed("members", "READ") == {
        ("p." + t, False) for t in (topics.PURCHASE_REQUESTS, topics.RISK_ALERTS, topics.PROCUREMENT_EVENTS)}
    assert topics_allowed("members", "WRITE") == set_aside | {
        ("p." + t, False) for t in (topics.ADMITTED_REQUESTS, topics.MEMBER_EVENTS, topics.RISK_REPORTS,
                                    topics.MEMBER_NOTICES)}
    assert topics_allowed("procurement", "READ") == {
        ("p." + t, False) for t in (topics.ADMITTED_REQUESTS, topics.MEMBER_EVENTS, topics.RISK_REPORTS,
                                    topics.RISK_ALERTS, topics.SUPPLIER_RESPONSES)}
    assert topics_allowed("procurement", "WRITE") == set_aside | {
        ("p." + topics.MEMBER_NOTICES, False), ("p." + topics.PROCUREMENT_EVENTS, False),
        ("p." + topics.SUPPLIER_ORDERS_PREFIX, True)}
    assert topics_allowed("notifications", "READ") == {
        ("p." + t, False) for t in (topics.MEMBER_EVENTS, topics.MEMBER_NOTICES, topics.PROCUREMENT_EVENTS)}
    assert topics_allowed("notifications", "WRITE") == set_aside
    for service in SERVICES:  # metadata of every platform topic (a service checks they exist)
        assert {(t, False) for t in topics.all_topics("p.")} <= topics_allowed(service, "DESCRIBE")


def test_no_one_outside_the_seed_and_the_services_gets_anything() -> None:
    assert {a.principal for a in ACLS} == set(principals(["m-a", "m-b"], ["s-a", "s-b"]))


def test_a_member_and_a_supplier_may_not_share_a_principal() -> None:
    with pytest.raises(ProvisionError, match="x-1"):
        principals(["x-1"], ["x-1"])


def test_passwords_come_from_variables_named_after_the_principal() -> None:
    assert password_variable("m-huber") == "ALLIANCE_KAFKA_PASSWORD_M_HUBER"
    assert password_variable(service_principal("members")) == "ALLIANCE_KAFKA_PASSWORD_ALLIANCE_MEMBERS"
