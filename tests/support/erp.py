"""An outside integrator, written from the contract: signed CloudEvents as records."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.signing import SIGNATURE_HEADER, sign


def cloud_event(event_type: str, source: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "source": source,
            "type": event_type,
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": data,
        }
    ).encode()


def signed(secret: str, value: bytes, at: float | None = None) -> list[tuple[str, bytes]]:
    return [(SIGNATURE_HEADER, sign(secret, value, at if at is not None else time.time()).encode())]
