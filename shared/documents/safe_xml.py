"""Reading XML a supplier sent: refused before it can hurt, parsed by a parser that cannot be
talked into fetching or expanding anything.

XML's dangerous features all hang off the DOCTYPE (entities: billion laughs, external entities:
XXE, external DTDs: network access), so a document that declares one is refused before parsing.
The parser is hardened as well (no DTD loading, no entity resolution, no network, libxml2's own
limits on), the text is bounded in size, and the tree is bounded in depth, element count and the
length of each attribute and text, checked while it is read, so a hostile document is dropped
at the point it turns hostile. Schema locations are refused too: a document does not choose the
schema it is checked against.
"""

from __future__ import annotations

import re
from io import BytesIO

from lxml import etree

from shared.reasons import DeadLetterReason

MAX_DOCUMENT_BYTES = 1024 * 1024
"""A record value is at most 1 MiB (docs/contract.md, extension 4), so its document is too."""
MAX_DEPTH = 32
MAX_ELEMENTS = 200_000
MAX_VALUE_CHARS = 10_000
"""The longest attribute value or text a document may hold (a note is at most 500 chars)."""

_XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
_SCHEMA_LOCATIONS = (f"{_XSI}schemaLocation", f"{_XSI}noNamespaceSchemaLocation")
_DECLARATIONS = re.compile(r"<!(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)


class InvalidDocument(ValueError):
    """A supplier's document that is unsafe, not well-formed, not valid against its standard or
    not what its record says it is: dead-lettered with `reason` and `detail`, like `Undecodable`."""

    reason = DeadLetterReason.INVALID_DOCUMENT

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _parser_options() -> dict[str, bool]:
    return {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": False,
        "remove_comments": True,
        "remove_pis": True,
        "collect_ids": False,
    }


def parse_untrusted(document: str | bytes) -> etree._Element:
    """The document's root element, or `InvalidDocument` saying why it is refused."""
    text = document.decode("utf-8", errors="strict") if isinstance(document, bytes) else document
    data = text.encode("utf-8")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"the document has {len(data)} bytes, more than {MAX_DOCUMENT_BYTES}")
    declaration = _DECLARATIONS.search(text)
    if declaration is not None:
        raise InvalidDocument(f"the document declares <!{declaration.group(1).upper()}: DTDs and entities are refused")
    depth = elements = 0
    root: etree._Element | None = None
    try:
        for event, element in etree.iterparse(BytesIO(data), events=("start", "end"), **_parser_options()):
            if event == "end":
                depth -= 1
                _check_text(element)
                continue
            depth += 1
            elements += 1
            if root is None:
                root = element
            if depth > MAX_DEPTH:
                raise InvalidDocument(f"the document nests deeper than {MAX_DEPTH} elements")
            if elements > MAX_ELEMENTS:
                raise InvalidDocument(f"the document has more than {MAX_ELEMENTS} elements")
            _check_attributes(element)
    except etree.XMLSyntaxError as error:
        raise InvalidDocument(f"not well-formed XML: {error}") from None
    if root is None:
        raise InvalidDocument("the document is empty")
    if root.getroottree().docinfo.doctype:
        raise InvalidDocument("the document declares a DOCTYPE: DTDs and entities are refused")
    return root


def _check_attributes(element: etree._Element) -> None:
    for name, value in element.attrib.items():
        if name in _SCHEMA_LOCATIONS:
            raise InvalidDocument(f"{etree.QName(name).localname} is refused: the alliance chooses the schema")
        if len(value) > MAX_VALUE_CHARS:
            raise InvalidDocument(f"an attribute of {etree.QName(element).localname} is longer than {MAX_VALUE_CHARS}")


def _check_text(element: etree._Element) -> None:
    for text in (element.text, element.tail):
        if text is not None and len(text) > MAX_VALUE_CHARS:
            raise InvalidDocument(f"a text in {etree.QName(element).localname} is longer than {MAX_VALUE_CHARS}")
