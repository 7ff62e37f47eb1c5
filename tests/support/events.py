"""Our events built through the `CloudEvent` model: the reference `event_bytes` renders the
same bytes as (tests/unit/shared/test_envelope.py), and a readable way for tests to make one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from shared.contract import CloudEvent


def new_event(
    event_type: str,
    source: str,
    data: BaseModel | dict[str, Any],
    event_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """An event of ours: built without re-validation (the data model already validated it)."""
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return CloudEvent.model_construct(
        specversion="1.0",
        datacontenttype="application/json",
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=event_type,
        time=time or datetime.now(UTC),
        data=payload,
    )


def encode(event: CloudEvent) -> bytes:
    return event.model_dump_json().encode()
