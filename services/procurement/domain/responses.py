"""Authenticating a supplier's answer on `supplier.responses`.

An answer counts only when the record's key names a known supplier, that supplier signed the
exact bytes (current secret, or the previous one during a rotation, within 300 s), the data
names the same supplier, and the order it answers is that supplier's. Anything else is
quarantined with its reason and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from services.procurement.domain.catalog import Supplier
from services.procurement.domain.orders import OrderRecord
from shared.signing import verify


class ResponseQuarantine(StrEnum):
    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_SIGNATURE = "malformed_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_SUPPLIER = "unknown_supplier"
    KEY_MISMATCH = "key_not_supplier"
    ORDER_NOT_HELD = "order_not_held"


def authenticate_response(
    record_key: str | None,
    data: dict[str, Any],
    signature_header: bytes | None,
    body: bytes,
    supplier: Supplier | None,
    order: OrderRecord | None,
    now: datetime,
) -> ResponseQuarantine | None:
    if supplier is None or record_key is None:
        return ResponseQuarantine.UNKNOWN_SUPPLIER
    failure = verify(signature_header, body, supplier.verification_secrets(now), now=now.timestamp())
    if failure is not None:
        return ResponseQuarantine(failure.value)
    if data.get("supplier_id") != record_key:
        return ResponseQuarantine.KEY_MISMATCH
    if order is None or order.supplier_id != supplier.supplier_id:
        return ResponseQuarantine.ORDER_NOT_HELD
    return None
