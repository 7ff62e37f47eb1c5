-- Dispatches and receipts are taken a batch at a time: what a batch reads is found by delivery
-- (a dispatch's array of delivery ids) rather than by scanning every dispatch of an order, which
-- for an order of a large close are thousands. (0007 is the risk buffers'.)
-- fastupdate off: with it, every lookup scans the index's pending list, which inserts only ever
-- grow between vacuums (at 100k dispatches a batch's lookup took 0.5 s instead of 20 ms).
CREATE INDEX dispatches_by_delivery ON dispatches USING gin (delivery_ids) WITH (fastupdate = off);

-- Supplier performance as last computed from the lifecycle (every instance's performance loop
-- recomputes it): decisions read it here instead of reading every delivery of the window.
CREATE TABLE supplier_performance (
    supplier_id        text             NOT NULL,
    category           text             NOT NULL,
    deliveries         integer          NOT NULL,
    on_time_deliveries integer          NOT NULL,
    otif_deliveries    integer          NOT NULL,
    confirmed_units    bigint           NOT NULL,
    accepted_units     bigint           NOT NULL,
    answered_lines     integer          NOT NULL,
    rejected_lines     integer          NOT NULL,
    answer_hours       double precision NOT NULL,
    computed_at        timestamptz      NOT NULL,
    PRIMARY KEY (supplier_id, category)
);
