-- A record that travels zstd-compressed: kept compressed in the outbox, sent in a compressed
-- record batch. Only a supplier's XML order document (contract v1.1), several times the bytes
-- of its JSON twin, is; every other record stays uncompressed, as v1's consumers read it.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS compressed boolean NOT NULL DEFAULT false;
