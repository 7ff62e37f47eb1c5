-- A close writes ~100k deliveries; a three-column text primary key cost a third of that COPY.
-- Deliveries are read by order only, so an index on order_id serves every read. A request is
-- placed once per decision round by construction (each decision places it whole or not at
-- all), which the close's tests check end to end.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_pkey;
CREATE INDEX deliveries_by_order ON deliveries (order_id);
