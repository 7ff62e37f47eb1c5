-- Suppliers and what they offer; the response secret rotates with a grace period.
CREATE TABLE suppliers (
    supplier_id                 text PRIMARY KEY,
    name                        text        NOT NULL,
    regions                     text[]      NOT NULL,
    lead_time_days              integer     NOT NULL CHECK (lead_time_days >= 0),
    secret                      text        NOT NULL,
    previous_secret             text,
    previous_secret_valid_until timestamptz,
    updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE catalog_items (
    supplier_id         text      NOT NULL REFERENCES suppliers ON DELETE CASCADE,
    sku                 text      NOT NULL,
    name                text      NOT NULL,
    category            text      NOT NULL,
    unit                text      NOT NULL,
    capacity_per_cycle  integer   NOT NULL CHECK (capacity_per_cycle >= 1),
    min_order_quantity  integer   NOT NULL CHECK (min_order_quantity >= 1),
    tier_min_quantities integer[] NOT NULL,
    tier_unit_prices    numeric[] NOT NULL,
    PRIMARY KEY (supplier_id, sku)
);
CREATE INDEX catalog_items_by_sku ON catalog_items (sku);

-- Every admitted request; `open` ones are the demand the next cycle close decides. Which order
-- a request is on lives in `deliveries` (one row per placement, re-sourcing included).
CREATE TABLE purchase_requests (
    member_id          text        NOT NULL,
    request_id         text        NOT NULL,
    sku                text        NOT NULL,
    quantity           integer     NOT NULL CHECK (quantity >= 1),
    needed_by          date        NOT NULL,
    max_unit_price     numeric,
    ship_to            jsonb,
    country            text        NOT NULL,
    status             text        NOT NULL DEFAULT 'open'
        CHECK (status IN ('open', 'ordered', 'confirmed', 'withdrawn', 'unfulfillable')),
    excluded_suppliers text[]      NOT NULL DEFAULT '{}',
    status_reason      text,
    admitted_at        timestamptz NOT NULL DEFAULT now(),
    decided_at         timestamptz,
    PRIMARY KEY (member_id, request_id)
);
CREATE INDEX purchase_requests_open ON purchase_requests (sku) WHERE status = 'open';

-- One row per close; a scheduled close owns its schedule slot, so N instances close it once.
CREATE TABLE cycles (
    cycle_no            bigserial PRIMARY KEY,
    cycle_id            text             NOT NULL UNIQUE,
    trigger             text             NOT NULL CHECK (trigger IN ('schedule', 'admin')),
    schedule_slot       bigint           UNIQUE,
    order_date          date             NOT NULL,
    closed_at           timestamptz      NOT NULL DEFAULT now(),
    requests_considered integer          NOT NULL,
    requests_placed     integer          NOT NULL,
    quantity_placed     bigint           NOT NULL,
    orders              integer          NOT NULL,
    unfulfillable       integer          NOT NULL,
    solve_seconds       double precision NOT NULL
);

CREATE SEQUENCE order_numbers;

CREATE TABLE orders (
    order_id          text        PRIMARY KEY,
    supplier_id       text        NOT NULL,
    cycle_id          text        NOT NULL,
    status            text        NOT NULL DEFAULT 'placed'
        CHECK (status IN ('placed', 'confirmed', 'rejected')),
    total             numeric     NOT NULL,
    quantity          bigint      NOT NULL,
    replaces_order_id text,
    placed_at         timestamptz NOT NULL DEFAULT now(),
    answered_at       timestamptz,
    expected_delivery date,
    rejection_reason  text,
    escalated_at      timestamptz
);
CREATE INDEX orders_awaiting_answer ON orders (placed_at) WHERE status = 'placed';
CREATE INDEX orders_by_cycle ON orders (cycle_id, supplier_id);

CREATE TABLE order_lines (
    order_id   text    NOT NULL REFERENCES orders,
    line_id    text    NOT NULL,
    sku        text    NOT NULL,
    quantity   integer NOT NULL CHECK (quantity >= 1),
    unit_price numeric NOT NULL,
    PRIMARY KEY (order_id, line_id)
);

-- A request's delivery on an order line: where each placed request went, at what price.
CREATE TABLE deliveries (
    order_id              text    NOT NULL REFERENCES orders,
    line_id               text    NOT NULL,
    member_id             text    NOT NULL,
    request_id            text    NOT NULL,
    quantity              integer NOT NULL,
    unit_price            numeric NOT NULL,
    standalone_unit_price numeric,
    PRIMARY KEY (order_id, member_id, request_id)
);
CREATE INDEX deliveries_by_request ON deliveries (member_id, request_id);
