"""The official schemas suppliers' documents are checked against: OASIS UBL 2.1 (under PEPPOL's
rules) and openTRANS 2.1, read from the conformance kit's folder (`../shared/standards` beside
the project; the project does not copy them). Each schema is loaded once per process and its
imports resolve inside the kit only: loading a schema never touches the network.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path

from lxml import etree

from shared.documents.safe_xml import InvalidDocument


class Schema(StrEnum):
    """A schema of the kit, by its path inside the kit's folder."""

    UBL_ORDER = "ubl-2.1/xsd/maindoc/UBL-Order-2.1.xsd"
    UBL_ORDER_RESPONSE = "ubl-2.1/xsd/maindoc/UBL-OrderResponse-2.1.xsd"
    UBL_DESPATCH_ADVICE = "ubl-2.1/xsd/maindoc/UBL-DespatchAdvice-2.1.xsd"
    OPENTRANS = "opentrans-2.1/xsd/opentrans_2_1.xsd"


class _KitOnly(etree.Resolver):
    """Imports and includes resolve to files inside the kit; anything else is refused."""

    def __init__(self, kit: Path) -> None:
        super().__init__()
        self._kit = kit

    def resolve(self, system_url: str, public_id: str, context: object) -> object:
        path = Path(system_url.removeprefix("file://")).resolve()
        if not path.is_relative_to(self._kit):
            raise OSError(f"schema import outside the kit refused: {system_url}")
        return self.resolve_filename(str(path), context)


@functools.cache
def _load(kit: Path, schema: Schema) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    parser.resolvers.add(_KitOnly(kit))
    return etree.XMLSchema(etree.parse(str(kit / schema.value), parser))


class SchemaKit:
    """The kit at `directory`; `validate` raises `InvalidDocument` with the validator's message."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        missing = [schema.value for schema in Schema if not (self.directory / schema.value).is_file()]
        if missing:
            raise FileNotFoundError(f"{self.directory}: not the standards kit, missing {', '.join(missing)}")

    def load(self) -> SchemaKit:
        """Compile every schema now (a few seconds for UBL), not on the first document."""
        for schema in Schema:
            _load(self.directory, schema)
        return self

    def validate(self, root: etree._Element, schema: Schema) -> None:
        checker = _load(self.directory, schema)
        if not checker.validate(root):
            error = checker.error_log.last_error
            raise InvalidDocument(f"not valid against {Path(schema.value).name}: line {error.line}: {error.message}")
