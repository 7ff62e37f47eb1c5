"""The intake pipeline: what every consumer does with a batch of records before its handler
decides anything, declared once per topic (`Intake`) and run the same way in every service.

decode (size and nesting limits, the CloudEvents envelope; dead-lettered when unreadable)
→ foreign keys (on a topic two services share, records the other one takes: skipped)
→ type (one the topic does not accept: dead-lettered, or skipped where others' events pass by)
→ authenticate (the record's key names its sender, who signed the bytes: quarantined otherwise)
→ documents (an XML document in the sender's own standard, contract v1.1: read into its JSON twin,
  then typed and authenticated again as that twin; `invalid_document` when it cannot be read)
→ inbox (an event that had its effect already: counted as a duplicate)
→ validate (the type's contract model: dead-lettered as `invalid_payload`)
→ the handler, with typed commands.

Only authenticated events claim inbox ids, so a forgery cannot pre-empt a genuine event id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from shared.contract import CloudEvent
from shared.documents.safe_xml import InvalidDocument
from shared.documents.standards import XML_CONTENT_TYPE
from shared.messaging.consumer import Subscription
from shared.messaging.envelope import Undecodable, decode, validation_summary
from shared.messaging.records import InboundRecord
from shared.messaging.unit_of_work import UnitOfWork
from shared.reasons import DeadLetterReason

Sender = TypeVar("Sender")


@dataclass(frozen=True, slots=True)
class Command:
    """An accepted event, as its handler receives it: authenticated, new, validated."""

    record: InboundRecord
    event: CloudEvent
    data: Any
    """The type's contract model, validated; the raw dict where the handler judges it itself."""
    sender: Any = None
    """Who signed it (a member, a supplier), on signed topics."""
    cause: str = ""
    """The event's inbox id (`<sender>:<event id>`, or the event id): what notices it causes are keyed by."""


@dataclass(frozen=True, slots=True)
class Accept:
    """An event type a topic takes."""

    model: type[BaseModel] | None
    """Its contract model; None when the handler judges the raw data itself (it answers the sender)."""
    once: bool = True
    """Claims an inbox id; False where the handler's effect is idempotent by itself (an upsert)."""


class OtherTypes(StrEnum):
    """What becomes of an event type the topic does not list."""

    DEAD_LETTER = "dead_letter"
    """The topic is ours alone: anything else is a sender's mistake."""
    SKIP = "skip"
    """The topic carries other consumers' events too."""


@dataclass(frozen=True, slots=True)
class Signed(Generic[Sender]):
    """Records keyed by their sender and signed with its secret."""

    senders: Callable[[UnitOfWork, set[str]], Awaitable[Mapping[str, Sender]]]
    """The senders the batch's keys name, by key."""
    check: Callable[[InboundRecord, CloudEvent, Sender | None, datetime], str | None]
    """The quarantine reason, or None when the sender (None: the key names nobody) signed it."""
    identity: Callable[[Sender], str]
    """The sender's id: inbox ids are `<identity>:<event id>`, so senders cannot collide."""
    foreign: Callable[[UnitOfWork, set[str], Mapping[str, Sender]], Awaitable[set[str]]] | None = None
    """Keys whose records another service takes, on a topic they share: skipped undecoded."""


BatchOfCommands = Callable[[UnitOfWork, list[Command]], Awaitable[None]]
DocumentReader = Callable[[UnitOfWork, CloudEvent, Any], Awaitable[CloudEvent]]
"""An authenticated sender's XML event read into its JSON twin (same id and source, the type its
document says); raises `InvalidDocument`."""


@dataclass(frozen=True, slots=True)
class Intake:
    """One inbound topic: what it accepts, from whom, and the handler of what passes."""

    topic: str
    description: str
    accepts: Mapping[str, Accept]
    handler: BatchOfCommands
    inbox: str = ""
    """The inbox consumer name, when any accepted type is `once`."""
    other_types: OtherTypes = OtherTypes.DEAD_LETTER
    signed: Signed[Any] | None = None
    documents: DocumentReader | None = None
    """Reads XML data (suppliers in their own standards); without it the topic takes JSON only."""

    def __post_init__(self) -> None:
        if any(accept.once for accept in self.accepts.values()) and not self.inbox:
            raise ValueError(f"{self.topic}: an event type taken once needs an inbox name")

    def subscription(self) -> Subscription:
        async def take(uow: UnitOfWork, records: Sequence[InboundRecord]) -> None:
            await take_batch(self, uow, records, datetime.now(UTC))

        return Subscription(topic=self.topic, handler=take, description=self.description)


async def take_batch(intake: Intake, uow: UnitOfWork, records: Sequence[InboundRecord], now: datetime) -> None:
    """Run the pipeline over a batch, in partition order, and hand what passes to the handler."""
    signed = intake.signed
    keys = {key for record in records if (key := record.key_text)}
    senders = await signed.senders(uow, keys) if signed else {}
    foreign = await signed.foreign(uow, keys, senders) if signed and signed.foreign else set()
    skipped = 0
    passed: list[tuple[InboundRecord, CloudEvent, Any, str]] = []
    for record in records:
        if record.key_text in foreign:
            skipped += 1
            continue
        try:
            event = decode(record.value)
        except Undecodable as error:
            uow.dead_letter(record, error.reason, error.detail)
            continue
        if event.type not in intake.accepts:
            if intake.other_types is OtherTypes.SKIP:
                skipped += 1
            else:
                detail = f"{event.type!r} is not accepted on {record.topic}"
                uow.dead_letter(record, DeadLetterReason.UNEXPECTED_EVENT_TYPE, detail)
            continue
        is_document = event.datacontenttype == XML_CONTENT_TYPE
        if is_document and intake.documents is None:
            uow.dead_letter(record, DeadLetterReason.INVALID_DOCUMENT, f"{record.topic} takes application/json only")
            continue
        sender = None
        cause = event.id
        if signed is not None:
            sender = senders.get(record.key_text or "")
            failure = signed.check(record, event, sender, now)
            if failure is not None:
                uow.quarantine(record, failure, f"event {event.id[:64]!r} failed authentication: {failure}")
                continue
            cause = f"{signed.identity(sender)}:{event.id}"
        if is_document:
            assert intake.documents is not None
            try:
                event = await intake.documents(uow, event, sender)
            except InvalidDocument as error:
                uow.dead_letter(record, error.reason, error.detail)
                continue
            if event.type not in intake.accepts:
                detail = f"the document reads as {event.type!r}, which is not accepted on {record.topic}"
                uow.dead_letter(record, DeadLetterReason.UNEXPECTED_EVENT_TYPE, detail)
                continue
            failure = signed.check(record, event, sender, now) if signed is not None else None
            if failure is not None:
                uow.quarantine(record, failure, f"event {event.id[:64]!r} failed authentication: {failure}")
                continue
        passed.append((record, event, sender, cause))
    if skipped:
        uow.count_consumed(records[0].topic, "skipped", skipped)
    fresh = await _first_seen(intake, uow, passed)
    commands = []
    for record, event, sender, cause in fresh:
        model = intake.accepts[event.type].model
        try:
            data = event.data if model is None else model.model_validate(event.data)
        except ValidationError as error:
            uow.dead_letter(record, DeadLetterReason.INVALID_PAYLOAD, validation_summary(error))
            continue
        commands.append(Command(record, event, data, sender, cause))
    if commands:
        await intake.handler(uow, commands)


async def _first_seen(
    intake: Intake, uow: UnitOfWork, passed: list[tuple[InboundRecord, CloudEvent, Any, str]]
) -> list[tuple[InboundRecord, CloudEvent, Any, str]]:
    """What has not had its effect yet: a redelivered event, or one twice in the batch, is a duplicate."""
    once = [cause for _, event, _, cause in passed if intake.accepts[event.type].once]
    if not once:
        return passed
    first_seen = await uow.claim(intake.inbox, once)
    fresh = []
    for item in passed:
        _, event, _, cause = item
        if not intake.accepts[event.type].once:
            fresh.append(item)
        elif cause in first_seen:
            first_seen.discard(cause)
            fresh.append(item)
    if len(fresh) < len(passed):
        uow.count_consumed(passed[0][0].topic, "duplicate", len(passed) - len(fresh))
    return fresh
