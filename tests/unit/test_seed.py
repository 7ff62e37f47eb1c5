"""The seed file: what loads, and how each mistake is reported (file, entry, field; no secrets)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.seed import SeedError, load_seed

REPO = Path(__file__).resolve().parents[2]
ERP_SECRET = "erp-secret-value-7f3a9c"
WEBHOOK_SECRET = "webhook-secret-value-51be02"
SUPPLIER_SECRET = "supplier-secret-value-c0ffee"


def valid_seed() -> dict[str, Any]:
    return {
        "cycle": {"interval_seconds": 60, "max_supplier_share": 0.7},
        "members": [
            {
                "id": "m-a",
                "name": "Schreinerei A",
                "erp_secret": ERP_SECRET,
                "webhook": {"url": "https://erp.a.example/alliance", "secret": WEBHOOK_SECRET},
                "region": "DE",
                "interests": {"categories": ["wood"], "min_risk_severity": "medium"},
            },
            {
                "id": "m-b",
                "name": "Metallbau B",
                "erp_secret": ERP_SECRET + "-b",
                "email": "einkauf@b.example",
                "region": "AT",
            },
        ],
        "suppliers": [
            {
                "id": "s-a",
                "name": "Holz AG",
                "secret": SUPPLIER_SECRET,
                "regions": ["DE", "AT"],
                "lead_time_days": 3,
                "catalog": [
                    {
                        "sku": "SKU-1",
                        "name": "Birch plywood 18 mm",
                        "category": "wood",
                        "unit": "piece",
                        "capacity_per_cycle": 1000,
                        "min_order_quantity": 10,
                        "tiers": [
                            {"min_quantity": 1, "unit_price": "10.00"},
                            {"min_quantity": 100, "unit_price": "9.00"},
                        ],
                    }
                ],
            },
            {
                "id": "s-b",
                "name": "Platten GmbH",
                "secret": SUPPLIER_SECRET + "-b",
                "regions": ["DE"],
                "lead_time_days": 5,
                "catalog": [
                    {
                        "sku": "SKU-1",
                        "name": "Birke Multiplex 18 mm",
                        "category": "wood",
                        "unit": "piece",
                        "capacity_per_cycle": 500,
                        "tiers": [{"min_quantity": 1, "unit_price": "10.50"}],
                    }
                ],
            },
        ],
        "risk_buffers": [
            {
                "sku": "SKU-1",
                "warehouse": {"site": "Zentrallager Nord", "postal_code": "30159", "country": "DE"},
                "service_level": 0.95,
                "holding_cost_per_unit_and_cycle": "0.04",
                "history_cycles": 12,
                "statement_every_cycles": 10,
                "members": ["m-a", "m-b"],
            }
        ],
    }


ALLIANCE = {
    "name": "Einkaufsverbund Nord eG",
    "peppol_id": "0088:4000001000005",
    "vat_id": "DE123456789",
    "address": {"street": "Hafenstraße 1", "city": "Hamburg", "postal_code": "20457", "country": "DE"},
}
"""The alliance entry exactly as the contract shows it."""
XML_IDS = {"peppol_id": "0088:4012345000009", "vat_id": "DE987654321"}


def write(tmp_path: Path, seed: Any, name: str = "seed.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(seed, allow_unicode=True))
    return path


def load_error(path: Path) -> str:
    with pytest.raises(SeedError) as caught:
        load_seed(path)
    return str(caught.value)


def test_the_demo_seed_loads() -> None:
    seed = load_seed(REPO / "seeds" / "demo.yaml")
    assert 6 <= len(seed.members) <= 8
    assert 4 <= len(seed.suppliers) <= 5
    assert seed.cycle.interval_seconds == 300
    offered_by: dict[str, int] = {}
    for supplier in seed.suppliers:
        for item in supplier.catalog:
            offered_by[item.sku] = offered_by.get(item.sku, 0) + 1
    assert any(count >= 2 for count in offered_by.values()), "some SKU has 2+ suppliers"


def test_a_valid_seed_loads_with_typed_values(tmp_path: Path) -> None:
    seed = load_seed(write(tmp_path, valid_seed()))
    member = seed.members[0]
    assert member.erp_secret.get_secret_value() == ERP_SECRET
    assert member.webhook.secret.get_secret_value() == WEBHOOK_SECRET
    assert str(member.webhook.url) == "https://erp.a.example/alliance"
    assert member.locale == "de" and member.status == "active"
    assert seed.members[1].interests.categories == []
    tiers = seed.suppliers[0].catalog[0].tiers
    assert [t.unit_price for t in tiers] == [Decimal("10.00"), Decimal("9.00")]
    assert seed.suppliers[1].catalog[0].min_order_quantity == 1
    buffer = seed.risk_buffers[0]
    assert buffer.sku == "SKU-1" and buffer.warehouse.site == "Zentrallager Nord"
    assert buffer.service_level == 0.95 and buffer.holding_cost_per_unit_and_cycle == Decimal("0.04")
    assert (buffer.history_cycles, buffer.statement_every_cycles, buffer.members) == (12, 10, ["m-a", "m-b"])


def test_a_risk_buffer_needs_only_its_sku_warehouse_service_level_and_cost(tmp_path: Path) -> None:
    seed = valid_seed()
    seed["risk_buffers"] = [
        {key: seed["risk_buffers"][0][key] for key in ("sku", "warehouse", "service_level",
                                                        "holding_cost_per_unit_and_cycle")}
    ]
    buffer = load_seed(write(tmp_path, seed)).risk_buffers[0]
    assert (buffer.history_cycles, buffer.statement_every_cycles, buffer.members) == (12, 10, [])


def test_a_seed_without_risk_buffers_has_none(tmp_path: Path) -> None:
    seed = valid_seed()
    del seed["risk_buffers"]
    assert load_seed(write(tmp_path, seed)).risk_buffers == []


def test_suppliers_write_cloudevents_unless_the_seed_names_a_standard(tmp_path: Path) -> None:
    seed = valid_seed()
    seed["alliance"] = ALLIANCE
    seed["suppliers"][0].update(documents="peppol-bis3", **XML_IDS)
    seed["suppliers"][1].update(documents="opentrans-2.1", peppol_id="9930:DE812345678", vat_id="ATU12345678")
    seed["members"][0].update(peppol_id="0088:4012345000009", vat_id="DE111111111")
    loaded = load_seed(write(tmp_path, seed))
    assert loaded.alliance is not None and loaded.alliance.address.city == "Hamburg"
    assert [s.documents for s in loaded.suppliers] == ["peppol-bis3", "opentrans-2.1"]
    assert loaded.suppliers[0].peppol_id == "0088:4012345000009"
    assert loaded.members[0].vat_id == "DE111111111" and loaded.members[1].peppol_id is None
    assert load_seed(write(tmp_path, valid_seed(), "plain.yaml")).suppliers[0].documents == "cloudevents"


def test_json_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(valid_seed()))
    assert load_seed(path).suppliers[0].id == "s-a"


def test_a_secret_can_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = valid_seed()
    del seed["members"][0]["erp_secret"]
    seed["members"][0]["erp_secret_env"] = "HUBER_ERP_SECRET"
    del seed["suppliers"][0]["secret"]
    seed["suppliers"][0]["secret_env"] = "HOLZ_SECRET"
    monkeypatch.setenv("HUBER_ERP_SECRET", "from-the-environment-1")
    monkeypatch.setenv("HOLZ_SECRET", "from-the-environment-2")
    loaded = load_seed(write(tmp_path, seed))
    assert loaded.members[0].erp_secret.get_secret_value() == "from-the-environment-1"
    assert loaded.suppliers[0].secret.get_secret_value() == "from-the-environment-2"


def test_a_missing_secret_variable_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed = valid_seed()
    del seed["members"][1]["erp_secret"]
    seed["members"][1]["erp_secret_env"] = "NOT_SET_ANYWHERE"
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    path = write(tmp_path, seed)
    assert load_error(path) == (
        f"{path}: members[1] (id 'm-b'): erp_secret_env: "
        "environment variable NOT_SET_ANYWHERE is not set or empty"
    )


Mutation = Callable[[dict[str, Any]], None]


def member(index: int, **changes: Any) -> Mutation:
    return lambda seed: seed["members"][index].update(changes)


def item(supplier: int, **changes: Any) -> Mutation:
    return lambda seed: seed["suppliers"][supplier]["catalog"][0].update(changes)


def buffer(**changes: Any) -> Mutation:
    return lambda seed: seed["risk_buffers"][0].update(changes)


def drop(section: str, index: int, key: str) -> Mutation:
    return lambda seed: seed[section][index].pop(key)


MALFORMED: list[tuple[str, Mutation, str]] = [
    (
        "webhook URL",
        lambda s: s["members"][1].update(webhook={"url": "not a url", "secret": "whsec-b-123"}),
        "members[1] (id 'm-b'): webhook.url: Input should be a valid URL",
    ),
    ("member id", member(0, id="m a!"), "members[0] (id 'm a!'): id: String should match pattern"),
    ("duplicate id", member(1, id="m-a"), "members[1] (id 'm-a'): id: already used by members[0]"),
    ("unknown key", member(0, emial="x@y.example"), "members[0] (id 'm-a'): emial: Extra inputs"),
    ("region", member(1, region="de"), "members[1] (id 'm-b'): region: String should match"),
    (
        "both secret sources",
        member(0, erp_secret_env="SOME_VAR"),
        "members[0] (id 'm-a'): give exactly one of erp_secret and erp_secret_env",
    ),
    (
        "no secret",
        drop("members", 1, "erp_secret"),
        "members[1] (id 'm-b'): give exactly one of erp_secret and erp_secret_env",
    ),
    (
        "no channel",
        drop("members", 1, "email"),
        "members[1] (id 'm-b'): a member needs a webhook or an email",
    ),
    (
        "severity",
        member(0, interests={"categories": ["wood"], "min_risk_severity": "severe"}),
        "members[0] (id 'm-a'): interests.min_risk_severity: Input should be",
    ),
    (
        "unknown interest",
        member(0, interests={"categories": ["wod"]}),
        "members[0] (id 'm-a'): interests.categories[0]: no supplier offers category 'wod'",
    ),
    (
        "supplier id with a colon",
        lambda s: s["suppliers"][1].update(id="s:b"),
        "suppliers[1] (id 's:b'): id: String should match pattern",
    ),
    (
        "no regions",
        lambda s: s["suppliers"][0].update(regions=[]),
        "suppliers[0] (id 's-a'): regions: List should have at least 1 item",
    ),
    (
        "unsorted tiers",
        item(
            0,
            tiers=[
                {"min_quantity": 100, "unit_price": "9.00"},
                {"min_quantity": 1, "unit_price": "10.00"},
            ],
        ),
        "suppliers[0] (id 's-a'): catalog[0] (sku 'SKU-1'): tiers: min_quantity must be strictly",
    ),
    (
        "first tier above the MOQ",
        item(0, tiers=[{"min_quantity": 50, "unit_price": "9.00"}]),
        "suppliers[0] (id 's-a'): catalog[0] (sku 'SKU-1'): tiers[0].min_quantity: the first tier",
    ),
    (
        "zero price",
        item(1, tiers=[{"min_quantity": 1, "unit_price": "0.00"}]),
        "suppliers[1] (id 's-b'): catalog[0] (sku 'SKU-1'): tiers[0].unit_price: Input should be "
        "greater than 0",
    ),
    (
        "unquoted price",
        item(1, tiers=[{"min_quantity": 1, "unit_price": 10.5}]),
        "suppliers[1] (id 's-b'): catalog[0] (sku 'SKU-1'): tiers[0].unit_price: an amount is a "
        "decimal string",
    ),
    (
        "capacity below MOQ",
        item(0, capacity_per_cycle=5),
        "suppliers[0] (id 's-a'): catalog[0] (sku 'SKU-1'): capacity_per_cycle: smaller than",
    ),
    (
        "unit differs between suppliers",
        item(1, unit="box"),
        "suppliers[1] (id 's-b'): catalog[0] (sku 'SKU-1'): unit: 'box' differs from 'piece'",
    ),
    (
        "duplicate SKU",
        lambda s: s["suppliers"][0]["catalog"].append(
            copy.deepcopy(s["suppliers"][0]["catalog"][0])
        ),
        "suppliers[0] (id 's-a'): catalog[1] (sku 'SKU-1'): sku: listed twice, first at catalog[0]",
    ),
    (
        "supplier share",
        lambda s: s["cycle"].update(max_supplier_share=0.3),
        "cycle.max_supplier_share: Input should be greater than or equal to 0.5",
    ),
    ("no cycle", lambda s: s.pop("cycle"), "cycle: Field required"),
    (
        "reserved member id",
        member(1, id="alliance"),
        "members[1] (id 'alliance'): id: 'alliance' is reserved",
    ),
    (
        "buffer for an unknown SKU",
        buffer(sku="SKU-9"),
        "risk_buffers[0] (sku 'SKU-9'): sku: no supplier's catalog lists 'SKU-9'",
    ),
    (
        "buffer subscriber not a member",
        buffer(members=["m-a", "m-x"]),
        "risk_buffers[0] (sku 'SKU-1'): members[1]: 'm-x' is not a member of the alliance",
    ),
    (
        "buffer subscriber listed twice",
        buffer(members=["m-a", "m-a"]),
        "risk_buffers[0] (sku 'SKU-1'): members[1]: 'm-a' is listed twice",
    ),
    (
        "service level at 0.5",
        buffer(service_level=0.5),
        "risk_buffers[0] (sku 'SKU-1'): service_level: Input should be greater than 0.5",
    ),
    (
        "service level at 0.9999",
        buffer(service_level=0.9999),
        "risk_buffers[0] (sku 'SKU-1'): service_level: Input should be less than 0.9999",
    ),
    (
        "negative holding cost",
        buffer(holding_cost_per_unit_and_cycle="-0.04"),
        "risk_buffers[0] (sku 'SKU-1'): holding_cost_per_unit_and_cycle: a cost must not be negative",
    ),
    (
        "negative holding cost as a number",
        buffer(holding_cost_per_unit_and_cycle=-1),
        "risk_buffers[0] (sku 'SKU-1'): holding_cost_per_unit_and_cycle: a cost must not be negative",
    ),
    (
        "history of one cycle",
        buffer(history_cycles=1),
        "risk_buffers[0] (sku 'SKU-1'): history_cycles: Input should be greater than or equal to 2",
    ),
    (
        "statement period of no cycles",
        buffer(statement_every_cycles=0),
        "risk_buffers[0] (sku 'SKU-1'): statement_every_cycles: Input should be greater than or equal to 1",
    ),
    (
        "unknown key in the warehouse",
        buffer(warehouse={"site": "Nord", "postal_code": "30159", "country": "DE", "dock": 4}),
        "risk_buffers[0] (sku 'SKU-1'): warehouse.dock: Extra inputs are not permitted",
    ),
    (
        "warehouse no supplier delivers to",
        buffer(warehouse={"site": "Depot", "postal_code": "1000", "country": "CH"}),
        "risk_buffers[0] (sku 'SKU-1'): warehouse.country: no supplier of 'SKU-1' delivers to CH",
    ),
    (
        "two buffers for one SKU",
        lambda s: s["risk_buffers"].append(copy.deepcopy(s["risk_buffers"][0])),
        "risk_buffers[1] (sku 'SKU-1'): sku: already has a buffer at risk_buffers[0]",
    ),
    (
        "unknown document standard",
        lambda s: s["suppliers"][0].update(documents="edifact"),
        "suppliers[0] (id 's-a'): documents: Input should be 'cloudevents', 'peppol-bis3' or 'opentrans-2.1'",
    ),
    (
        "XML supplier without its ids",
        lambda s: s.update(alliance=ALLIANCE) or s["suppliers"][0].update(documents="peppol-bis3"),
        "suppliers[0] (id 's-a'): documents: peppol-bis3 needs the supplier's peppol_id and vat_id",
    ),
    (
        "openTRANS supplier with a SKU its ORDER cannot name",
        lambda s: s.update(alliance=ALLIANCE) or s["suppliers"][0].update(documents="opentrans-2.1", **XML_IDS)
        or s["suppliers"][0]["catalog"][0].update(sku="S" * 33),
        "suppliers[0] (id 's-a'): catalog[0] (sku '" + "S" * 33 + "'): sku: openTRANS carries it as SUPPLIER_PID,"
        " at most 32 characters",
    ),
    (
        "XML supplier without the alliance entry",
        lambda s: s["suppliers"][1].update(documents="opentrans-2.1", **XML_IDS),
        "suppliers[1] (id 's-b'): documents: opentrans-2.1 needs the seed's alliance entry",
    ),
    (
        "peppol_id without a scheme",
        member(0, peppol_id="4012345000009"),
        "members[0] (id 'm-a'): peppol_id: String should match pattern",
    ),
    (
        "GLN with a wrong check digit",
        member(1, peppol_id="0088:4012345000008"),
        "members[1] (id 'm-b'): peppol_id: a 0088 peppol_id is a GLN: 13 digits with a valid check digit",
    ),
    (
        "VAT id without its country",
        lambda s: s["suppliers"][0].update(vat_id="123456789"),
        "suppliers[0] (id 's-a'): vat_id: String should match pattern",
    ),
    (
        "alliance without an address",
        lambda s: s.update(alliance={k: v for k, v in ALLIANCE.items() if k != "address"}),
        "alliance.address: Field required",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [pytest.param(mutate, expected, id=case) for case, mutate, expected in MALFORMED],
)
def test_each_mistake_names_file_entry_and_field(
    tmp_path: Path, mutate: Mutation, expected: str
) -> None:
    seed = valid_seed()
    mutate(seed)
    path = write(tmp_path, seed)
    message = load_error(path)
    assert f"{path}: {expected}" in message
    for secret in (ERP_SECRET, WEBHOOK_SECRET, SUPPLIER_SECRET):
        assert secret not in message


def test_every_problem_is_reported_on_its_own_line(tmp_path: Path) -> None:
    seed = valid_seed()
    seed["members"][0]["region"] = "Germany"
    seed["suppliers"][1]["lead_time_days"] = -1
    path = write(tmp_path, seed)
    lines = load_error(path).splitlines()
    assert lines == [
        f"{path}: members[0] (id 'm-a'): region: String should match pattern '^[A-Z]{{2}}$'",
        f"{path}: suppliers[1] (id 's-b'): lead_time_days: Input should be greater than or "
        "equal to 0",
    ]


def test_secrets_stay_out_of_errors_and_reprs(tmp_path: Path) -> None:
    seed = valid_seed()
    seed["members"][0]["erp_secret"] = 12345  # wrong type: pydantic would echo the input
    seed["members"][0]["webhook"]["url"] = WEBHOOK_SECRET
    message = load_error(write(tmp_path, seed))
    assert "12345" not in message and WEBHOOK_SECRET not in message
    loaded = load_seed(write(tmp_path, valid_seed(), "good.yaml"))
    for secret in (ERP_SECRET, WEBHOOK_SECRET, SUPPLIER_SECRET):
        assert secret not in repr(loaded) and secret not in str(loaded)


def test_a_yaml_syntax_error_gives_the_position_not_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(f'members:\n  - id: m-a\n    erp_secret: "{ERP_SECRET}\n    region: [DE\n')
    message = load_error(path)
    assert message.startswith(f"{path}: not valid YAML: line ")
    assert ERP_SECRET not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [("- just\n- a list\n", "the seed must be a mapping"), ("", "the seed must be a mapping")],
)
def test_a_seed_that_is_not_a_mapping(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(content)
    assert load_error(path) == f"{path}: {expected} with cycle, members and suppliers"


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    assert load_error(path) == f"{path}: cannot read the seed file: No such file or directory"
