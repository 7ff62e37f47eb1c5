"""A service's intake pipeline as its consumer runs it, for tests that hand it records directly."""

from __future__ import annotations

from collections.abc import Sequence

from shared.messaging.consumer import BatchHandler, Subscription


def intake_of(subscriptions: Sequence[Subscription], topic: str) -> BatchHandler:
    """What the service's consumer does with a batch from `topic`: decode, authenticate, dedupe,
    validate, handle."""
    [subscription] = [s for s in subscriptions if s.topic == topic]
    return subscription.handler
