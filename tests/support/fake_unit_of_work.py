"""The unit of work with PostgreSQL replaced by memory, so handlers run in unit tests through
the real intake pipeline (cosmicpython's `FakeUnitOfWork`).

It is the production `UnitOfWork` (its `publish`, `dead_letter`, `quarantine`, `topic`, its
`async with`) with the transaction's three steps (`_begin`, `_commit`, `_rollback`) done in memory: what a transaction publishes and counts is kept only when it
commits (a successful `async with`), after-commit callbacks run then, and a transaction that
raised leaves the repositories and the inbox as they were. Each service's fake
(`tests/support/fake_<service>.py`) adds in-memory repositories under the real attribute and
method names.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared import topics
from shared.messaging.records import OutboundMessage
from shared.messaging.unit_of_work import (
    DETAIL_HEADER,
    REASON_HEADER,
    SOURCE_OFFSET_HEADER,
    SOURCE_TOPIC_HEADER,
    UnitOfWork,
)


@dataclass(frozen=True, slots=True)
class SetAside:
    """A record dead-lettered or quarantined: why, and which one."""

    reason: str
    detail: str
    topic: str
    offset: int
    key: bytes | None


@dataclass(frozen=True, slots=True)
class Published:
    """A CloudEvent the handlers published, read back from its bytes."""

    topic: str
    key: str | None
    type: str
    id: str
    data: Any


class FakeUnitOfWork(UnitOfWork):
    """Transactions in memory; what they committed is in `published`, `consumed` and `inbox`."""

    stores: tuple[str, ...] = ()
    """Attributes holding a service's in-memory repositories: restored when a transaction rolls back."""

    def __init__(self, topic_prefix: str = "") -> None:
        super().__init__(pool=None, topic_prefix=topic_prefix)  # type: ignore[arg-type]
        self.published: list[OutboundMessage] = []
        self.consumed: Counter[tuple[str, str]] = Counter()
        self.inbox: dict[str, set[str]] = {}
        self._saved: dict[str, Any] = {}

    async def _begin(self) -> None:
        self._saved = copy.deepcopy({name: getattr(self, name) for name in ("inbox", *self.stores)})

    async def _commit(self, messages: list[OutboundMessage]) -> None:
        self.published.extend(messages)

    async def _rollback(self) -> None:
        for name, saved in self._saved.items():
            setattr(self, name, saved)

    def count_consumed(self, topic: str, outcome: str, amount: int = 1) -> None:
        def count() -> None:
            self.consumed[(topic, outcome)] += amount

        self.after_commit(count)

    async def claim(self, consumer: str, event_ids: Iterable[str]) -> set[str]:
        """Like the inbox table: ids new to `consumer` are recorded and returned."""
        seen = self.inbox.setdefault(consumer, set())
        first_seen = set(event_ids) - seen
        seen |= first_seen
        return first_seen

    def outcomes(self, topic: str) -> Counter[str]:
        """How the committed transactions counted the records of `topic` (processed, rejected, ...)."""
        return Counter({outcome: n for (counted, outcome), n in self.consumed.items() if counted == topic})

    def messages(self, topic: str) -> list[OutboundMessage]:
        """What was published on `topic` (the prefix applied here)."""
        return [m for m in self.published if m.topic == self.topic(topic)]

    def events(self, topic: str, event_type: str | None = None) -> list[Published]:
        found = []
        for message in self.messages(topic):
            event = json.loads(message.value)
            if event_type is None or event["type"] == event_type:
                key = message.key.decode() if message.key is not None else None
                found.append(Published(message.topic, key, event["type"], event["id"], event["data"]))
        return found

    @property
    def dead_letters(self) -> list[SetAside]:
        return self._set_aside(topics.DEAD_LETTERS)

    @property
    def quarantined(self) -> list[SetAside]:
        return self._set_aside(topics.QUARANTINE)

    def _set_aside(self, topic: str) -> list[SetAside]:
        found = []
        for message in self.messages(topic):
            headers = dict(message.headers)
            found.append(
                SetAside(
                    reason=headers[REASON_HEADER].decode(),
                    detail=headers[DETAIL_HEADER].decode(),
                    topic=headers[SOURCE_TOPIC_HEADER].decode(),
                    offset=int(headers[SOURCE_OFFSET_HEADER]),
                    key=message.key,
                )
            )
        return found
