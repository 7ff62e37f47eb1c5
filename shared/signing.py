"""HMAC signatures of the contract: `alliance-signature: t=<unix seconds>,v1=<hex>`.

hex = HMAC-SHA256(secret, "<t>." + raw bytes). Valid when it matches the sender's current
secret, or its previous one while the rotation grace period lasts, and |now - t| <= 300 s.
Comparison is constant-time; the reason a signature fails is returned, never the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from shared.reasons import QuarantineReason

SIGNATURE_HEADER = "alliance-signature"
DELIVERY_ID_HEADER = "alliance-delivery-id"
TOLERANCE_SECONDS = 300


class SignatureFailure(StrEnum):
    MISSING = "missing_signature"
    MALFORMED = "malformed_signature"
    STALE = "stale_timestamp"
    MISMATCH = "bad_signature"


def signature_hex(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, now: float | None = None) -> str:
    """The header value for `body`, signed now."""
    timestamp = int(time.time() if now is None else now)
    return f"t={timestamp},v1={signature_hex(secret, timestamp, body)}"


@dataclass(frozen=True, slots=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]


_USUAL_HEADER = re.compile(rb"t=(\d{1,12}),v1=([0-9a-f]{64})")
"""What our own signers and most integrators send: one lower-case signature, no spaces."""


def parse_header(value: str | bytes | None) -> ParsedSignature | SignatureFailure:
    if value is None or value in (b"", ""):
        return SignatureFailure.MISSING
    if isinstance(value, bytes) and (usual := _USUAL_HEADER.fullmatch(value)):
        return ParsedSignature(int(usual[1]), (usual[2].decode(),))
    try:
        text = value.decode("ascii") if isinstance(value, bytes) else value
        timestamp: int | None = None
        signatures: list[str] = []
        for part in text.split(","):
            name, _, item = part.strip().partition("=")
            if name == "t":
                if not item.isdigit() or len(item) > 12:  # unix seconds; larger ones can't be real
                    return SignatureFailure.MALFORMED
                timestamp = int(item)
            elif name == "v1" and len(item) == 64:
                signatures.append(item.lower())
    except (UnicodeDecodeError, ValueError):
        return SignatureFailure.MALFORMED
    if timestamp is None or not signatures:
        return SignatureFailure.MALFORMED
    return ParsedSignature(timestamp, tuple(signatures))


def verify(
    header: str | bytes | None,
    body: bytes,
    secrets: Iterable[str],
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> SignatureFailure | None:
    """None when valid for one of `secrets` (current first, then any still in grace)."""
    parsed = parse_header(header)
    if isinstance(parsed, SignatureFailure):
        return parsed
    current = time.time() if now is None else now
    if abs(current - parsed.timestamp) > tolerance:
        return SignatureFailure.STALE
    matched = False
    for secret in secrets:
        expected = signature_hex(secret, parsed.timestamp, body)
        for candidate in parsed.signatures:
            matched |= hmac.compare_digest(expected, candidate)
    return None if matched else SignatureFailure.MISMATCH


class Signer(Protocol):
    """A member or supplier: signs with its current secret, or the previous one in its grace."""

    def verification_secrets(self, now: datetime) -> list[str]: ...


def signed_by(signer: Signer, header: str | bytes | None, body: bytes, now: datetime) -> QuarantineReason | None:
    """None when `signer` signed these exact bytes within the tolerance; else the quarantine reason."""
    failure = verify(header, body, signer.verification_secrets(now), now=now.timestamp())
    return None if failure is None else QuarantineReason(failure.value)
