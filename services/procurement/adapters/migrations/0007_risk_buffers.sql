-- Shared risk buffers (docs/risk-buffers.md). A buffer's configuration, subscribers and booked
-- stock; what it has on order is not stored: it is the alliance's deliveries on orders still
-- standing, less what was booked as received from each, so a rejection, a cancellation or a
-- re-sourcing moves it without a write of its own.
CREATE TABLE risk_buffers (
    sku                             text             PRIMARY KEY,
    warehouse                       jsonb            NOT NULL,
    service_level                   double precision NOT NULL CHECK (service_level > 0.5 AND service_level < 0.9999),
    holding_cost_per_unit_and_cycle numeric          NOT NULL CHECK (holding_cost_per_unit_and_cycle >= 0),
    history_cycles                  integer          NOT NULL CHECK (history_cycles >= 2),
    statement_every_cycles          integer          NOT NULL CHECK (statement_every_cycles >= 1),
    on_hand                         integer          NOT NULL DEFAULT 0 CHECK (on_hand >= 0),
    stock_value                     numeric          NOT NULL DEFAULT 0,
    closes_below_half               integer          NOT NULL DEFAULT 0,
    created_at                      timestamptz      NOT NULL DEFAULT now()
);

CREATE TABLE risk_buffer_subscribers (
    sku           text        NOT NULL REFERENCES risk_buffers ON DELETE CASCADE,
    member_id     text        NOT NULL,
    subscribed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sku, member_id)
);

-- Each member's requested quantity of a buffered SKU per cycle: the requests a close saw first.
CREATE TABLE risk_buffer_demand (
    sku       text    NOT NULL,
    cycle_no  bigint  NOT NULL,
    member_id text    NOT NULL,
    quantity  bigint  NOT NULL,
    PRIMARY KEY (sku, member_id, cycle_no)
);
ALTER TABLE purchase_requests ADD COLUMN buffer_cycle_no bigint;

-- The sizing of every close (and the stock on hand it left), so a statement is the sum of the closes of its period and a later
-- subscription change rewrites nothing.
CREATE TABLE risk_buffer_sizings (
    sku              text    NOT NULL,
    cycle_no         bigint  NOT NULL,
    cycle_id         text    NOT NULL,
    lead_time_cycles integer NOT NULL,
    service_factor   numeric NOT NULL,
    safety_stock     numeric NOT NULL,
    target           integer NOT NULL,
    holding_cost     numeric NOT NULL,
    members          jsonb   NOT NULL,
    on_hand          integer NOT NULL,
    PRIMARY KEY (sku, cycle_no)
);

-- A request is drawn for at most once per occasion (a close, or the answer or alert that left
-- its order without a supplier): whatever redelivers the occasion, nothing is served twice.
CREATE TABLE risk_buffer_draws (
    member_id  text        NOT NULL,
    request_id text        NOT NULL,
    occasion   text        NOT NULL,
    sku        text        NOT NULL,
    quantity   integer     NOT NULL CHECK (quantity >= 1),
    unit_price numeric     NOT NULL,
    cycle_no   bigint      NOT NULL,
    drawn_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, request_id, occasion)
);
CREATE INDEX risk_buffer_draws_by_cycle ON risk_buffer_draws (sku, cycle_no);

-- What was booked as received from each lot (`<order_id>/<request_id>`, the alliance's delivery).
CREATE TABLE risk_buffer_lot_receipts (
    sku       text    NOT NULL REFERENCES risk_buffers,
    reference text    NOT NULL,
    quantity  integer NOT NULL CHECK (quantity >= 1),
    PRIMARY KEY (sku, reference)
);

-- What the operator booked as arrived at a warehouse.
CREATE TABLE risk_buffer_receipts (
    receipt_no  bigserial   PRIMARY KEY,
    sku         text        NOT NULL REFERENCES risk_buffers,
    quantity    integer     NOT NULL CHECK (quantity >= 1),
    unit_cost   numeric     NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- The alliance's own deliveries (a buffer's lots), found without reading a close's 100k others.
CREATE INDEX deliveries_of_the_alliance ON deliveries (order_id) WHERE member_id = 'alliance';
