"""The alliance's own shared package: contract, envelope and signing, outbox/inbox, settings,
metrics and the embedded runtime used by all three services."""
