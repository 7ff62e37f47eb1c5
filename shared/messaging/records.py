"""Broker-neutral records: what a handler consumes and what it asks the outbox to publish."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class InboundRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int = 0

    def header(self, name: str) -> bytes | None:
        for header_name, value in self.headers:
            if header_name == name:
                return value
        return None

    @property
    def key_text(self) -> str | None:
        if self.key is None:
            return None
        try:
            return self.key.decode("utf-8")
        except UnicodeDecodeError:
            return None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = field(default=())
    compressed: bool = False
    """Kept zstd-compressed in the outbox and sent in a zstd-compressed record batch: only for
    consumers known to read one (the XML suppliers of contract v1.1, docs/contract.md); v1's
    records are never compressed."""
