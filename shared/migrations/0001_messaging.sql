-- The transactional outbox and the idempotent inbox, in every service's database.
CREATE TABLE IF NOT EXISTS outbox (
    id            bigserial PRIMARY KEY,
    topic         text        NOT NULL,
    key           bytea,
    value         bytea       NOT NULL,
    header_names  text[]      NOT NULL DEFAULT '{}',
    header_values bytea[]     NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts      integer     NOT NULL DEFAULT 0,
    last_error    text
);

CREATE TABLE IF NOT EXISTS inbox (
    consumer    text        NOT NULL,
    event_id    text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
