"""Authenticating a supplier's answer on `supplier.responses`.

An answer counts only when the record's key names a known supplier, that supplier signed the
exact bytes (current secret, or the previous one during a rotation, within 300 s), the data
names the same supplier, and the order it answers is that supplier's. Anything else is
quarantined with its reason and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.procurement.domain.catalog import Supplier
from services.procurement.domain.orders import OrderRecord
from shared.reasons import QuarantineReason
from shared.signing import signed_by


def authenticate_response(
    record_key: str | None,
    data: dict[str, Any] | str,
    signature_header: bytes | None,
    body: bytes,
    supplier: Supplier | None,
    now: datetime,
) -> QuarantineReason | None:
    """The key names a known supplier, which signed the bytes and is the one the data names
    (whether the order is that supplier's, `order_held` tells once the order is read). XML data
    (a document) is checked again once read into its JSON twin."""
    if supplier is None or record_key is None:
        return QuarantineReason.UNKNOWN_SUPPLIER
    if (failure := signed_by(supplier, signature_header, body, now)) is not None:
        return failure
    if isinstance(data, dict) and data.get("supplier_id") != record_key:
        return QuarantineReason.KEY_NOT_SUPPLIER
    return None


def order_held(order: OrderRecord | None, supplier: Supplier) -> QuarantineReason | None:
    """An authentic answer counts only for an order placed with that supplier."""
    if order is None or order.supplier_id != supplier.supplier_id:
        return QuarantineReason.ORDER_NOT_HELD
    return None
