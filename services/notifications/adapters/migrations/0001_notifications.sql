-- What notifications knows of each member, projected from alliance.members.events.
CREATE TABLE member_channels (
    member_id         text PRIMARY KEY,
    name              text        NOT NULL,
    locale            text        NOT NULL DEFAULT 'de',
    email             text,
    webhook_url       text,
    webhook_secret    text,
    min_risk_severity text        NOT NULL DEFAULT 'medium',
    profile_time      timestamptz NOT NULL,  -- the profile event's time: an older one never overwrites
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Preferences admins set for a member; a member without a row has the defaults.
CREATE TABLE preferences (
    member_id         text PRIMARY KEY,
    disabled_types    text[]      NOT NULL DEFAULT '{}',
    min_risk_severity text,                  -- null: the member's declared interest
    daily_digest      boolean     NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- Every notice once, keyed by the id of the request that asked for it (the delivery id).
CREATE TABLE notices (
    notice_id   text PRIMARY KEY,
    member_id   text        NOT NULL,
    notice_type text        NOT NULL,
    data        jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL,
    stored_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    routed_at   timestamptz,             -- null: the member is not known yet
    suppressed  text                     -- why no channel carries it
);
CREATE INDEX notices_unrouted ON notices (member_id) WHERE routed_at IS NULL;
CREATE INDEX notices_by_member ON notices (member_id, stored_at);

-- One row per notice and channel: the delivery state workers share through row locks.
CREATE TABLE deliveries (
    id               bigserial PRIMARY KEY,
    notice_id        text        NOT NULL REFERENCES notices,
    member_id        text        NOT NULL,
    channel          text        NOT NULL CHECK (channel IN ('webhook', 'email')),
    status           text        NOT NULL CHECK (status IN ('pending', 'held', 'digested', 'delivered', 'dead', 'discarded')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    deadline         timestamptz NOT NULL,
    lease_token      uuid,
    lease_until      timestamptz,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz,
    dead_at          timestamptz,
    digest_id        text,
    UNIQUE (notice_id, channel)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_overdue ON deliveries (deadline) WHERE status = 'pending';
CREATE INDEX deliveries_held ON deliveries (next_attempt_at) WHERE status = 'held';
CREATE INDEX deliveries_dead ON deliveries (dead_at) WHERE status = 'dead';

-- Every attempt, and every change an admin made, per member.
CREATE TABLE delivery_log (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint      NOT NULL REFERENCES deliveries,
    notice_id    text        NOT NULL,
    member_id    text        NOT NULL,
    channel      text        NOT NULL,
    attempt      integer     NOT NULL,
    outcome      text        NOT NULL,  -- delivered, failed, dead, requeued, discarded
    status_code  integer,
    error        text,
    latency_ms   double precision,
    logged_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX delivery_log_by_member ON delivery_log (member_id, id);
