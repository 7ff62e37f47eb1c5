"""The official schemas suppliers' documents are checked against: OASIS UBL 2.1 (under PEPPOL's
rules) and openTRANS 2.1, read from the conformance kit's folder (`../shared/standards` beside
the project; the project does not copy them). Each schema is loaded once per process and its
imports resolve inside the kit only: loading a schema never touches the network.

A kit made `for_reading` compiles openTRANS with BMEcat's unit type (`dtPUNIT`, 1,100 UN/ECE codes)
restricted to the unit the alliance orders in. libxml2 walks every facet of a type for each value
it checks, so each item's ORDER_UNIT cost ~15 µs, more than half of a ten-item document's
validation; the readers refuse any other unit anyway, so the restriction changes what a refusal
says, never what is accepted. The official schemas, unchanged, are what the tests hold the
documents the alliance writes to.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path

from lxml import etree

from shared.documents.safe_xml import InvalidDocument
from shared.documents.writing import UNIT


class Schema(StrEnum):
    """A schema of the kit, by its path inside the kit's folder."""

    UBL_ORDER = "ubl-2.1/xsd/maindoc/UBL-Order-2.1.xsd"
    UBL_ORDER_RESPONSE = "ubl-2.1/xsd/maindoc/UBL-OrderResponse-2.1.xsd"
    UBL_DESPATCH_ADVICE = "ubl-2.1/xsd/maindoc/UBL-DespatchAdvice-2.1.xsd"
    OPENTRANS = "opentrans-2.1/xsd/opentrans_2_1.xsd"


_BMECAT = "opentrans-2.1/xsd/bmecat_2005.xsd"
_XSD = {"xsd": "http://www.w3.org/2001/XMLSchema"}


class _KitOnly(etree.Resolver):
    """Imports and includes resolve to files inside the kit; anything else is refused."""

    def __init__(self, kit: Path, units: frozenset[str] | None) -> None:
        super().__init__()
        self._kit = kit
        self._units = units

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        path = Path(system_url.removeprefix("file://")).resolve()
        if not path.is_relative_to(self._kit):
            raise OSError(f"schema import outside the kit refused: {system_url}")
        if self._units is not None and path == self._kit / _BMECAT:
            return self.resolve_string(_with_units(path, self._units), context, base_url=str(path))
        return self.resolve_filename(str(path), context)


def _with_units(bmecat: Path, units: frozenset[str]) -> bytes:
    """BMEcat's schema with `dtPUNIT` enumerating only `units` (a restriction: every document it
    accepts, the official schema accepts)."""
    tree = etree.parse(str(bmecat), etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    codes = tree.xpath("//xsd:simpleType[@name='dtPUNIT']/xsd:restriction/xsd:enumeration", namespaces=_XSD)
    if not {code.get("value") for code in codes} >= units:
        raise ValueError(f"{bmecat}: dtPUNIT does not list {', '.join(sorted(units))}")
    for code in codes:
        if code.get("value") not in units:
            code.getparent().remove(code)
    return etree.tostring(tree)


@functools.cache
def _load(kit: Path, schema: Schema, units: frozenset[str] | None) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_KitOnly(kit, units))
    return etree.XMLSchema(etree.parse(str(kit / schema.value), parser))


class SchemaKit:
    """The kit at `directory`; `validate` raises `InvalidDocument` with the validator's message."""

    def __init__(self, directory: Path, units: frozenset[str] | None = None) -> None:
        self.directory = directory.resolve()
        self.units = units
        missing = [schema.value for schema in Schema if not (self.directory / schema.value).is_file()]
        if missing:
            raise FileNotFoundError(f"{self.directory}: not the standards kit, missing {', '.join(missing)}")

    @classmethod
    def for_reading(cls, directory: Path) -> SchemaKit:
        """The kit suppliers' documents are read with: openTRANS quantities in the ordered unit only."""
        return cls(directory, frozenset({UNIT}))

    def load(self) -> SchemaKit:
        """Compile every schema now (a few seconds for UBL), not on the first document."""
        for schema in Schema:
            _load(self.directory, schema, self.units)
        return self

    def validate(self, root: etree._Element, schema: Schema) -> None:
        checker = _load(self.directory, schema, self.units)
        if not checker.validate(root):
            error = checker.error_log.last_error
            raise InvalidDocument(f"not valid against {Path(schema.value).name}: line {error.line}: {error.message}")
