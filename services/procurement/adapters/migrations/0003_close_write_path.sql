-- A cycle close writes one delivery per placed request (100k in one transaction): every index
-- and foreign key on `deliveries` is paid per row. Deliveries are read by order only (the
-- primary key's prefix); the close writes each order with its deliveries, so the foreign key
-- checked nothing the close does not already guarantee.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_order_id_fkey;
DROP INDEX deliveries_by_request;
