"""Reading XML a supplier sent: refused before it can hurt, parsed by a parser that cannot be
talked into fetching or expanding anything.

XML's dangerous features all hang off the DOCTYPE (entities: billion laughs, external entities:
XXE, external DTDs: network access), so a document that declares one is refused before parsing.
The parser is hardened as well (no DTD loading, no entity resolution, no network, libxml2's own
limits on), the text is bounded in size before parsing, and the tree in depth, element count and
the length of each attribute before anything reads it (C-speed XPath checks: reading
must keep up with 2,000 documents a second). Schema locations are refused too: a document does not choose the
schema it is checked against.
"""

from __future__ import annotations

import re

from lxml import etree

from shared.contract import MAX_EVENT_BYTES
from shared.reasons import DeadLetterReason

MAX_DOCUMENT_BYTES = MAX_EVENT_BYTES
"""A record value is at most 1 MiB (docs/contract.md, extension 4), so its document is too."""
MAX_DEPTH = 32
MAX_ELEMENTS = 200_000
MAX_VALUE_CHARS = 10_000
"""The longest attribute value a document may hold (texts are bounded by the document's size, and
each field the alliance reads by its contract model: a note is at most 500 characters)."""

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


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)
"""libxml2 with no entity expansion, no DTD, no network, and its own limits on (nesting beyond
256, text beyond 10 MB): the parse itself is bounded before the checks below run."""
_TOO_DEEP_TEST = "/*" + "/*" * MAX_DEPTH
_TOO_MANY_TEST = f"count(//*) > {MAX_ELEMENTS}"
_LONG_ATTRIBUTE_TEST = f"//@*[string-length(.) > {MAX_VALUE_CHARS}]"
_SCHEMA_LOCATION_TEST = "//@xsi:schemaLocation | //@xsi:noNamespaceSchemaLocation"
_XSI_PREFIX = {"xsi": "http://www.w3.org/2001/XMLSchema-instance"}
_REFUSED = etree.XPath(
    f"boolean({_TOO_DEEP_TEST}) or {_TOO_MANY_TEST} or boolean({_LONG_ATTRIBUTE_TEST})"
    f" or boolean({_SCHEMA_LOCATION_TEST})",
    namespaces=_XSI_PREFIX,
)
"""All the checks below in one XPath call: a document that passes them (nearly all) pays one."""
_TOO_DEEP = etree.XPath(f"boolean({_TOO_DEEP_TEST})")
_TOO_MANY = etree.XPath(_TOO_MANY_TEST)
_LONG_ATTRIBUTE = etree.XPath(f"boolean({_LONG_ATTRIBUTE_TEST})")
_SCHEMA_LOCATION = etree.XPath(f"boolean({_SCHEMA_LOCATION_TEST})", namespaces=_XSI_PREFIX)


def parse_untrusted(document: str | bytes) -> etree._Element:
    """The document's root element, or `InvalidDocument` saying why it is refused."""
    text = document.decode("utf-8", errors="strict") if isinstance(document, bytes) else document
    data = text.encode("utf-8")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidDocument(f"the document has {len(data)} bytes, more than {MAX_DOCUMENT_BYTES}")
    declaration = _DECLARATIONS.search(text)
    if declaration is not None:
        raise InvalidDocument(f"the document declares <!{declaration.group(1).upper()}: DTDs and entities are refused")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise InvalidDocument(f"not well-formed XML: {error}") from None
    if root.getroottree().docinfo.doctype:
        raise InvalidDocument("the document declares a DOCTYPE: DTDs and entities are refused")
    if not _REFUSED(root):
        return root
    if _TOO_DEEP(root):
        raise InvalidDocument(f"the document nests deeper than {MAX_DEPTH} elements")
    if _TOO_MANY(root):
        raise InvalidDocument(f"the document has more than {MAX_ELEMENTS} elements")
    if _LONG_ATTRIBUTE(root):
        raise InvalidDocument(f"an attribute value is longer than {MAX_VALUE_CHARS} characters")
    if _SCHEMA_LOCATION(root):
        raise InvalidDocument("a schemaLocation is refused: the alliance chooses the schema")
    return root
