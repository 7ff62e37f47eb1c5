-- Orders a critical risk alert cancelled before the supplier confirmed them, and confirmed
-- orders inside such an alert's scope, flagged for ops.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('placed', 'confirmed', 'rejected', 'cancelled'));
ALTER TABLE orders
    ADD COLUMN cancelled_at        timestamptz,
    ADD COLUMN cancellation_reason text,
    ADD COLUMN risk_flagged_at     timestamptz,
    ADD COLUMN risk_flag           text;
CREATE INDEX orders_risk_flagged ON orders (risk_flagged_at) WHERE risk_flagged_at IS NOT NULL;

-- The alert registry: one row per (source, reporter, alert_id); `alert_key` is a hash of those
-- three, the only id that leaves procurement. `trusted` is decided when the alert is raised.
CREATE TABLE risk_alerts (
    alert_key   text        PRIMARY KEY,
    source      text        NOT NULL CHECK (source IN ('ops', 'member', 'supplier')),
    reporter    text        NOT NULL,
    alert_id    text        NOT NULL,
    supplier_id text,
    sku         text,
    region      text,
    kind        text        NOT NULL,
    severity    text        NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    summary     text        NOT NULL,
    valid_until timestamptz,
    trusted     boolean     NOT NULL,
    status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'resolved', 'expired')),
    raised_at   timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    UNIQUE (source, reporter, alert_id),
    CHECK (supplier_id IS NOT NULL OR sku IS NOT NULL OR region IS NOT NULL)
);
CREATE INDEX risk_alerts_active ON risk_alerts (raised_at) WHERE status = 'active';

-- Every change of an alert's state: raised, effective, no_longer_effective, resolved, expired.
CREATE TABLE risk_alert_history (
    id        bigserial   PRIMARY KEY,
    alert_key text        NOT NULL REFERENCES risk_alerts,
    at        timestamptz NOT NULL DEFAULT now(),
    change    text        NOT NULL,
    detail    text
);
CREATE INDEX risk_alert_history_by_alert ON risk_alert_history (alert_key, id);

-- Who was told of an alert when it was raised, so the same members hear of its end.
CREATE TABLE risk_alert_exposure (
    alert_key   text   NOT NULL REFERENCES risk_alerts,
    member_id   text   NOT NULL,
    request_ids text[] NOT NULL,
    PRIMARY KEY (alert_key, member_id)
);

-- The members' ids (from alliance.members.events): a record on risk.alerts keyed by one of
-- them is the members service's to authenticate.
CREATE TABLE known_members (
    member_id text PRIMARY KEY
);
