-- After the order (contract v1.1): line answers, what they commit each delivery to, dispatches,
-- goods receipts, the discrepancies reported to suppliers, completions and escalations.
-- Stages (placed → answered → dispatched → received → completed, cancelled) are derived from
-- these rows by domain/fulfilment.py, never stored twice.
ALTER TABLE orders DROP CONSTRAINT orders_status_check;
ALTER TABLE orders ADD CONSTRAINT orders_status_check
    CHECK (status IN ('placed', 'confirmed', 'answered', 'rejected', 'cancelled'));

-- The supplier's answer per line (a v1 confirmation or rejection is stored as every line
-- accepted / rejected): an order is answered once, and a repetition is recognised by it.
CREATE TABLE line_answers (
    order_id          text    NOT NULL REFERENCES orders,
    line_id           text    NOT NULL,
    status            text    NOT NULL CHECK (status IN ('accepted', 'partial', 'rejected')),
    quantity          integer NOT NULL CHECK (quantity >= 0),
    expected_delivery date,
    reason            text,
    position          integer NOT NULL,
    PRIMARY KEY (order_id, line_id)
);

-- What an answer commits its supplier to per delivery: `confirmed` of `ordered` units.
CREATE TABLE commitments (
    order_id          text    NOT NULL REFERENCES orders,
    delivery_id       text    NOT NULL,
    supplier_id       text    NOT NULL,
    line_id           text    NOT NULL,
    sku               text    NOT NULL,
    member_id         text    NOT NULL,
    request_id        text    NOT NULL,
    ordered           integer NOT NULL CHECK (ordered >= 1),
    confirmed         integer NOT NULL CHECK (confirmed >= 0 AND confirmed <= ordered),
    expected_delivery date,
    service           text    NOT NULL,
    position          integer NOT NULL,
    PRIMARY KEY (order_id, delivery_id)
);
CREATE INDEX commitments_by_request ON commitments (member_id, request_id);
CREATE INDEX commitments_due ON commitments (expected_delivery) WHERE confirmed > 0;

-- Despatch advice as taken; a dispatch_id is the supplier's own.
CREATE TABLE dispatches (
    supplier_id      text      NOT NULL,
    dispatch_id      text      NOT NULL,
    order_id         text      NOT NULL REFERENCES orders,
    shipped_on       date      NOT NULL,
    expected_arrival date      NOT NULL,
    carrier          text,
    tracking_id      text,
    delivery_ids     text[]    NOT NULL,
    quantities       integer[] NOT NULL,
    taken_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (supplier_id, dispatch_id)
);
CREATE INDEX dispatches_by_order ON dispatches (order_id);
CREATE INDEX dispatches_by_arrival ON dispatches (expected_arrival);

-- Goods receipts from member ERPs; a receipt_id is the member's own.
CREATE TABLE receipts (
    member_id   text    NOT NULL,
    receipt_id  text    NOT NULL,
    request_id  text    NOT NULL,
    received_on date    NOT NULL,
    accepted    integer NOT NULL CHECK (accepted >= 0),
    rejected    integer NOT NULL CHECK (rejected >= 0),
    reason      text,
    note        text,
    taken_at    timestamptz NOT NULL DEFAULT now(),
    seq         bigserial,
    PRIMARY KEY (member_id, receipt_id)
);
CREATE INDEX receipts_by_request ON receipts (member_id, request_id, seq);

-- Every joint_order.discrepancy sent, by its event id: a report is made once, whoever finds it.
CREATE TABLE discrepancies (
    event_id          text    PRIMARY KEY,
    order_id          text    NOT NULL,
    supplier_id       text    NOT NULL,
    delivery_id       text    NOT NULL,
    member_id         text    NOT NULL,
    request_id        text    NOT NULL,
    quantity_rejected integer NOT NULL,
    quantity_missing  integer NOT NULL,
    reason            text    NOT NULL,
    note              text,
    reported_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX discrepancies_by_request ON discrepancies (member_id, request_id);

-- Requests told purchase_request.completed (once).
CREATE TABLE completions (
    member_id    text    NOT NULL,
    request_id   text    NOT NULL,
    quantity     integer NOT NULL,
    completed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, request_id)
);

-- Deliveries not dispatched by their expected delivery, dispatches not received by their
-- expected arrival plus the grace: for ops, each once; `resolved_at` once it is no longer overdue.
CREATE TABLE delivery_escalations (
    kind         text        NOT NULL CHECK (kind IN ('not_dispatched', 'not_received')),
    order_id     text        NOT NULL,
    subject      text        NOT NULL,
    supplier_id  text        NOT NULL,
    quantity     integer     NOT NULL,
    due_on       date        NOT NULL,
    escalated_at timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    PRIMARY KEY (kind, order_id, subject)
);
CREATE INDEX delivery_escalations_open ON delivery_escalations (escalated_at) WHERE resolved_at IS NULL;
