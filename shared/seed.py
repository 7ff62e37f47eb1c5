"""The seed file: the alliance's members, suppliers, cycle schedule and shared risk buffers, as
`alliance run` loads it.

Validation is strict (unknown keys are errors, so a typo never silently drops a setting) and
every error names the file, the entry and the field, so an operator can fix the seed without
reading a traceback. Secrets are `SecretStr`: they never show in a repr or an error message.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.contract import (
    ALLIANCE_MEMBER_ID,
    JSON_INTEGER,
    CountryCode,
    Identifier,
    Severity,
    UnitPrice,
)

SupplierId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
"""Like any id, but without ':' because it becomes part of a Kafka topic name."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Category = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$")]
EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Locale = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")]
VatId = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Za-z0-9+*.]{2,13}$")]
"""A VAT identification number with its country prefix, e.g. DE123456789 (Greece: EL)."""
DocumentStandard = Literal["cloudevents", "peppol-bis3", "opentrans-2.1"]
"""What a supplier's orders and answers are written in (docs/suppliers.md)."""


class SeedError(Exception):
    """A seed file that cannot be used; the message says where and why, one line per problem."""


def _gln_check_digit_ok(digits: str) -> bool:
    """GS1's mod-10 check digit, which PEPPOL checks for scheme 0088 (rule PEPPOL-COMMON-R040)."""
    body, check = digits[:-1], int(digits[-1])
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - weighted % 10) % 10 == check


def _peppol_id(value: str) -> str:
    scheme, _, identifier = value.partition(":")
    if scheme == "0088" and not (identifier.isdigit() and len(identifier) == 13 and _gln_check_digit_ok(identifier)):
        raise ValueError("a 0088 peppol_id is a GLN: 13 digits with a valid check digit")
    return value


PeppolId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}:[A-Za-z0-9][A-Za-z0-9._:-]{0,49}$"),
    AfterValidator(_peppol_id),
]
"""A PEPPOL participant id as `<scheme>:<id>`, e.g. 0088:4012345000009 (ISO 6523 ICD, then the id)."""


def _invalid(text: str) -> PydanticCustomError:
    """A validation error whose text is used as is (no template expansion of ids)."""
    return PydanticCustomError("seed_invalid", "{detail}", {"detail": text})


class SeedModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Secret = Annotated[SecretStr, Field(min_length=1)]


def _one_secret(field: str) -> ConfigDict:
    """`_resolve_secret`'s rule in the JSON Schema, so the admin API's document states it too."""
    given = [{"required": [name], "properties": {name: {"type": "string"}}} for name in (field, f"{field}_env")]
    return ConfigDict(json_schema_extra={"oneOf": given})


def _resolve_secret(model: Any, field: str) -> None:
    """Fill `<field>` from the environment variable named by `<field>_env`; exactly one is given."""
    value: SecretStr | None = getattr(model, field)
    env_name: str | None = getattr(model, f"{field}_env")
    if (value is None) == (env_name is None):
        raise _invalid(f"give exactly one of {field} and {field}_env")
    if env_name is not None:
        from_env = os.environ.get(env_name)
        if not from_env:
            raise _invalid(
                f"{field}_env: environment variable {env_name} is not set or empty",
            )
        object.__setattr__(model, field, SecretStr(from_env))


class Cycle(SeedModel):
    interval_seconds: Annotated[int, Field(ge=1), JSON_INTEGER]
    """An order cycle closes this often."""
    max_supplier_share: Annotated[float, Field(ge=0.5, le=1.0)] = 0.7
    """Cap per SKU and cycle on one supplier's share when 2+ suppliers are eligible (0.5-1)."""


class Webhook(SeedModel):
    model_config = _one_secret("secret")

    url: HttpUrl
    secret: Secret | None = None
    secret_env: EnvVarName | None = None

    @model_validator(mode="after")
    def _secret(self) -> Webhook:
        _resolve_secret(self, "secret")
        return self


class Interests(SeedModel):
    categories: list[Category] = []
    min_risk_severity: Severity = Severity.MEDIUM


def _not_reserved(member_id: str) -> str:
    if member_id == ALLIANCE_MEMBER_ID:
        raise _invalid(f"'{ALLIANCE_MEMBER_ID}' is reserved: the alliance's own requests to its risk buffers use it")
    return member_id


class Member(SeedModel):
    model_config = _one_secret("erp_secret")

    id: Annotated[Identifier, AfterValidator(_not_reserved)]
    name: Name
    erp_secret: Secret | None = None
    erp_secret_env: EnvVarName | None = None
    webhook: Webhook | None = None
    email: Email | None = None
    region: CountryCode
    interests: Interests = Interests()
    locale: Locale = "de"
    status: Literal["active", "suspended"] = "active"
    peppol_id: PeppolId | None = None
    """Names the member as a delivery party in PEPPOL and openTRANS orders."""
    vat_id: VatId | None = None

    @model_validator(mode="after")
    def _secret_and_channel(self) -> Member:
        _resolve_secret(self, "erp_secret")
        if self.webhook is None and self.email is None:
            raise _invalid("a member needs a webhook or an email to be told anything")
        return self


class Tier(SeedModel):
    """All-units pricing: the whole quantity gets the price of the highest tier it reaches."""

    min_quantity: Annotated[int, Field(ge=1), JSON_INTEGER]
    unit_price: Annotated[UnitPrice, Field(gt=0)]


class CatalogItem(SeedModel):
    sku: Identifier
    name: Name
    category: Category
    unit: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    capacity_per_cycle: Annotated[int, Field(ge=1), JSON_INTEGER]
    min_order_quantity: Annotated[int, Field(ge=1), JSON_INTEGER] = 1
    tiers: Annotated[list[Tier], Field(min_length=1)]

    @model_validator(mode="after")
    def _orderable(self) -> CatalogItem:
        quantities = [tier.min_quantity for tier in self.tiers]
        if quantities != sorted(set(quantities)):
            raise _invalid("tiers: min_quantity must be strictly increasing")
        if quantities[0] > self.min_order_quantity:
            raise _invalid(
                "tiers[0].min_quantity: the first tier must start at or below "
                f"min_order_quantity ({self.min_order_quantity}), so every orderable quantity "
                "has a price",
            )
        if self.capacity_per_cycle < self.min_order_quantity:
            raise _invalid(
                "capacity_per_cycle: smaller than min_order_quantity, nothing could be ordered",
            )
        return self


OPENTRANS_MAX_SKU_CHARS = 32
"""BMEcat's SUPPLIER_PID, where an openTRANS ORDER names the item, holds at most 32 characters
(the contract's SKUs up to 64)."""


class Supplier(SeedModel):
    model_config = _one_secret("secret")

    id: SupplierId
    name: Name
    secret: Secret | None = None
    secret_env: EnvVarName | None = None
    regions: Annotated[list[CountryCode], Field(min_length=1)]
    lead_time_days: Annotated[int, Field(ge=0), JSON_INTEGER]
    catalog: list[CatalogItem] = []
    documents: DocumentStandard = "cloudevents"
    """`cloudevents` (v1 JSON), `peppol-bis3` or `opentrans-2.1`: what its orders and answers are."""
    peppol_id: PeppolId | None = None
    vat_id: VatId | None = None

    @model_validator(mode="after")
    def _secret_and_unique_skus(self) -> Supplier:
        _resolve_secret(self, "secret")
        if self.documents != "cloudevents" and (self.peppol_id is None or self.vat_id is None):
            raise _invalid(f"documents: {self.documents} needs the supplier's peppol_id and vat_id")
        first_index: dict[str, int] = {}
        for index, item in enumerate(self.catalog):
            if self.documents == "opentrans-2.1" and len(item.sku) > OPENTRANS_MAX_SKU_CHARS:
                raise _invalid(
                    f"catalog[{index}] (sku '{item.sku}'): sku: openTRANS carries it as SUPPLIER_PID, at most "
                    f"{OPENTRANS_MAX_SKU_CHARS} characters",
                )
            if item.sku in first_index:
                raise _invalid(
                    f"catalog[{index}] (sku '{item.sku}'): sku: listed twice, first at "
                    f"catalog[{first_index[item.sku]}]",
                )
            first_index[item.sku] = index
        return self


def _not_negative(value: Any) -> Any:
    """Named before the amount's own check, whose message ("a decimal string") hides the sign."""
    if (isinstance(value, str) and value.strip().startswith("-")) or (
        isinstance(value, int | float) and not isinstance(value, bool) and value < 0
    ):
        raise _invalid("a cost must not be negative")
    return value


class Warehouse(SeedModel):
    """Where a risk buffer is stocked: the `ship_to` of the alliance's own deliveries."""

    site: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: CountryCode


class PostalAddress(SeedModel):
    street: Name
    city: Name
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20)]
    country: CountryCode


class RiskBuffer(SeedModel):
    """A pooled safety stock of one SKU for the members subscribed to it (contract: "Shared risk
    buffers"); `docs/risk-buffers.md` explains how it is sized, stocked, shared and drawn."""

    sku: Identifier
    warehouse: Warehouse
    service_level: Annotated[float, Field(gt=0.5, lt=0.9999)]
    """Share of cycles whose shortfall the buffer should cover."""
    holding_cost_per_unit_and_cycle: Annotated[UnitPrice, BeforeValidator(_not_negative)]
    history_cycles: Annotated[int, Field(ge=2, le=1000), JSON_INTEGER] = 12
    """The demand window: this many closed cycles; below 2 the target is 0."""
    statement_every_cycles: Annotated[int, Field(ge=1, le=10_000), JSON_INTEGER] = 10
    members: list[Identifier] = []
    """The subscribers; `alliance buffers subscribe` changes them at run time."""

    @model_validator(mode="after")
    def _subscribed_once(self) -> RiskBuffer:
        seen: set[str] = set()
        for index, member_id in enumerate(self.members):
            if member_id in seen:
                raise _invalid(f"members[{index}]: '{member_id}' is listed twice")
            seen.add(member_id)
        return self


def risk_buffer_problem(buffer: RiskBuffer, member_ids: Collection[str], suppliers: Sequence[Supplier]) -> str | None:
    """What makes `buffer` unusable among these members and suppliers, as "field: why", or None.

    The seed checks every buffer with it; the admin API checks one it is given the same way."""
    offering = [s for s in suppliers if any(item.sku == buffer.sku for item in s.catalog)]
    if not offering:
        return f"sku: no supplier's catalog lists '{buffer.sku}'"
    if not any(buffer.warehouse.country in s.regions for s in offering):
        return (
            f"warehouse.country: no supplier of '{buffer.sku}' delivers to {buffer.warehouse.country}, "
            "so the buffer could never be stocked"
        )
    known = set(member_ids)
    for index, member_id in enumerate(buffer.members):
        if member_id not in known:
            return f"members[{index}]: '{member_id}' is not a member of the alliance"
    return None


class AllianceParty(SeedModel):
    """The alliance itself, the buyer of every joint order in the documents XML suppliers get."""

    name: Name
    peppol_id: PeppolId
    vat_id: VatId
    address: PostalAddress


class Seed(SeedModel):
    cycle: Cycle
    alliance: AllianceParty | None = None
    members: list[Member] = []
    suppliers: list[Supplier] = []
    risk_buffers: list[RiskBuffer] = []

    @model_validator(mode="after")
    def _consistent(self) -> Seed:
        _unique_ids("members", self.members)
        _unique_ids("suppliers", self.suppliers)
        self._check_risk_buffers()
        if self.alliance is None:
            for index, supplier in enumerate(self.suppliers):
                if supplier.documents != "cloudevents":
                    raise _invalid(
                        f"suppliers[{index}] (id '{supplier.id}'): documents: {supplier.documents} needs the "
                        "seed's alliance entry (name, peppol_id, vat_id, address): the alliance is the buyer",
                    )
        offered: dict[str, tuple[str, CatalogItem]] = {}
        for s_index, supplier in enumerate(self.suppliers):
            for c_index, item in enumerate(supplier.catalog):
                where = (
                    f"suppliers[{s_index}] (id '{supplier.id}'): "
                    f"catalog[{c_index}] (sku '{item.sku}')"
                )
                if item.sku not in offered:
                    offered[item.sku] = (f"suppliers[{s_index}]", item)
                    continue
                first_where, first = offered[item.sku]
                for field in ("category", "unit"):
                    if getattr(item, field) != getattr(first, field):
                        raise _invalid(
                            f"{where}: {field}: '{getattr(item, field)}' differs from "
                            f"'{getattr(first, field)}' of the same sku at {first_where}",
                        )
        categories = {item.category for _, item in offered.values()}
        for m_index, member in enumerate(self.members):
            for i, category in enumerate(member.interests.categories):
                if category not in categories:
                    raise _invalid(
                        f"members[{m_index}] (id '{member.id}'): interests.categories[{i}]: "
                        f"no supplier offers category '{category}' (known: "
                        f"{', '.join(sorted(categories)) or 'none'})",
                    )
        return self

    def _check_risk_buffers(self) -> None:
        member_ids = [member.id for member in self.members]
        first_index: dict[str, int] = {}
        for index, buffer in enumerate(self.risk_buffers):
            where = f"risk_buffers[{index}] (sku '{buffer.sku}')"
            if buffer.sku in first_index:
                raise _invalid(f"{where}: sku: already has a buffer at risk_buffers[{first_index[buffer.sku]}]")
            first_index[buffer.sku] = index
            problem = risk_buffer_problem(buffer, member_ids, self.suppliers)
            if problem is not None:
                raise _invalid(f"{where}: {problem}")


def _unique_ids(section: str, entries: list[Member] | list[Supplier]) -> None:
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if entry.id in first_index:
            raise _invalid(
                f"{section}[{index}] (id '{entry.id}'): id: already used by "
                f"{section}[{first_index[entry.id]}]",
            )
        first_index[entry.id] = index


def load_seed(path: str | Path) -> Seed:
    """Read and validate a seed file (YAML or JSON); raise `SeedError` naming what is wrong."""
    shown = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"{shown}: cannot read the seed file: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SeedError(f"{shown}: not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise SeedError(f"{shown}: the seed must be a mapping with cycle, members and suppliers")
    try:
        return Seed.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{shown}: {_describe(error, raw)}" for error in exc.errors(include_input=False)]
        raise SeedError("\n".join(lines)) from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """Position and problem only: the offending line's text could hold a secret."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "syntax error"
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


_ENTRY_KEYS = {"members": "id", "suppliers": "id", "risk_buffers": "sku"}
"""The field that names an entry of each list in an error message."""


def _describe(error: Any, raw: dict[str, Any]) -> str:
    """`members[2] (id 'm-huber'): webhook.url: Input should be a valid URL`."""
    loc = list(error["loc"])
    msg = error["msg"].removeprefix("Value error, ")
    parts: list[str] = []
    if len(loc) >= 2 and loc[0] in _ENTRY_KEYS and isinstance(loc[1], int):
        entry = _item(raw.get(loc[0]), loc[1])
        parts.append(f"{loc[0]}[{loc[1]}]{_label(entry, _ENTRY_KEYS[loc[0]])}")
        loc = loc[2:]
        if len(loc) >= 2 and loc[0] == "catalog" and isinstance(loc[1], int):
            item = _item(entry.get("catalog") if isinstance(entry, dict) else None, loc[1])
            parts.append(f"catalog[{loc[1]}]{_label(item, 'sku')}")
            loc = loc[2:]
    if loc:
        parts.append(_dotted(loc))
    return ": ".join([*parts, msg])


def _item(sequence: Any, index: int) -> Any:
    return sequence[index] if isinstance(sequence, list) and 0 <= index < len(sequence) else None


def _label(entry: Any, key: str) -> str:
    value = entry.get(key) if isinstance(entry, dict) else None
    return f" ({key} '{value}')" if isinstance(value, str | int) else ""


def _dotted(loc: list[str | int]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
