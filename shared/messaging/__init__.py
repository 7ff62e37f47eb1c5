"""At-least-once messaging on any Kafka-compatible broker without Kafka transactions:
a transactional outbox, an idempotent inbox, batch consumers that commit offsets only after
the database transaction, and dead-letter/quarantine topics that keep the original bytes."""
