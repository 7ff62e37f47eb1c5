-- Most records carry no headers: NULL instead of two empty arrays halves what writing and
-- reading an outbox row costs (arrays are the dearest part of COPY and of the relay's SELECT).
ALTER TABLE outbox
    ALTER COLUMN header_names DROP NOT NULL,
    ALTER COLUMN header_names DROP DEFAULT,
    ALTER COLUMN header_values DROP NOT NULL,
    ALTER COLUMN header_values DROP DEFAULT;
