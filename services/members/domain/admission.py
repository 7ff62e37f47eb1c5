"""Admission rules for what member ERPs publish on `erp.purchase-requests`.

Pure: given one decoded record and what the registry knows, decide its outcome. The order
of the checks is the contract's: authentication first (a failure is quarantined and told to
nobody), then member status, then the payload, then the catalog and request-id uniqueness.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.members.domain.members import Member, MemberStatus
from shared.contract import (
    EventType,
    PurchaseRequestCancelled,
    PurchaseRequestReceived,
    PurchaseRequestSubmitted,
    RejectionReason,
)
from shared.messaging.envelope import validation_summary
from shared.reasons import QuarantineReason
from shared.signing import signed_by

M = TypeVar("M", bound=BaseModel)


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    RESUBMITTED = "resubmitted"
    """Identical to an admitted request: told accepted again, never bundled twice."""
    REJECTED = "rejected"
    QUARANTINED = "quarantined"
    CANCELLATION = "cancellation"
    """Authenticated cancellation of a known request: procurement decides."""
    RECEIPT = "receipt"
    """Authenticated, valid goods receipt for a known request: procurement checks it against what
    was dispatched."""


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    reason: str = ""
    detail: str = ""
    request: PurchaseRequestSubmitted | None = None
    cancellation: PurchaseRequestCancelled | None = None
    receipt: PurchaseRequestReceived | None = None
    fingerprint: bytes = b""
    request_id: str = ""


def fingerprint(request: PurchaseRequestSubmitted) -> bytes:
    """Identity of a request's content, to tell a resubmission from a conflicting reuse."""
    return hashlib.sha256(request.model_dump_json().encode()).digest()


def authenticate(
    record_key: str | None,
    data: dict[str, Any],
    signature_header: bytes | None,
    body: bytes,
    member: Member | None,
    now: datetime,
) -> QuarantineReason | None:
    """Key names a known member, that member signed the bytes, and the data names it too."""
    if member is None or record_key is None:
        return QuarantineReason.UNKNOWN_MEMBER
    if (failure := signed_by(member, signature_header, body, now)) is not None:
        return failure
    if data.get("member_id") != record_key:
        return QuarantineReason.KEY_NOT_MEMBER
    return None


def assess_submission(
    data: dict[str, Any],
    member: Member,
    known_skus: frozenset[str] | set[str],
    existing_fingerprint: bytes | None,
) -> Verdict:
    """Decide an authenticated `purchase_request.submitted`."""
    request_id = str(data.get("request_id", ""))[:64]
    if member.status is MemberStatus.SUSPENDED:
        return Verdict(Outcome.REJECTED, RejectionReason.MEMBER_SUSPENDED,
                       "the member is suspended; the alliance accepts no requests from it",
                       request_id=request_id)
    try:
        request = PurchaseRequestSubmitted.model_validate(data)
    except ValidationError as error:
        return Verdict(Outcome.REJECTED, RejectionReason.INVALID_PAYLOAD, validation_summary(error),
                       request_id=request_id)
    if request.sku not in known_skus:
        return Verdict(Outcome.REJECTED, RejectionReason.UNKNOWN_SKU,
                       f"sku {request.sku!r} is not in the alliance's catalog", request_id=request.request_id)
    content = fingerprint(request)
    if existing_fingerprint is not None:
        if existing_fingerprint == content:
            return Verdict(Outcome.RESUBMITTED, request=request, fingerprint=content, request_id=request.request_id)
        return Verdict(Outcome.REJECTED, RejectionReason.DUPLICATE_REQUEST,
                       "request_id was already used with different content", request_id=request.request_id)
    return Verdict(Outcome.ACCEPTED, request=request, fingerprint=content, request_id=request.request_id)


def assess_cancellation(data: dict[str, Any], member: Member, request_known: bool) -> Verdict:
    """Decide an authenticated `purchase_request.cancelled` (whether it is too late is procurement's call)."""
    return _about_an_admitted_request(
        data, PurchaseRequestCancelled, request_known,
        lambda cancellation, request_id: Verdict(Outcome.CANCELLATION, cancellation=cancellation,
                                                  request_id=request_id),
    )


def assess_receipt(data: dict[str, Any], request_known: bool) -> Verdict:
    """Decide an authenticated `purchase_request.received` (v1.1): valid and for one of the member's
    own requests (another member's is unknown to it); whether it fits what was dispatched is
    procurement's call. A suspended member's goods still arrive, so its receipts count."""
    return _about_an_admitted_request(
        data, PurchaseRequestReceived, request_known,
        lambda receipt, request_id: Verdict(Outcome.RECEIPT, receipt=receipt, request_id=request_id),
    )


def _about_an_admitted_request(
    data: dict[str, Any], model: type[M], request_known: bool, accepted: Callable[[M, str], Verdict]
) -> Verdict:
    """Valid as `model` and naming one of the member's admitted requests, else rejected to it."""
    request_id = str(data.get("request_id", ""))[:64]
    try:
        event = model.model_validate(data)
    except ValidationError as error:
        return Verdict(Outcome.REJECTED, RejectionReason.INVALID_PAYLOAD, validation_summary(error),
                       request_id=request_id)
    if not request_known:
        return Verdict(Outcome.REJECTED, RejectionReason.UNKNOWN_REQUEST,
                       "no admitted request with this request_id", request_id=request_id)
    return accepted(event, request_id)


ADMISSION_TYPES = frozenset({
    EventType.PURCHASE_REQUEST_SUBMITTED, EventType.PURCHASE_REQUEST_CANCELLED, EventType.PURCHASE_REQUEST_RECEIVED,
})
