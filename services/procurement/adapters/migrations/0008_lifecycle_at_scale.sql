-- Dispatches and receipts are taken a batch at a time: what a batch reads is found by delivery
-- (a dispatch's array of delivery ids) rather than by scanning every dispatch of an order, which
-- for an order of a large close are thousands. (0007 is the risk buffers'.)
CREATE INDEX dispatches_by_delivery ON dispatches USING gin (delivery_ids);
